package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/web"
)

// imageMemoryBound is the peak resident memory (VmHWM) a server may reach
// while 50 customers submit at once, each with the largest selfie the
// upload checks accept. What bounds it: the face models (~160 MiB), the
// decision image budget (ekyc.DefaultDecodeBudget, 256 MiB of decoded
// pixels and engine working sets at once), the encoded frames in flight
// and the Go heap's headroom (GOGC=100). Before the budget, decoding
// happened outside the face engine's worker slot: 4 concurrent submits of
// the review's 4096x4096 16-bit PNG peaked at 2 GiB. docs/benchmarks.md
// has the measured figures.
const imageMemoryBound = 1 << 30

// worstSelfie is the most expensive selfie AddFrame accepts: a 4096x4096
// 8-bit grey PNG (80 MiB decoded with its RGBA copy, under
// ekyc.MaxDecodedImageBytes), ~20 KB on the wire. Each session's copy
// carries its own tEXt chunk so that no two frames are the same bytes.
func worstSelfie(t *testing.T, n int) []byte {
	t.Helper()
	worstOnce.Do(func() {
		var b bytes.Buffer
		if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, image.NewGray(image.Rect(0, 0, 4096, 4096))); err != nil {
			panic(err)
		}
		worstPNG = b.Bytes()
	})
	iend := len(worstPNG) - 12
	text := []byte("Comment\x00session " + strconv.Itoa(n))
	chunk := binary.BigEndian.AppendUint32(nil, uint32(len(text)))
	chunk = append(append(chunk, "tEXt"...), text...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(append([]byte("tEXt"), text...)))
	return append(append(append([]byte{}, worstPNG[:iend]...), chunk...), worstPNG[iend:]...)
}

var (
	worstOnce sync.Once
	worstPNG  []byte
)

// peakRSS reads a process's peak resident set size (Linux VmHWM).
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

// TestImageMemoryBounded starts a real server with the real face engine,
// opens 50 ヘ sessions, refuses the review's 16-bit attack image at upload,
// uploads the worst accepted selfie to each, submits all 50 at once and
// waits until every one is decided. The server's peak RSS must stay under
// imageMemoryBound. Memory, not time, is asserted.
func TestImageMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("50 sessions through the real face engine")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/PID/status")
	}
	modelDir := e2eModels(t)
	dir := t.TempDir()
	// One detection pass per image: the memory bound is the decoding's (the
	// zoom-out canvases are of a copy halved to ≤ 1024 px), and three passes
	// would triple the test's time, not its peak.
	srv := startServer(t, dir, "--models", modelDir, "--rate-limit", "2000", "--rate-burst", "4000", "--log-level", "info", "--face-zoom-out", "off")
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Memory Bank", web.ScopeEKYCSessions, web.ScopeEKYCDevice)
	svc, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetPolicy(context.Background(), ekyc.System, c.tenantID, ekyc.ExamplePolicy(0.5)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	chipDir := filepath.Join(t.TempDir(), "chip")
	if code, out, errs := runCLI(t, "dev", "chip", "--kind", "jpdl", "--photo", e2eChipPhoto, "--name", "見本 花子",
		"--birthdate", "1990-01-02", "--data", dir, "--out", chipDir); code != 0 {
		t.Fatalf("dev chip = exit %d\n%s%s", code, out, errs)
	}
	_, files, _, err := readChipDir(chipDir, "jpdl")
	if err != nil {
		t.Fatal(err)
	}
	chipJSON := map[string]string{}
	for n, b := range files {
		chipJSON[n] = base64.StdEncoding.EncodeToString(b)
	}

	attack, err := os.ReadFile("../../face/imageio/testdata/zeros-4096x4096-rgba16.png") // 4096x4096 16-bit, all zero
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	t0 := time.Now()
	type started struct{ id, key string }
	sessions := make([]started, n)
	for i := range n {
		var s struct {
			ID         string `json:"id"`
			CaptureURL string `json:"capture_url"`
		}
		if err := c.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "he", "reference": fmt.Sprint("mem-", i)}, &s); err != nil {
			t.Fatalf("create session: %v", err)
		}
		if err := c.call(ctx, "POST", "/v1/ekyc/sessions/"+s.ID+"/chip", map[string]any{"kind": "jpdl", "files": chipJSON}, nil); err != nil {
			t.Fatalf("chip: %v", err)
		}
		_, tok, _ := strings.Cut(s.CaptureURL, "#t=")
		var st struct {
			SessionID string `json:"session_id"`
			Key       string `json:"capture_key"`
			Nonce     string `json:"frame_nonce"`
		}
		if err := c.capture(ctx, "start", "Capture "+tok, nil, &st); err != nil {
			t.Fatalf("capture start: %v", err)
		}
		key, _ := base64.RawURLEncoding.DecodeString(st.Key)
		frame := func(img []byte) error {
			f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: 1, Nonce: st.Nonce, CapturedAt: time.Now().UTC().Truncate(time.Millisecond),
				Source: ekyc.SourceCamera, Image: img}
			f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(key, st.SessionID, &f))
			return c.capture(ctx, "frames", "Capture-Key "+st.Key, map[string]any{"kind": f.Kind, "seq": 1, "nonce": f.Nonce,
				"captured_at": f.CapturedAt.UnixMilli(), "source": f.Source, "image": base64.StdEncoding.EncodeToString(img), "mac": f.MAC}, nil)
		}
		var ae *apiError
		if err := frame(attack); !errors.As(err, &ae) || ae.Status != 413 {
			t.Fatalf("the 4096x4096 16-bit PNG = %v, want 413 at upload", err)
		}
		if err := frame(worstSelfie(t, i)); err != nil {
			t.Fatalf("worst accepted selfie: %v", err)
		}
		sessions[i] = started{st.SessionID, st.Key}
	}
	t1 := time.Now()
	base, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, s := range sessions {
		wg.Go(func() { errs[i] = c.capture(ctx, "submit", "Capture-Key "+s.key, nil, nil) })
	}
	wg.Wait()
	t2 := time.Now()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("submit %d: %v", i, err)
		}
	}
	decided := 0
	for deadline := time.Now().Add(6 * time.Minute); decided < n && time.Now().Before(deadline); {
		decided = 0
		for _, s := range sessions {
			var out struct{ State string }
			if err := c.call(ctx, "GET", "/v1/ekyc/sessions/"+s.id, nil, &out); err != nil {
				t.Fatal(err)
			}
			if out.State == string(ekyc.StateDecided) {
				decided++
			}
		}
		if decided < n {
			time.Sleep(2 * time.Second)
		}
	}
	peak, err := peakRSS(srv.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("50 concurrent worst-case submits: %d decided; server peak RSS %d MiB (%d MiB before the submits), bound %d MiB; uploads %s, submits %s, decisions done %s later",
		decided, peak>>20, base>>20, imageMemoryBound>>20, t1.Sub(t0).Round(time.Second), t2.Sub(t1).Round(time.Second), time.Since(t2).Round(time.Second))
	if decided < n {
		t.Fatalf("%d of %d sessions decided\nserver log tail:\n%s", decided, n, tail(srv.logText(), 3000))
	}
	if peak > imageMemoryBound {
		t.Errorf("server peak RSS %d MiB, over the %d MiB bound", peak>>20, imageMemoryBound>>20)
	}
}

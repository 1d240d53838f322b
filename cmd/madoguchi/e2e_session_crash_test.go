package main

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
)

// TestSessionSurvivesSIGKILL kills the server (SIGKILL) in the middle of a ヘ
// session — after the chip read and the first selfie frames — restarts it,
// and finishes the same session with the same capture key: it is decided,
// the audit log verifies, and every stored frame and chip file opens.
func TestSessionSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("a full session with the face engine and server restarts")
	}
	ctx := context.Background()
	models := e2eModels(t)
	dir := t.TempDir()
	srv := startServer(t, dir, "--models", models, "--rate-limit", "0")

	img := filepath.Join("..", "..", "face", "testdata", "golden", "images")
	chipDir := filepath.Join(t.TempDir(), "chip")
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	if err := devChip(ctx, e, []string{"--data", dir, "--kind", "jpdl", "--photo", filepath.Join(img, "astronaut_face_250.png"),
		"--name", "再開太郎", "--birthdate", "1988-08-08", "--out", chipDir}); err != nil {
		t.Fatal(err)
	}
	kind, files, _, err := readChipDir(chipDir, document.Kind(""))
	if err != nil {
		t.Fatal(err)
	}
	id, key, _, err := devKiosk(ctx, dataFlags{data: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadAPIClient(srv.url(), "", id, key)
	if err != nil {
		t.Fatal(err)
	}

	var s struct {
		ID         string         `json:"id"`
		State      string         `json:"state"`
		CaptureURL string         `json:"capture_url"`
		Decision   *ekyc.Decision `json:"decision"`
	}
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "he", "reference": "crash", "locale": "ja"}, &s); err != nil {
		t.Fatal(err)
	}
	enc := map[string]string{}
	for n, b := range files {
		enc[n] = base64.StdEncoding.EncodeToString(b)
	}
	if err := c.call(ctx, "POST", "/v1/ekyc/sessions/"+s.ID+"/chip", map[string]any{"kind": kind, "files": enc}, nil); err != nil {
		t.Fatal(err)
	}
	_, token, _ := strings.Cut(s.CaptureURL, "#t=")
	var start struct {
		SessionID  string `json:"session_id"`
		Key        string `json:"capture_key"`
		FrameNonce string `json:"frame_nonce"`
	}
	if err := c.capture(ctx, "start", "Capture "+token, nil, &start); err != nil {
		t.Fatal(err)
	}
	mac, err := base64.RawURLEncoding.DecodeString(start.Key)
	if err != nil {
		t.Fatal(err)
	}
	nonce := start.FrameNonce
	send := func(seq int, name string) error {
		b, err := os.ReadFile(filepath.Join(img, name))
		if err != nil {
			t.Fatal(err)
		}
		f := ekyc.Frame{Kind: ekyc.FrameSelfie, Seq: seq, Nonce: nonce, CapturedAt: time.Now().UTC().Truncate(time.Millisecond),
			Source: ekyc.SourceCamera, Image: b}
		f.MAC = base64.RawURLEncoding.EncodeToString(ekyc.FrameMAC(mac, start.SessionID, &f))
		var next struct {
			NextNonce string `json:"next_nonce"`
		}
		err = c.capture(ctx, "frames", "Capture-Key "+start.Key, map[string]any{
			"kind": f.Kind, "seq": f.Seq, "nonce": f.Nonce, "captured_at": f.CapturedAt.UnixMilli(), "source": f.Source,
			"image": base64.StdEncoding.EncodeToString(b), "mac": f.MAC}, &next)
		if err == nil {
			nonce = next.NextNonce
		}
		return err
	}
	if err := send(1, "astronaut_face_250.png"); err != nil {
		t.Fatal(err)
	}
	if err := send(2, "astronaut_512.png"); err != nil {
		t.Fatal(err)
	}

	srv.kill() // SIGKILL mid-session
	srv2 := startServer(t, dir, "--models", models, "--rate-limit", "0", "--public-url", srv.url())
	c.base = srv2.url()

	if err := send(3, "astronaut_gray_250.png"); err != nil {
		t.Fatalf("frame after restart: %v", err)
	}
	if err := c.capture(ctx, "submit", "Capture-Key "+start.Key, nil, nil); err != nil {
		t.Fatalf("submit after restart: %v", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for s.Decision == nil && time.Now().Before(deadline) {
		if err := c.call(ctx, "GET", "/v1/ekyc/sessions/"+s.ID, nil, &s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s.Decision == nil {
		t.Fatalf("session not decided after the restart (state %s)", s.State)
	}
	if code := srv2.stop(t); code != 0 {
		t.Errorf("exit = %d", code)
	}

	a := testApp(t, dir)
	if _, err := audit.VerifyStore(ctx, a.db, a.audit.VerifierKey()); err != nil {
		t.Errorf("audit log after SIGKILL mid-session: %v", err)
	}
	rows, err := a.db.Query(ctx, `SELECT hash FROM blob_refs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			t.Fatal(err)
		}
		ref, err := blob.ParseRef("sha256:" + h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.blobs.Get(ctx, ref); err != nil {
			t.Errorf("a record points at a missing or corrupt blob %s: %v", h[:12], err)
		}
		n++
	}
	if n < 4 {
		t.Errorf("%d blob references, want the chip files and three frames", n)
	}
}

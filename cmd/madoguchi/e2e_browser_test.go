package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/draw"
	_ "image/png"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/internal/testsuite"
	"github.com/madoguchi/madoguchi/web"
)

// The browser end-to-end test drives the real capture page in Debian's
// headless Chromium (playwright-core, e2e/browser/capture.mjs) against a
// real server process with the real face engine. The fake camera plays a
// video made of a real photograph (face/testdata: NASA portrait, public
// domain) with per-frame sensor noise: a still face held to the camera.
// That is exactly what an active liveness challenge must refuse, so the
// test asserts the server's decision and its liveness reason, for ホ and
// for ヘ (chip files minted by `madoguchi dev chip`, posted as a kiosk).
//
// Skipped under -short. Under CI=true a missing chromium, node_modules or
// face models is a failure, not a skip. MADOGUCHI_E2E_SHOTS=DIR keeps the
// screenshots (otherwise they go to a temporary directory).

const (
	chromiumPath   = "/usr/bin/chromium"
	browserDir     = "../../e2e/browser"
	e2eFaceImage   = "../../face/testdata/golden/images/astronaut_512.png"
	e2eChipPhoto   = "../../face/imageio/jpeg2000/testdata/portrait_97.jp2" // crop of the same portrait, JPEG 2000
	videoW, videoH = 480, 360
	videoFPS       = 5
	videoFrames    = 150 // 30 s before the loop repeats a frame
)

// unavailableInCI skips, or fails under CI=true.
func unavailableInCI(t *testing.T, format string, args ...any) {
	t.Helper()
	testsuite.Unavailable(t, "browser", format, args...)
}

func requireBrowser(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("drives headless Chromium against server processes")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		unavailableInCI(t, "no %s (apt-get install chromium chromium-driver): %v", chromiumPath, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailableInCI(t, "no node: %v", err)
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core")); err != nil {
		unavailableInCI(t, "no playwright-core (run npm ci in e2e/browser): %v", err)
	}
	// axe-core comes with playwright-core (one package-lock); the page
	// tests check accessibility with it.
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "axe-core")); err != nil {
		unavailableInCI(t, "no axe-core (run npm ci in e2e/browser): %v", err)
	}
}

// e2eModels returns a verified face model folder for the server.
func e2eModels(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("MADOGUCHI_MODELS")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			unavailableInCI(t, "no user cache dir: %v", err)
		}
		dir = filepath.Join(cache, "madoguchi", "models")
	}
	if err := models.Verify(dir, models.Pinned()); err != nil {
		unavailableInCI(t, "face models in %s do not verify (madoguchi models install --dir %s): %v", dir, dir, err)
	}
	return dir
}

// writeY4M writes a YUV4MPEG2 (4:2:0) video of n frames at videoFPS: img
// letterboxed into videoW x videoH, each frame with its own deterministic
// sensor-like noise so that no two frames encode to the same JPEG.
func writeY4M(t *testing.T, path string, img image.Image, n int) {
	t.Helper()
	canvas := image.NewRGBA(image.Rect(0, 0, videoW, videoH))
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(image.Black), image.Point{}, draw.Src)
	// Nearest-neighbour scale to the frame height, centred.
	b := img.Bounds()
	side := videoH
	w := b.Dx() * side / b.Dy()
	x0 := (videoW - w) / 2
	for y := 0; y < side; y++ {
		for x := 0; x < w; x++ {
			canvas.Set(x0+x, y, img.At(b.Min.X+x*b.Dx()/w, b.Min.Y+y*b.Dy()/side))
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", videoW, videoH, videoFPS)
	ys := make([]byte, videoW*videoH)
	us := make([]byte, videoW*videoH/4)
	vs := make([]byte, videoW*videoH/4)
	clamp := func(v float64) byte { return byte(min(max(v+0.5, 0), 255)) }
	for f := 0; f < n; f++ {
		rng := rand.New(rand.NewPCG(uint64(f), 7))
		for y := 0; y < videoH; y++ {
			for x := 0; x < videoW; x++ {
				o := canvas.PixOffset(x, y)
				r, g, bl := float64(canvas.Pix[o]), float64(canvas.Pix[o+1]), float64(canvas.Pix[o+2])
				ys[y*videoW+x] = clamp(0.299*r + 0.587*g + 0.114*bl + float64(rng.IntN(7)-3))
			}
		}
		for y := 0; y < videoH/2; y++ {
			for x := 0; x < videoW/2; x++ {
				o := canvas.PixOffset(2*x, 2*y)
				r, g, bl := float64(canvas.Pix[o]), float64(canvas.Pix[o+1]), float64(canvas.Pix[o+2])
				us[y*videoW/2+x] = clamp(128 - 0.168736*r - 0.331264*g + 0.5*bl)
				vs[y*videoW/2+x] = clamp(128 + 0.5*r - 0.418688*g - 0.081312*bl)
			}
		}
		buf.WriteString("FRAME\n")
		buf.Write(ys)
		buf.Write(us)
		buf.Write(vs)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readImage(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

// browserEnv is one server with a tenant whose kiosk client can create
// sessions, post chip reads and read results.
type browserEnv struct {
	srv    *serverProc
	client testClient
	video  string
	shots  string
	data   string // the server's data directory
}

func newBrowserEnv(t *testing.T) *browserEnv { return newBrowserEnvJPKI(t, false) }

// newBrowserEnvJPKI is newBrowserEnv with, if jpki, a development test My
// Number card ('dev jpki init') whose roots the server trusts, so that
// method ワ is offered.
func newBrowserEnvJPKI(t *testing.T, jpki bool) *browserEnv {
	t.Helper()
	requireBrowser(t)
	modelDir := e2eModels(t)
	dir := t.TempDir()
	if jpki {
		a, err := openApp(context.Background(), modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		if err := runDev(context.Background(), e, []string{"jpki", "init", "--data", dir, "--name", "見本　花子", "--birthdate", "1990-01-02",
			"--sex", "female", "--address", "東京都千代田区千代田１－１"}); err != nil {
			t.Fatalf("dev jpki init = %v (%s)", err, errb.String())
		}
	}
	srv := startServer(t, dir, "--models", modelDir)
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Browser Bank", web.ScopeEKYCSessions, web.ScopeEKYCDevice, web.ScopeEKYCResults)
	svc, err := a.newEKYC(srv.url())
	if err != nil {
		t.Fatal(err)
	}
	p := ekyc.ExamplePolicy(0.5)
	p.Methods = []string{"he", "ho"}
	if jpki {
		p.Methods = append(p.Methods, "wa")
	}
	p.OfferHoAfterAmendment = true // the test must not stop working on 2027-04-01
	if _, err := svc.SetPolicy(context.Background(), ekyc.System, c.tenantID, p); err != nil {
		t.Fatalf("SetPolicy: %v", err)
	}
	video := filepath.Join(t.TempDir(), "face.y4m")
	writeY4M(t, video, readImage(t, e2eFaceImage), videoFrames)
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	return &browserEnv{srv: srv, client: c, video: video, shots: shots, data: dir}
}

type sessionOut struct {
	ID         string         `json:"id"`
	State      string         `json:"state"`
	Outcome    string         `json:"outcome"`
	CaptureURL string         `json:"capture_url"`
	Decision   *ekyc.Decision `json:"decision"`
}

// chipFiles mints a licence with 'madoguchi dev chip' under the server's
// development test issuer; its chip photo is the e2e portrait (JPEG 2000).
func (b *browserEnv) chipFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "chip")
	if code, out, errs := runCLI(t, "dev", "chip", "--kind", "jpdl", "--photo", e2eChipPhoto, "--name", "見本 花子",
		"--birthdate", "1990-01-02", "--data", b.data, "--out", dir); code != 0 {
		t.Fatalf("dev chip = exit %d\n%s%s", code, out, errs)
	}
	_, files, _, err := readChipDir(dir, "jpdl")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for name, data := range files {
		out[name] = base64.StdEncoding.EncodeToString(data)
	}
	return out
}

// pageEvent is one line of capture.mjs's output.
type pageEvent struct {
	Event, Step, File    string
	Link, Session        string // ワ hand-off
	At                   string // ワ: when the page says its hand-off link was used
	Outcome, Title, Body string // the result screen
	Progress             progressView
}

// progressView is the capture page's progress bar as capture.mjs reads it:
// the label under it and each step's class and computed background.
type progressView struct {
	Label string
	Steps []struct{ Class, Colour, Image string }
}

// okColour is the capture page's success colour (--ok).
const okColour = "rgb(30, 125, 50)"

// progressLabels is what the bar's label says at each end of the page
// (Japanese, English).
var progressLabels = map[string][]string{
	"approved":  {"完了しました", "Complete"},
	"cancelled": {"中止しました", "Cancelled"},
	"rejected":  {"確認できませんでした", "Not verified"},
	"waiting":   {"確認中です", "Being checked"},
	"error":     {"中断しました", "Stopped"},
}

// progressEnd is how the bar ends for a result screen's outcome: an
// approval, a cancellation or a rejection by name, anything else still
// with the server.
func progressEnd(outcome string) string {
	switch outcome {
	case "approved", "cancelled", "rejected":
		return outcome
	}
	return "waiting"
}

// checkProgress: the progress bar says how the page ended, in text (its
// label) and not by colour alone; the success colour is an approval's
// only. An error marks the step it stopped at (the steps before it were
// done).
func checkProgress(t *testing.T, where string, p progressView, end string) {
	t.Helper()
	if !slices.Contains(progressLabels[end], p.Label) {
		t.Errorf("%s: the progress bar says %q, want one of %q", where, p.Label, progressLabels[end])
	}
	if len(p.Steps) == 0 {
		t.Errorf("%s: no steps in the progress bar", where)
	}
	stopped := 0
	for i, s := range p.Steps {
		green := s.Colour == okColour
		switch {
		case end == "approved":
			if s.Class != "done" || !green {
				t.Errorf("%s: step %d is %q %s, want done in the success colour", where, i, s.Class, s.Colour)
			}
		case end == "error":
			if s.Class == "error" {
				stopped++
			} else if s.Class != "done" {
				t.Errorf("%s: step %d is %q, want done or error", where, i, s.Class)
			}
		case s.Class != end || green || !strings.Contains(s.Image, "repeating-linear-gradient"):
			t.Errorf("%s: step %d is %q %s %s, want %s, striped, not the success colour", where, i, s.Class, s.Colour, s.Image, end)
		}
	}
	if end == "error" && stopped != 1 {
		t.Errorf("%s: %d steps marked error, want the one the page stopped at", where, stopped)
	}
}

// drive runs capture.mjs on the session's capture URL; onEvent is called
// for each event (steps, the ワ hand-off). It returns the result screen's
// event.
func (b *browserEnv) drive(t *testing.T, ctx context.Context, opts map[string]any, onEvent func(ev pageEvent)) pageEvent {
	t.Helper()
	opts["video"], opts["shots"] = b.video, b.shots
	arg, _ := json.Marshal(opts)
	cmd := exec.CommandContext(ctx, "node", "capture.mjs", string(arg))
	cmd.Dir = browserDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		events []string
		done   pageEvent
	)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev pageEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		events = append(events, ev.Event+":"+ev.Step)
		if ev.Event == "done" {
			done = ev
		}
		if onEvent != nil {
			onEvent(ev)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("capture.mjs: %v\nevents: %v\nstderr:\n%s\nserver log tail:\n%s", err, events, stderr.String(), tail(b.srv.logText(), 3000))
	}
	wants := []string{"done:", "refused:reused", "refused:no-token", "finished:"}
	if opts["cancelOnUse"] == true {
		wants = []string{"cancelled:", "phone-stopped:", "finished:"}
	}
	for _, want := range wants {
		if !slices.Contains(events, want) {
			t.Fatalf("capture.mjs events %v, want %s (result screen; a reused or token-less link refused; or a cancellation)", events, want)
		}
	}
	t.Logf("browser events: %v; result screen %q %q (screenshots in %s)", events, done.Title, done.Body, b.shots)
	return done
}

// checkPageResult: the result screen shows the outcome the server recorded
// and, unless the session was approved, no success message.
func checkPageResult(t *testing.T, page pageEvent, server sessionOut) {
	t.Helper()
	want := server.Outcome
	if server.State != string(ekyc.StateDecided) {
		want = "received"
	}
	if page.Outcome != want {
		t.Errorf("the page shows outcome %q, the server recorded %s/%s", page.Outcome, server.State, server.Outcome)
	}
	checkProgress(t, "result screen", page.Progress, progressEnd(page.Outcome))
	if server.Outcome != string(ekyc.OutcomeApproved) {
		text := page.Title + " " + page.Body
		for _, success := range []string{"完了しました", "送信が完了", "All sent", "is verified", "ありがとうございました"} {
			if strings.Contains(text, success) {
				t.Errorf("the page says %q for a session the server recorded as %s/%s", text, server.State, server.Outcome)
			}
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// decided polls the session until it is decided.
func (b *browserEnv) decided(t *testing.T, ctx context.Context, id string) sessionOut {
	t.Helper()
	var s sessionOut
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if err := b.client.call(ctx, "GET", "/v1/ekyc/sessions/"+id, nil, &s); err != nil {
			t.Fatalf("get session: %v", err)
		}
		if s.State == string(ekyc.StateDecided) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if s.State != string(ekyc.StateDecided) || s.Decision == nil {
		t.Fatalf("session state = %q, want decided\nserver log tail:\n%s", s.State, tail(b.srv.logText(), 3000))
	}
	return s
}

// checkStillImageDecision asserts what a still face must get: not
// approved, with a liveness reason, decided by the real face engine from
// frames in which it found a face.
func checkStillImageDecision(t *testing.T, s sessionOut) {
	t.Helper()
	d := s.Decision
	codes := d.ReasonCodes()
	t.Logf("decision: outcome=%s reasons=%v scores=%v liveness=%+v", d.Outcome, codes, d.Scores, d.Liveness)
	if d.Outcome == ekyc.OutcomeApproved || (d.Outcome != ekyc.OutcomeRejected && d.Outcome != ekyc.OutcomeReview) {
		t.Errorf("outcome = %q, want rejected or review: a still image cannot pass an active liveness challenge", d.Outcome)
	}
	if !slices.Contains(codes, ekyc.ReasonStaticFrames) && !slices.Contains(codes, ekyc.ReasonChallengeFailed) {
		t.Errorf("reasons = %v, want %s or %s", codes, ekyc.ReasonStaticFrames, ekyc.ReasonChallengeFailed)
	}
	for _, bad := range []string{ekyc.ReasonNoFaceSelfie, ekyc.ReasonTooFewSelfies, ekyc.ReasonEngineFailed} {
		if slices.Contains(codes, bad) {
			t.Errorf("reasons = %v, include %s: the page's frames of a real face should all be analysed", codes, bad)
		}
	}
	if d.Liveness == nil || len(d.Liveness.Yaws) < 4 {
		t.Errorf("liveness = %+v, want measurements from at least 4 selfie frames", d.Liveness)
	}
	if len(d.Challenge) == 0 {
		t.Error("decision carries no challenge")
	}
	if m := d.Models["face"]; m == "" || m == "unloaded" {
		t.Errorf("face model = %q, want the loaded engine's version", m)
	}
	if _, ok := d.Scores["liveness"]; !ok {
		t.Errorf("scores = %v, want a passive liveness (PAD) score", d.Scores)
	}
	if _, ok := d.Scores["face_match"]; !ok {
		t.Errorf("scores = %v, want a face_match score against the reference portrait", d.Scores)
	}
}

func TestBrowserCaptureHo(t *testing.T) {
	b := newBrowserEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var s sessionOut
	if err := b.client.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "ho", "reference": "browser-ho", "locale": "en"}, &s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	// A phone; the session's locale is English, the customer switches to Japanese.
	page := b.drive(t, ctx, map[string]any{"url": s.CaptureURL, "method": "ho", "device": "phone", "switchLang": "ja"}, nil)
	got := b.decided(t, ctx, s.ID)
	checkStillImageDecision(t, got)
	checkPageResult(t, page, got)
	if codes := got.Decision.ReasonCodes(); !slices.Contains(codes, ekyc.ReasonDocumentImages) {
		t.Errorf("reasons = %v, want %s (ホ document images go to a reviewer)", codes, ekyc.ReasonDocumentImages)
	}
	// The capture link was single-use: the page redeemed it.
	_, tok, _ := strings.Cut(s.CaptureURL, "#t=")
	req, _ := http.NewRequestWithContext(ctx, "POST", b.srv.url()+"/v1/ekyc/capture/start", nil)
	req.Header.Set("Authorization", "Capture "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("redeeming the capture link again = %d, want 401", resp.StatusCode)
	}
}

func TestBrowserCaptureHe(t *testing.T) {
	b := newBrowserEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var s sessionOut
	if err := b.client.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "he", "reference": "browser-he", "locale": "ja"}, &s); err != nil {
		t.Fatalf("create session: %v", err)
	}
	// The kiosk's reader posts the chip only once the page is submitting,
	// so the page's "waiting for the chip read" path runs: its first
	// submit is refused as incomplete and it retries.
	var chipErr error
	chipped := false
	page := b.drive(t, ctx, map[string]any{"url": s.CaptureURL, "method": "he", "device": "kiosk"}, func(ev pageEvent) {
		if ev.Event != "step" || ev.Step != "send" || chipped {
			return
		}
		chipped = true
		time.Sleep(500 * time.Millisecond)
		var sum struct {
			Verified bool     `json:"verified"`
			Failed   []string `json:"failed_checks"`
		}
		chipErr = b.client.call(ctx, "POST", "/v1/ekyc/sessions/"+s.ID+"/chip", map[string]any{"kind": "jpdl", "files": b.chipFiles(t)}, &sum)
		if chipErr == nil && !sum.Verified {
			chipErr = fmt.Errorf("chip not verified: %v", sum.Failed)
		}
	})
	if !chipped || chipErr != nil {
		t.Fatalf("kiosk chip post (page reached send: %v): %v", chipped, chipErr)
	}
	got := b.decided(t, ctx, s.ID)
	checkStillImageDecision(t, got)
	checkPageResult(t, page, got)
	for _, bad := range []string{ekyc.ReasonChipMissing, ekyc.ReasonChipInvalid, ekyc.ReasonNoFaceReference} {
		if codes := got.Decision.ReasonCodes(); slices.Contains(codes, bad) {
			t.Errorf("reasons = %v, include %s: the chip was valid and its photo shows a face", codes, bad)
		}
	}
	// A second use of the capture link is refused.
	var ae *apiError
	err := b.client.call(ctx, "POST", "/v1/ekyc/sessions/"+s.ID+"/chip", map[string]any{"kind": "jpdl", "files": b.chipFiles(t)}, nil)
	if !errors.As(err, &ae) || ae.Status != 409 {
		t.Errorf("second chip post after the decision = %v, want 409", err)
	}
}

// TestBrowserCaptureWa drives a ワ session in the real page: the page shows
// the hand-off (the server's QR code and one-time link for the JPKI app,
// the reference for the kiosk) and no raw message key; the link carries a
// hand-off token, never the capture key.
//
//   - app: the test redeems the link's token as the JPKI app would, signs
//     with the development test card through the capture API with the key
//     it got, and the page shows what the server recorded; the token does
//     not redeem twice.
//   - phone: the link is opened in a second page (the customer's phone),
//     which redeems it and follows the session; the token then no longer
//     redeems, the kiosk signs over the wrong challenge through the device
//     API, and both pages show the rejection, no success.
//   - cancel: the link is opened in a second page; the first page, told
//     its link was used, cancels the session: the server records the
//     cancellation by the customer and the second page can no longer go
//     on.
func TestBrowserCaptureWa(t *testing.T) {
	b := newBrowserEnvJPKI(t, true)
	card, err := loadDevJPKI(b.data)
	if err != nil {
		t.Fatal(err)
	}
	app := &jpkiSigner{card: card, form: "raw"}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name    string
		phone   bool // a second page redeems the link; the kiosk signs
		wrong   bool // sign the link challenge as if it were the signing one
		outcome ekyc.Outcome
		cancel  bool // the first page cancels once its link was used
	}{
		{"app", false, false, ekyc.OutcomeApproved, false},
		{"phone", true, true, ekyc.OutcomeRejected, false},
		{"cancel", true, false, ekyc.OutcomeNone, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sessionOut
			created := time.Now()
			if err := b.client.call(ctx, "POST", "/v1/ekyc/sessions", map[string]string{"method": "wa", "reference": "browser-wa", "locale": "ja"}, &s); err != nil {
				t.Fatalf("create session: %v", err)
			}
			var (
				appErr        error
				signed        bool
				events        []string
				phoneDone     string
				phoneProgress progressView
				usedAt        time.Time // the redeem time the page shows
				usedBad       error
			)
			if tc.cancel {
				var cancelled, stopped pageEvent
				b.drive(t, ctx, map[string]any{"url": s.CaptureURL, "method": "wa", "device": "phone", "openHandoff": true, "cancelOnUse": true}, func(ev pageEvent) {
					switch ev.Event {
					case "cancelled":
						cancelled = ev
					case "phone-stopped":
						stopped = ev
					}
				})
				var got sessionOut
				if err := b.client.call(ctx, "GET", "/v1/ekyc/sessions/"+s.ID, nil, &got); err != nil || got.State != string(ekyc.StateCancelled) {
					t.Fatalf("the server's session after the page's cancel = %+v, %v; want cancelled", got, err)
				}
				if cancelled.Title != "手続きを中止しました" {
					t.Errorf("the page says %q, want 手続きを中止しました", cancelled.Title)
				}
				checkProgress(t, "cancelled page", cancelled.Progress, "cancelled")
				if !strings.Contains(stopped.Body, "無効") {
					t.Errorf("the device that redeemed the link says %q, want that its link is no longer valid", stopped.Body)
				}
				checkProgress(t, "the device that redeemed the link", stopped.Progress, "error")
				return
			}
			page := b.drive(t, ctx, map[string]any{"url": s.CaptureURL, "method": "wa", "device": "phone", "openHandoff": tc.phone}, func(ev pageEvent) {
				events = append(events, ev.Event+":"+ev.Step)
				if ev.Event == "phone-done" {
					phoneDone = ev.Outcome
					phoneProgress = ev.Progress
				}
				if ev.Event == "handoff-used" {
					// The server's record of the phone page's redeem:
					// after the session was created, not after now.
					at, err := time.Parse(time.RFC3339Nano, ev.At)
					if err != nil || at.Before(created.Truncate(time.Millisecond)) || at.After(time.Now()) {
						usedBad = fmt.Errorf("the page says its link was used at %q (%v), want a time since the session's creation", ev.At, err)
					}
					usedAt = at
				}
				if ev.Event != "handoff" || signed {
					return
				}
				signed = true
				tok, err := handoffToken(ev, s.ID)
				if err != nil {
					appErr = err
					return
				}
				if tc.phone {
					// The phone page redeemed the token: it is spent.
					if err := redeemHandoff(ctx, b, tok, nil); !isStatus(err, http.StatusUnauthorized) {
						appErr = fmt.Errorf("redeeming the link the phone page redeemed = %v, want 401", err)
						return
					}
					appErr = signAsKiosk(ctx, b, app, s.ID, tc.wrong)
					return
				}
				appErr = signAsJPKIApp(ctx, b, app, tok, s.ID, tc.wrong)
			})
			if !signed || appErr != nil {
				t.Fatalf("the JPKI app's part (hand-off shown: %v): %v", signed, appErr)
			}
			got := b.decided(t, ctx, s.ID)
			if got.Outcome != string(tc.outcome) {
				t.Errorf("server outcome = %s %v, want %s", got.Outcome, got.Decision.ReasonCodes(), tc.outcome)
			}
			checkPageResult(t, page, got)
			if !slices.Contains(events, "refused:handoff-reused") {
				t.Errorf("events %v, want refused:handoff-reused (a redeemed hand-off link reopened)", events)
			}
			if tc.phone && phoneDone != got.Outcome {
				t.Errorf("the phone page shows outcome %q, the server recorded %s", phoneDone, got.Outcome)
			}
			if tc.phone {
				checkProgress(t, "phone page", phoneProgress, progressEnd(phoneDone))
			}
			// The phone page redeemed the link: the first page said so (the
			// driver waited for the notice, in Japanese, with the time) and
			// its button showed a fresh link.
			if tc.phone && (usedAt.IsZero() || usedBad != nil || !slices.Contains(events, "handoff-used:") || !slices.Contains(events, "handoff-fresh:")) {
				t.Errorf("events %v, used at %v (%v); want handoff-used with the redeem time, then handoff-fresh (a new link)", events, usedAt, usedBad)
			}
		})
	}
}

// handoffToken takes the one-time token from a hand-off link's fragment;
// the link must be the capture page of session id with #h= and nothing
// else (never the capture key, #k=).
func handoffToken(ev pageEvent, id string) (string, error) {
	base, tok, ok := strings.Cut(ev.Link, "#h=")
	if !ok || !strings.HasSuffix(base, "/ekyc/capture") || tok == "" || strings.ContainsAny(tok, "#&=") || ev.Session != id {
		return "", fmt.Errorf("hand-off link %q for session %q, want the capture page with #h=<token> for %s", ev.Link, ev.Session, id)
	}
	return tok, nil
}

func redeemHandoff(ctx context.Context, b *browserEnv, tok string, out any) error {
	return b.client.capture(ctx, "handoff/redeem", "", map[string]string{"token": tok}, out)
}

// signAsJPKIApp does what the smartphone JPKI app does with the hand-off
// link: redeem its one-time token for a capture key of its own (once:
// a second redeem is refused), fetch the challenges and return the card's
// signature.
func signAsJPKIApp(ctx context.Context, b *browserEnv, app *jpkiSigner, tok, id string, wrong bool) error {
	var dev struct {
		SessionID string `json:"session_id"`
		Key       string `json:"capture_key"`
	}
	if err := redeemHandoff(ctx, b, tok, &dev); err != nil || dev.SessionID != id || dev.Key == "" {
		return fmt.Errorf("redeem the hand-off link = %+v, %v; want a key for %s", dev, err, id)
	}
	if err := redeemHandoff(ctx, b, tok, nil); !isStatus(err, http.StatusUnauthorized) {
		return fmt.Errorf("redeem the hand-off link again = %v, want 401", err)
	}
	key := dev.Key
	var chs struct {
		Challenges []struct {
			Purpose   string `json:"purpose"`
			Challenge string `json:"challenge"`
		} `json:"challenges"`
	}
	if err := b.client.capture(ctx, "jpki/challenges", "Capture-Key "+key, nil, &chs); err != nil {
		return fmt.Errorf("challenges: %w", err)
	}
	body, err := signChallenges(app, chs.Challenges, wrong)
	if err != nil {
		return err
	}
	return b.client.capture(ctx, "jpki/signature", "Capture-Key "+key, body, nil)
}

// signAsKiosk signs at the counter: the kiosk's reader through the device
// API, by session id.
func signAsKiosk(ctx context.Context, b *browserEnv, app *jpkiSigner, id string, wrong bool) error {
	var chs struct {
		Challenges []struct {
			Purpose   string `json:"purpose"`
			Challenge string `json:"challenge"`
		} `json:"challenges"`
	}
	if err := b.client.call(ctx, "POST", "/v1/ekyc/sessions/"+id+"/jpki/challenges", map[string]any{}, &chs); err != nil {
		return fmt.Errorf("kiosk challenges: %w", err)
	}
	body, err := signChallenges(app, chs.Challenges, wrong)
	if err != nil {
		return err
	}
	return b.client.call(ctx, "POST", "/v1/ekyc/sessions/"+id+"/jpki/signature", body, nil)
}

// signChallenges signs the signing challenge (wrong: the link challenge in
// its place, without the echo, so the server finds the mismatch itself).
func signChallenges(app *jpkiSigner, chs []struct {
	Purpose   string `json:"purpose"`
	Challenge string `json:"challenge"`
}, wrong bool) (map[string]any, error) {
	var signWhat []byte
	for _, ch := range chs {
		bs, err := base64.StdEncoding.DecodeString(ch.Challenge)
		if err != nil {
			return nil, err
		}
		if (ch.Purpose == ekyc.JPKIPurposeSign) != wrong {
			signWhat = bs
		}
	}
	sig, err := app.sign(ekyc.JPKIPurposeSign, signWhat)
	if err != nil {
		return nil, err
	}
	if wrong {
		delete(sig, "challenge")
	}
	return map[string]any{"sign": sig}, nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/ekyc"
)

// The review workbench's browser test: e2e/browser/review.mjs drives
// Debian's headless Chromium against a real server process with the real
// face engine. Three sessions are referred to review by 'dev session
// --refer' (ヘ, with a TEST licence whose chip photo is JPEG 2000) and by
// the refer kiosk playing the capture page's part (ホ, photographs of a
// card): one is rejected from the queue, one approved by two reviewers
// (four eyes), the ホ one approved with what was read off the images; the
// chip photo and the rectified card must render; another tenant's reviewer
// gets 404 everywhere; the administrator downloads the record as JSON and
// PDF, which 'madoguchi audit verify' and poppler check here.
//
// Screenshots are kept in e2e/browser/artifacts/review (git ignores it) or
// $MADOGUCHI_E2E_SHOTS. Skipped under -short; under CI=true a missing
// Chromium, node, node_modules, face model or poppler is a failure.

const reviewShots = "../../e2e/browser/artifacts/review"

// reviewBrowserCovered reports whether the review browser test tries a
// portal route across tenants (TestBrowserPortal leaves those to it).
func reviewBrowserCovered(path string) bool {
	return strings.HasPrefix(path, "/review/") || strings.HasPrefix(path, "/records/")
}

// cardPhoto is a photograph of an ID-1 card, turned by angle degrees, on a
// dark table: what document/imaging finds an outline in.
func cardPhoto(t *testing.T, angle float64, seed uint64) []byte {
	t.Helper()
	const w, h = 960, 720
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(seed, 3))
	cx, cy, cw, ch := w/2.0, h/2.0, 700.0, 700.0/1.5858
	sin, cos := math.Sincos(angle * math.Pi / 180)
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			u, v := dx*cos+dy*sin, -dx*sin+dy*cos
			n := r.IntN(16)
			if math.Abs(u) < cw/2 && math.Abs(v) < ch/2 {
				s := 190 + int(20*math.Sin(u/9)*math.Sin(v/13)) + n
				img.Set(x, y, color.RGBA{uint8(s), uint8(s - 5), uint8(s - 20), 255})
			} else {
				s := 45 + n + int(10*math.Sin(float64(x)/5))
				img.Set(x, y, color.RGBA{uint8(s), uint8(s), uint8(s + 5), 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBrowserReview(t *testing.T) {
	requireBrowser(t)
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		unavailableInCI(t, "no pdftotext (apt-get install poppler-utils): %v", err)
	}
	pdfdetach, _ := exec.LookPath("pdfdetach")
	if _, err := os.Stat(defaultPDFFont); err != nil {
		unavailableInCI(t, "no Japanese font for record PDFs (apt-get install fonts-ipaexfont-gothic): %v", err)
	}
	start := time.Now()
	modelDir := e2eModels(t)
	dir := t.TempDir()
	srv := startServer(t, dir, "--models", modelDir)
	acc := devPortalAccounts(t, dir)
	acc2 := devPortalAccounts(t, dir, "--prefix", "dev2")
	other := devPortalAccounts(t, dir, "--tenant", "Other Bank", "--prefix", "other")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Two ヘ sessions referred by 'dev session --refer'.
	chipDir := filepath.Join(t.TempDir(), "chip")
	if code, out, errs := runCLI(t, "dev", "chip", "--kind", "jpdl", "--photo", e2eChipPhoto, "--name", "見本 花子",
		"--birthdate", "1990-01-02", "--data", dir, "--out", chipDir); code != 0 {
		t.Fatalf("dev chip = exit %d\n%s%s", code, out, errs)
	}
	var he []string
	for range 2 {
		code, out, errs := runCLI(t, "dev", "session", "--refer", "--server", srv.url(), "--data", dir, "--chip", chipDir,
			"--selfie", e2eFaceImage, "--selfie", "../../face/testdata/golden/images/astronaut_face_250.png")
		var res devSessionResult
		if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Decision != "review" {
			t.Fatalf("dev session --refer = exit %d %s\n%s\nserver log:\n%s", code, out, errs, tail(srv.logText(), 3000))
		}
		if !strings.Contains(out, "/portal/review/"+res.Session) {
			t.Errorf("dev session --refer does not print the session's portal address: %s", out)
		}
		he = append(he, res.Session)
	}
	// A ホ session through the same kiosk, with photographs of a card.
	id, key, _, err := devReferKiosk(ctx, dataFlags{data: dir}, "Development Bank")
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadAPIClient(srv.url(), "", id, key)
	if err != nil {
		t.Fatal(err)
	}
	selfie, err := os.ReadFile(e2eFaceImage)
	if err != nil {
		t.Fatal(err)
	}
	selfie2, err := os.ReadFile("../../face/testdata/golden/images/astronaut_face_250.png")
	if err != nil {
		t.Fatal(err)
	}
	ho, err := runDevSession(ctx, c, sessionPlan{method: "ho", locale: "ja", wait: 2 * time.Minute, poll: 300 * time.Millisecond,
		docs:    []docFrame{{ekyc.FrameDocFront, cardPhoto(t, 4, 1)}, {ekyc.FrameDocBack, cardPhoto(t, -3, 2)}, {ekyc.FrameDocTilt, cardPhoto(t, 12, 3)}},
		selfies: [][]byte{selfie, selfie2}})
	if err != nil || ho.Decision != "review" {
		t.Fatalf("ホ session = %+v, %v", ho, err)
	}
	t.Logf("sessions referred in %v", time.Since(start).Round(time.Second))

	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = reviewShots
		_ = os.RemoveAll(shots)
	}
	downloads := t.TempDir()
	local := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }
	arg, _ := json.Marshal(map[string]any{
		"url": local(srv.url()), "shots": shots, "downloads": downloads,
		"accounts": map[string]map[string]string{
			"reviewer": acc["dev-reviewer"].script(), "reviewer2": acc2["dev2-reviewer"].script(),
			"other": other["other-reviewer"].script(), "admin": acc["dev-admin"].script(),
		},
		"sessions": map[string]string{"reject": he[0], "fourEyes": he[1], "ho": ho.Session},
	})
	run := runBrowserScript(ctx, t, "review.mjs", arg, srv)
	checks, screens, slow, last := run.checks, run.screens, run.slow, run.lastMs
	for _, want := range []string{
		"queue lists the referred sessions", "chip photo renders", "selfie frames render", "liveness steps shown", "chip checks shown",
		"incomplete checklist refused", "ヘ session rejected", "four eyes announced", "first approval recorded",
		"rectified card renders", "document frames render", "ホ first approval recorded", "second reviewer sees the first approval",
		"four eyes: approved by the second reviewer", "second reviewer sees the ホ reading", "ホ session approved",
		"record found by session id", "record shows the reading", "record shows its retention", "downloads saved",
		"axe review-queue", "axe review-session-he", "axe review-session-errors", "axe review-session-ho", "axe records", "axe records-hit", "axe record",
		"no console errors or CSP violations",
	} {
		if !slices.Contains(checks, want) {
			t.Errorf("review.mjs did not report check %q", want)
		}
	}
	if n := len(slices.DeleteFunc(slices.Clone(checks), func(c string) bool { return !strings.HasPrefix(c, "cross-tenant ") })); n < 10 {
		t.Errorf("%d cross-tenant checks, want 10", n)
	}

	// The downloads verify offline: the JSON with 'audit verify', the PDF
	// read back by poppler with the JSON attached.
	jsonFile := filepath.Join(downloads, "record.json")
	if code, out, errs := runCLI(t, "audit", "verify", "--data", dir, "--proof", jsonFile); code != 0 || !strings.Contains(out, "the record matches its export entry") {
		t.Errorf("audit verify --proof record.json = %d\n%s%s", code, out, errs)
	}
	pdfFile := filepath.Join(downloads, "record.pdf")
	text, err := exec.Command(pdftotext, "-enc", "UTF-8", pdfFile, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(text), "花子") || !strings.Contains(string(text), "確認記録") {
		t.Errorf("pdftotext record.pdf = %v\n%s", err, text)
	}
	if pdfdetach != "" {
		att := t.TempDir()
		if out, err := exec.Command(pdfdetach, "-saveall", "-o", att, pdfFile).CombinedOutput(); err != nil {
			t.Errorf("pdfdetach: %v %s", err, out)
		} else if code, out, errs := runCLI(t, "audit", "verify", "--data", dir, "--proof", filepath.Join(att, "record.json")); code != 0 {
			t.Errorf("audit verify of the PDF's attachment = %d\n%s%s", code, out, errs)
		}
	}
	if screens < 6 {
		t.Errorf("%d screenshots, want one of every page", screens)
	}
	t.Logf("review browser test: %d checks, %d screenshots in %s, %v (browser %d ms; slow steps %v)", len(checks), screens, shots,
		time.Since(start).Round(time.Second), last, slow)
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/posesynth"
)

// TestBranchPageBrowser drives the branch verifier's page in real headless
// Chromium (e2e/browser/branch.mjs) against a real `madoguchi branch
// serve` with the real face engine, offline: the counter runs in
// production mode on its cached trust, its server address leads nowhere,
// and the browser may reach nothing but the page's loopback origin. The
// camera (a canvas stream; see branch.mjs) shows each customer's QR code
// and then their face performing the challenge the verifier drew, posed by
// warping a real photograph as TestBranchDecisionRealEngine does (with
// the same stated relaxations of the test tenant's policy).
//
// Genuine: accepted. Refused: another person's face (face.mismatch); an
// expired, a revoked, another tenant's and a tampered credential (at the
// scan); and a replayed old status list, which the counter refuses (409),
// after which the revoked credential is still refused.
func TestBranchPageBrowser(t *testing.T) {
	requireBrowser(t)
	models := e2eModels(t)
	eng, err := loadEngine(&engineFlags{dir: models, detector: "blazeface", recognizer: face.DefaultRecognizer, align: "auto", zoomOut: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	astro := readRGBA(t, e2eFaceImage)
	fs, err := eng.Analyze(ctx, astro)
	if err != nil || len(fs) != 1 {
		t.Fatalf("Analyze(astronaut) = %d faces, %v", len(fs), err)
	}
	enrolled := fs[0].Embedding
	other := otherPerson(t, eng, enrolled)

	f := newBranchFixture(t, eng.Model())
	now := time.Now()
	const revokedIndex = 5
	current := f.statusList(t, now.Add(-time.Minute), 72*time.Hour, 2, 8, revokedIndex)
	old := f.statusList(t, now.Add(-time.Hour), 72*time.Hour, 1, 8) // before the revocation
	raw, _ := json.Marshal(f.bundle(t, current))
	f.cache(t, raw)

	genuine := f.issue(t, f.tenant, enrolled, now.Add(-time.Hour), 90*24*time.Hour, 0)
	expired := f.issue(t, f.tenant, enrolled, now.Add(-48*time.Hour), 24*time.Hour, 1)
	otherTenant := f.issue(t, "tn_other", enrolled, now.Add(-time.Hour), 90*24*time.Hour, 2)
	revoked := f.issue(t, f.tenant, enrolled, now.Add(-time.Hour), 90*24*time.Hour, revokedIndex)
	tamperedCOSE := bytes.Clone(genuine.COSE)
	tamperedCOSE[len(tamperedCOSE)-1] ^= 0x01
	tampered, err := credential.RenderQR(credential.QRText(tamperedCOSE))
	if err != nil {
		t.Fatal(err)
	}

	url, err := runBranchServe(t, f, models, "--mode", "production", "--server", "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}

	images := map[string][]byte{"qr:tampered": tampered.PNG}
	for name, is := range map[string]*credential.Issued{"genuine": genuine, "expired": expired, "other-tenant": otherTenant, "revoked": revoked} {
		q, err := credential.RenderQR(is.Text)
		if err != nil {
			t.Fatal(err)
		}
		images["qr:"+name] = q.PNG
	}
	people := map[string]map[string]string{}
	for who, img := range map[string]*image.RGBA{"genuine": astro, "other": other} {
		people[who] = map[string]string{}
		for pose, png := range poses(t, eng, img) {
			images[who+":"+pose] = png
			people[who][pose] = who + ":" + pose
		}
	}
	type step struct {
		Name       string `json:"name"`
		QR         string `json:"qr,omitempty"`
		Person     string `json:"person,omitempty"`
		PostStatus []byte `json:"post_status,omitempty"`
	}
	steps := []step{
		{Name: "genuine", QR: "genuine", Person: "genuine"},
		{Name: "another person's face", QR: "genuine", Person: "other"},
		{Name: "expired", QR: "expired"},
		{Name: "revoked", QR: "revoked"},
		{Name: "another tenant", QR: "other-tenant"},
		{Name: "tampered byte", QR: "tampered"},
		{Name: "replayed old status list", PostStatus: old},
		{Name: "revoked after the replay", QR: "revoked"},
	}
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	in, _ := json.Marshal(map[string]any{"url": url, "shots": shots, "chromium": chromiumPath, "images": images, "people": people, "steps": steps})
	cctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, "node", "branch.mjs")
	cmd.Dir = browserDir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node branch.mjs: %v\n%s", err, stderr.String())
	}
	type result struct {
		Name       string   `json:"name"`
		Accepted   bool     `json:"accepted"`
		Reasons    []string `json:"reasons"`
		Steps      string   `json:"steps"`
		HTTPStatus int      `json:"http_status"`
		Title      string   `json:"title"`
		Event      string   `json:"event"`
		Online     string   `json:"online"`
		Blocked    []string `json:"blocked"`
	}
	got := map[string]result{}
	var done *result
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var r result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("branch.mjs output %q: %v", sc.Text(), err)
		}
		if r.Event == "done" {
			done = &r
			continue
		}
		got[r.Name] = r
		t.Logf("%s: accepted %v reasons %v steps %q http %d %s", r.Name, r.Accepted, r.Reasons, r.Steps, r.HTTPStatus, r.Title)
	}
	if done == nil {
		t.Fatalf("branch.mjs did not finish\n%s", stderr.String())
	}
	want := []struct {
		name     string
		accepted bool
		reason   string
	}{
		{"genuine", true, ""},
		{"another person's face", false, ekyc.ReasonFaceMismatch},
		{"expired", false, "credential.expired"},
		{"revoked", false, "credential.revoked"},
		{"another tenant", false, "credential.other_tenant"},
		{"tampered byte", false, "credential.signature"},
		{"revoked after the replay", false, "credential.revoked"},
	}
	for _, w := range want {
		r, ok := got[w.name]
		switch {
		case !ok:
			t.Errorf("%s: no result from the page", w.name)
		case r.Accepted != w.accepted:
			t.Errorf("%s: page shows accepted %v (reasons %v), want %v", w.name, r.Accepted, r.Reasons, w.accepted)
		case w.reason != "" && !slices.Contains(r.Reasons, w.reason):
			t.Errorf("%s: page shows reasons %v, want %s among them", w.name, r.Reasons, w.reason)
		}
	}
	if r := got["replayed old status list"]; r.HTTPStatus != 409 || r.Title != "credential.status_replay" {
		t.Errorf("POST old status list = %d %q, want 409 credential.status_replay", r.HTTPStatus, r.Title)
	}
	if done.Online != "false" {
		t.Errorf("page shows online %q, want false (the server is unreachable)", done.Online)
	}
	for _, u := range done.Blocked {
		if !strings.HasPrefix(u, "data:") {
			t.Errorf("the page tried to reach %s outside its origin", u)
		}
	}
}

// poses renders who frontal, turned left and right, and blinking, as
// challengeFrames does (package posesynth), as PNG.
func poses(t *testing.T, eng *face.Engine, who *image.RGBA) map[string][]byte {
	t.Helper()
	ps, err := posesynth.Poses(context.Background(), eng, who)
	if err != nil {
		t.Fatalf("posesynth.Poses = %v", err)
	}
	return map[string][]byte{
		"frontal":              encodePNG(t, who),
		string(ekyc.TurnLeft):  encodePNG(t, ps[ekyc.TurnLeft]),
		string(ekyc.TurnRight): encodePNG(t, ps[ekyc.TurnRight]),
		string(ekyc.Blink):     encodePNG(t, ps[ekyc.Blink]),
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/jpdl/jpdltest"
	"github.com/madoguchi/madoguchi/ekyc"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestDevSessionUsage(t *testing.T) {
	dir := t.TempDir()
	sel := filepath.Join(dir, "s.png")
	if err := os.WriteFile(sel, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no chip", []string{"--selfie", sel}, "--chip"},
		{"no selfie", []string{"--chip", dir}, "--selfie"},
		{"method ho", []string{"--method", "ho", "--chip", dir, "--selfie", sel}, "method he only"},
		{"key without id", []string{"--chip", dir, "--selfie", sel, "--key", sel}, "go together"},
		{"argument", []string{"--chip", dir, "--selfie", sel, "extra"}, "no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"dev", "session"}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("dev session %v = exit %d, stderr %q; want exit 2 mentioning %q", tc.args, code, stderr, tc.want)
			}
		})
	}
	// Inputs that are wrong, not misused: exit 1 with a clear message.
	empty := t.TempDir()
	passport := t.TempDir()
	for _, n := range []string{"EF.SOD", "DG1.bin", "dg2.bin"} {
		if err := os.WriteFile(filepath.Join(passport, n), []byte{1}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, chip, want string
	}{
		{"empty chip dir", empty, "no chip files"},
		{"missing chip dir", filepath.Join(dir, "nope"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "dev", "session", "--chip", tc.chip, "--selfie", sel, "--data", t.TempDir())
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("dev session --chip %s = exit %d, stderr %q; want exit 1 mentioning %q", tc.name, code, stderr, tc.want)
			}
		})
	}
	// A passport is detected and sent; the server is not reached here
	// because the data directory is not a development one.
	code, _, stderr := runCLI(t, "dev", "session", "--chip", passport, "--selfie", sel, "--data", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "not a development data directory") {
		t.Errorf("dev session on a non-development data dir = exit %d, %q; want exit 1, refused", code, stderr)
	}
}

func TestReadChipDir(t *testing.T) {
	is, err := jpdltest.New(nil, "readChipDir test")
	if err != nil {
		t.Fatal(err)
	}
	dir := writeLicenceFiles(t, is, nil)
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("test chip"), 0o600); err != nil {
		t.Fatal(err)
	}
	kind, files, skipped, err := readChipDir(dir, "")
	if err != nil || kind != "jpdl" || len(files) != 5 || len(skipped) != 1 {
		t.Fatalf("readChipDir = %s, %d files, skipped %v, %v; want jpdl, 5 files, README skipped", kind, len(files), skipped, err)
	}
	if _, _, _, err := readChipDir(dir, "mynumber"); err == nil {
		t.Errorf("readChipDir(jpdl files, --kind mynumber) = nil error, want no mynumber files")
	}
	// The My Number files are never read, let alone sent.
	my := t.TempDir()
	for _, n := range []string{"textap_ef01.bin", "textap_ef02.bin", "visualap_ef05.bin", "visualap_ef02.bin"} {
		if err := os.WriteFile(filepath.Join(my, n), []byte{0x30}, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	kind, files, skipped, err = readChipDir(my, "")
	if err != nil || kind != "mynumber" {
		t.Fatalf("readChipDir(my number) = %s, %v", kind, err)
	}
	for _, n := range []string{"textap_ef01", "visualap_ef05"} {
		if _, ok := files[n]; ok {
			t.Errorf("readChipDir kept %s, which holds the My Number", n)
		}
	}
	if len(skipped) != 2 {
		t.Errorf("skipped = %v, want the two My Number files", skipped)
	}
}

// writeLicenceFiles mints a licence and writes its chip files as
// <name>.bin in a new directory.
func writeLicenceFiles(t *testing.T, is *jpdltest.Issuer, photo []byte) string {
	t.Helper()
	f, err := is.Issue(jpdltest.Licence{
		Name: "見本　花子", Kana: "ミホン　ハナコ", Address: "東京都千代田区千代田１－１", Honseki: "東京都", PSC: "東京都公安委員会",
		Colour: "ゴールド", Birth: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issued: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC),
		Expiry: time.Now().AddDate(3, 0, 0), Number: "301234567890", Photo: photo,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for n, b := range map[string][]byte{"MF_EF01": f.Common, "DF1_EF01": f.Matters, "DF1_EF02": f.Honseki, "DF1_EF07": f.Signature, "DF2_EF01": f.Photo} {
		if err := os.WriteFile(filepath.Join(dir, n+".bin"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDevSession runs the kit against a real server with the real face
// engine: a valid test licence and still selfies of the same face. The
// server must not approve, and say why in the reasons.
func TestDevSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process with the face engine")
	}
	modelDir := e2eModels(t)
	data := t.TempDir()
	srv := startServer(t, data, "--models", modelDir)
	// The README's quick tour: the chip is minted by 'dev chip' under the
	// development server's own test issuer.
	chipDir := filepath.Join(t.TempDir(), "chip")
	if code, out, errs := runCLI(t, "dev", "chip", "--kind", "jpdl", "--photo", "../../face/testdata/golden/images/astronaut_face_250.png",
		"--name", "見本 花子", "--birthdate", "1990-01-02", "--data", data, "--out", chipDir); code != 0 {
		t.Fatalf("dev chip = exit %d\n%s%s", code, out, errs)
	}
	imgs := "../../face/testdata/golden/images/"

	for i, tc := range []struct {
		selfies []string
		notes   string // substring of a note, first run only
	}{
		{[]string{"astronaut_512.png", "astronaut_face_250.png", "astronaut_wide_256x170.png", "astronaut_gray_250.png"}, "registered a test kiosk"},
		{[]string{"astronaut_face_250.png"}, ""},
	} {
		args := []string{"dev", "session", "--server", srv.url(), "--data", data, "--method", "he", "--chip", chipDir}
		for _, s := range tc.selfies {
			args = append(args, "--selfie", imgs+s)
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("run %d: dev session = exit %d\nstderr: %s\nstdout: %s\nserver: %s", i, code, stderr, stdout, tail(srv.logText(), 2000))
		}
		var res devSessionResult
		if err := json.Unmarshal([]byte(stdout), &res); err != nil {
			t.Fatalf("run %d: output %q: %v", i, stdout, err)
		}
		t.Logf("run %d: %s", i, stdout)
		codes := make([]string, len(res.Reasons))
		for j, r := range res.Reasons {
			codes[j] = r.Code
		}
		if !strings.HasPrefix(res.Session, "ses_") || res.State != "decided" {
			t.Errorf("run %d: session %q state %q, want a decided ses_ session", i, res.Session, res.State)
		}
		if res.Decision != string(ekyc.OutcomeRejected) {
			t.Errorf("run %d: decision = %q, want rejected (still selfies)", i, res.Decision)
		}
		if !slices.Contains(codes, ekyc.ReasonStaticFrames) && !slices.Contains(codes, ekyc.ReasonChallengeFailed) {
			t.Errorf("run %d: reasons = %v, want a liveness reason saying still selfies cannot pass", i, codes)
		}
		for _, bad := range []string{ekyc.ReasonChipInvalid, ekyc.ReasonChipMissing, ekyc.ReasonNoFaceReference} {
			if slices.Contains(codes, bad) {
				t.Errorf("run %d: reasons = %v include %s; the test licence is valid and its photo shows a face", i, codes, bad)
			}
		}
		if _, ok := res.Scores["face_match"]; !ok {
			t.Errorf("run %d: scores = %v, want face_match (selfie vs. chip photo)", i, res.Scores)
		}
		if _, ok := res.Scores["liveness"]; !ok {
			t.Errorf("run %d: scores = %v, want liveness (PAD)", i, res.Scores)
		}
		joined := strings.Join(res.Notes, "\n")
		if tc.notes != "" && !strings.Contains(joined, tc.notes) {
			t.Errorf("run %d: notes = %q, want %q", i, joined, tc.notes)
		}
		if i > 0 && strings.Contains(joined, "registered a test kiosk") {
			t.Errorf("run %d: registered the kiosk again; want it reused", i)
		}
	}
	// The kiosk key is private.
	if fi, err := os.Stat(filepath.Join(data, "dev-kiosk", "key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kiosk key: %v, want a 0600 file", err)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"github.com/madoguchi/madoguchi/document"
)

// TestNoPersonalDataAtRestAfterEKYC runs a full method ヘ session through a
// real server and face engine with a marker as the holder's name and birth
// date on the chip, then searches every file under the data directory
// (database, WAL, blobs, keys, trust) and the server's log for the marker in
// UTF-8, in the JIS X 0208 bytes the licence chip stores, and in base64.
func TestNoPersonalDataAtRestAfterEKYC(t *testing.T) {
	if testing.Short() {
		t.Skip("a full session with the face engine")
	}
	models := e2eModels(t)
	dir := t.TempDir()
	srv := startServer(t, dir, "--models", models, "--rate-limit", "0")
	const name = "印鑑太郎"
	const birth = "1979-11-23"

	res, files := heSession(t, srv, dir, name, birth, "")
	if res.Decision == "" {
		t.Fatalf("no decision: %+v", res)
	}
	// The chip did carry the marker: the verified chip's name reached the
	// server (and only the sealed forms of it may be at rest).
	jis, err := japanese.EUCJP.NewEncoder().String(name)
	if err != nil {
		t.Fatal(err)
	}
	jisBytes := []byte(jis)
	for i := range jisBytes {
		jisBytes[i] &^= 0x80 // EUC-JP row/cell bytes minus 0x80 are the JIS X 0208 bytes
	}
	found := false
	for _, b := range files {
		if bytes.Contains(b, jisBytes) {
			found = true
		}
	}
	if !found {
		t.Fatalf("the test chip does not hold the name in JIS X 0208: the marker search below would prove nothing")
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("exit = %d", code)
	}

	needles := map[string][]byte{
		"name utf-8":      []byte(name),
		"name jis x 0208": jisBytes,
		"name base64":     []byte(base64.StdEncoding.EncodeToString([]byte(name))[:8]),
		"birth date":      []byte(birth),
		"birth yyyymmdd":  []byte(strings.ReplaceAll(birth, "-", "")),
	}
	var scanned int
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s found at rest in %s", what, strings.TrimPrefix(path, dir))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 5 {
		t.Fatalf("scanned only %d files", scanned)
	}
	logs := srv.logText()
	for what, n := range needles {
		if strings.Contains(logs, string(n)) {
			t.Errorf("%s found in the server log", what)
		}
	}
}

// heSession mints a development licence chip for name and birth, and runs a
// whole method ヘ session (chip + three selfie frames, optionally with a
// webhook) against srv as the data directory's test kiosk. It returns the
// outcome and the chip files sent.
func heSession(t *testing.T, srv *serverProc, dir, name, birth, webhook string) (*devSessionResult, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	img := filepath.Join("..", "..", "face", "testdata", "golden", "images")
	chip := filepath.Join(t.TempDir(), "chip")
	var errb bytes.Buffer
	e := &env{stdout: io.Discard, stderr: &errb, getenv: func(string) string { return "" }}
	if err := devChip(ctx, e, []string{"--data", dir, "--kind", "jpdl", "--photo", filepath.Join(img, "astronaut_face_250.png"),
		"--name", name, "--birthdate", birth, "--out", chip}); err != nil {
		t.Fatalf("dev chip: %v (%s)", err, errb.String())
	}
	kind, files, _, err := readChipDir(chip, document.Kind(""))
	if err != nil {
		t.Fatal(err)
	}
	var selfies [][]byte
	for _, f := range []string{"astronaut_face_250.png", "astronaut_512.png", "astronaut_gray_250.png"} {
		b, err := os.ReadFile(filepath.Join(img, f))
		if err != nil {
			t.Fatal(err)
		}
		selfies = append(selfies, b)
	}
	id, key, _, err := devKiosk(ctx, dataFlags{data: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, err := loadAPIClient(srv.url(), "", id, key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runDevSession(ctx, c, sessionPlan{method: "he", kind: kind, chip: files, selfies: selfies, locale: "ja",
		webhook: webhook, wait: 3 * time.Minute, poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return res, files
}

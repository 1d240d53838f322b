package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/ekyc"
)

// TestServerDeliversSignedWebhook runs a ヘ session with a webhook through a
// real server: the server's background jobs deliver the result, signed with
// the key published at /.well-known/jwks.json; a receiver that is down at
// first gets it on a later attempt.
func TestServerDeliversSignedWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("a full session with the face engine")
	}
	ctx := context.Background()
	models := e2eModels(t)
	dir := t.TempDir()

	type delivery struct {
		id   string
		body []byte
	}
	got := make(chan delivery, 4)
	var calls atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		got <- delivery{r.Header.Get("Webhook-Id"), b}
	}))
	defer recv.Close()

	srv := startServer(t, dir, "--models", models, "--rate-limit", "0")
	img := filepath.Join("..", "..", "face", "testdata", "golden", "images")
	chip := filepath.Join(t.TempDir(), "chip")
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	if err := devChip(ctx, e, []string{"--data", dir, "--kind", "jpdl", "--photo", filepath.Join(img, "astronaut_face_250.png"),
		"--name", "検証花子", "--birthdate", "1990-01-02", "--out", chip}); err != nil {
		t.Fatal(err)
	}
	kind, files, _, err := readChipDir(chip, document.Kind(""))
	if err != nil {
		t.Fatal(err)
	}
	var selfies [][]byte
	for _, f := range []string{"astronaut_face_250.png", "astronaut_512.png"} {
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
	res, err := runDevSession(ctx, c, sessionPlan{method: "he", kind: kind, chip: files, selfies: selfies, locale: "en",
		webhook: recv.URL + "/hook", wait: 3 * time.Minute, poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("session: %v", err)
	}

	var d delivery
	select {
	case d = <-got:
	case <-time.After(90 * time.Second):
		t.Fatalf("no webhook delivered within 90 s (receiver called %d times)\n%s", calls.Load(), srv.logText())
	}
	if n := calls.Load(); n < 2 {
		t.Errorf("receiver called %d times, want a retry after the first failure", n)
	}
	if d.id == "" {
		t.Errorf("webhook has no Webhook-Id (event id)")
	}
	resp, err := http.Get(srv.url() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	payload, err := ekyc.VerifyResult(strings.TrimSpace(string(d.body)), jwks)
	if err != nil {
		t.Fatalf("webhook signature: %v", err)
	}
	if !strings.Contains(string(payload), res.Session) {
		t.Errorf("webhook payload does not name session %s", res.Session)
	}
	// A forged copy (one payload byte changed) does not verify.
	forged := []byte(strings.TrimSpace(string(d.body)))
	i := strings.IndexByte(string(forged), '.') + 5
	forged[i] ^= 0x01
	if _, err := ekyc.VerifyResult(string(forged), jwks); err == nil {
		t.Errorf("a tampered webhook verified")
	}
	if code := srv.stop(t); code != 0 {
		t.Errorf("exit = %d", code)
	}
}

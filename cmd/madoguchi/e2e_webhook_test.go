package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
	res, _ := heSession(t, srv, dir, "検証花子", "1990-01-02", recv.URL+"/hook")

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

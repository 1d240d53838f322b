package web

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAuth is a test double for the tenant authenticator: the real one is
// exercised end to end in cmd/madoguchi's integration tests.
type fakeAuth struct {
	tokens map[string]Principal
}

func (f *fakeAuth) Authenticate(ctx context.Context, tok string, peer *x509.Certificate) (Principal, error) {
	p, ok := f.tokens[tok]
	if !ok {
		return Principal{}, ErrInvalidToken
	}
	return p, nil
}

func newTestServer(t *testing.T, cfg Config) (*Server, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Auth == nil {
		cfg.Auth = &fakeAuth{tokens: map[string]Principal{
			"tok-a":  {TenantID: "ten-a", ClientID: "cli-a", Scopes: []string{ScopeAuditRead}},
			"tok-b":  {TenantID: "ten-b", ClientID: "cli-b"},
			"tok-ns": {TenantID: "ten-a", ClientID: "cli-ns"},
		}}
	}
	return New(cfg), &logs
}

func do(t *testing.T, h http.Handler, method, target string, body io.Reader, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func decodeProblem(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (body %q)", ct, w.Body.String())
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body: %v", err)
	}
	if p.Status != w.Code || p.Title == "" || p.Type == "" || p.RequestID == "" {
		t.Errorf("problem = %+v, want status %d and title, type, request_id set", p, w.Code)
	}
	return p
}

func TestProblems(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	tests := []struct {
		name   string
		method string
		target string
		body   io.Reader
		hdr    map[string]string
		status int
	}{
		{"unknown path", "GET", "/nope", nil, nil, 404},
		{"wrong method", "DELETE", "/healthz", nil, nil, 405},
		{"no token", "GET", "/v1/whoami", nil, nil, 401},
		{"bad scheme", "GET", "/v1/whoami", nil, map[string]string{"Authorization": "Basic eDp5"}, 401},
		{"unknown token", "GET", "/v1/whoami", nil, map[string]string{"Authorization": "Bearer nope"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, tt.method, tt.target, tt.body, tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("%s %s = %d, want %d (%s)", tt.method, tt.target, w.Code, tt.status, w.Body)
			}
			if strings.HasPrefix(tt.target, "/v1/oauth/") {
				e := decodeOAuthError(t, w)
				if strings.Contains(e.Description, "fire") {
					t.Errorf("error leaks the internal cause: %q", e.Description)
				}
				return
			}
			p := decodeProblem(t, w)
			if strings.Contains(p.Detail, "fire") {
				t.Errorf("problem leaks the internal cause: %q", p.Detail)
			}
		})
	}
	if got := do(t, s, "DELETE", "/healthz", nil, nil).Header().Get("Allow"); got != "GET" {
		t.Errorf("405 Allow = %q, want GET", got)
	}
}

func TestWhoami(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	w := do(t, s, "GET", "/v1/whoami", nil, map[string]string{"Authorization": "Bearer tok-a"})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"tenant_id":"ten-a"`) {
		t.Errorf("whoami = %d %s", w.Code, w.Body)
	}
	// Without the authorization server there is no token endpoint here.
	if w := do(t, s, "POST", "/v1/oauth/token", strings.NewReader("grant_type=client_credentials"), nil); w.Code != 404 {
		t.Errorf("POST /v1/oauth/token without Config.OAuth = %d, want 404", w.Code)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, _ := newTestServer(t, Config{RateLimit: 2, Burst: 3, Now: clock})
	hdrA := map[string]string{"Authorization": "Bearer tok-a"}
	for i := 0; i < 3; i++ {
		if w := do(t, s, "GET", "/v1/whoami", nil, hdrA); w.Code != 200 {
			t.Fatalf("request %d = %d, want 200", i, w.Code)
		}
	}
	w := do(t, s, "GET", "/v1/whoami", nil, hdrA)
	if w.Code != 429 {
		t.Fatalf("request over burst = %d, want 429", w.Code)
	}
	decodeProblem(t, w)
	if ra := w.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	// Another client has its own bucket.
	if w := do(t, s, "GET", "/v1/whoami", nil, map[string]string{"Authorization": "Bearer tok-b"}); w.Code != 200 {
		t.Errorf("other client = %d, want 200", w.Code)
	}
	mu.Lock()
	now = now.Add(600 * time.Millisecond)
	mu.Unlock()
	if w := do(t, s, "GET", "/v1/whoami", nil, hdrA); w.Code != 200 {
		t.Errorf("after refill = %d, want 200", w.Code)
	}
}

func TestReadyz(t *testing.T) {
	fail := errors.New("db down at 10.0.0.1")
	s, logs := newTestServer(t, Config{Ready: []Check{
		{"store", func(context.Context) error { return nil }},
		{"keys", func(context.Context) error { return fail }},
	}})
	w := do(t, s, "GET", "/readyz", nil, nil)
	if w.Code != 503 {
		t.Fatalf("readyz = %d, want 503", w.Code)
	}
	p := decodeProblem(t, w)
	if strings.Contains(w.Body.String(), "10.0.0.1") {
		t.Errorf("readyz body leaks the cause: %s", w.Body)
	}
	if len(p.Errors) != 1 || p.Errors[0].Field != "keys" {
		t.Errorf("readyz errors = %+v, want keys failing", p.Errors)
	}
	if !strings.Contains(logs.String(), "readiness check failed") {
		t.Errorf("failing check not logged")
	}
	s2, _ := newTestServer(t, Config{Ready: []Check{{"store", func(context.Context) error { return nil }}}})
	if w := do(t, s2, "GET", "/readyz", nil, nil); w.Code != 200 {
		t.Errorf("readyz all ok = %d, want 200", w.Code)
	}
}

func TestMetrics(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	do(t, s, "GET", "/healthz", nil, nil)
	do(t, s, "GET", "/nope/123", nil, nil)
	s.AddGauge("madoguchi_test_gauge", "a test gauge", func() float64 { return 7 })
	w := do(t, s, "GET", "/metrics", nil, nil)
	body := w.Body.String()
	for _, want := range []string{
		`madoguchi_http_request_duration_seconds_count{route="GET /healthz",code="200"} 1`,
		`madoguchi_http_request_duration_seconds_count{route="unmatched",code="404"} 1`,
		"madoguchi_test_gauge 7",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "/nope/123") {
		t.Errorf("/metrics leaks a raw path as a label")
	}
}

func TestDecodeJSON(t *testing.T) {
	type in struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	s, _ := newTestServer(t, Config{})
	h := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var v in
		if err := decodeJSON(w, r, 64, &v); err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	})
	h = s.instrument(h)
	js := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, body string
		hdr        map[string]string
		status     int
	}{
		{"ok", `{"name":"x'; DROP TABLE t;--","n":1}`, js, 200},
		{"wrong type", `{"name":1}`, js, 400},
		{"unknown field", `{"nam":"x"}`, js, 400},
		{"two objects", `{} {}`, js, 400},
		{"truncated", `{"name":`, js, 400},
		{"not json", `<xml/>`, js, 400},
		{"too large", `{"name":"` + strings.Repeat("a", 100) + `"}`, js, 413},
		{"form content type", `{}`, map[string]string{"Content-Type": "text/plain"}, 415},
		{"no content type", `{}`, nil, 415},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, h, "POST", "/x", strings.NewReader(tt.body), tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("decodeJSON(%q) = %d, want %d (%s)", tt.body, w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				decodeProblem(t, w)
			}
		})
	}
}

func TestPanicRecovered(t *testing.T) {
	s, logs := newTestServer(t, Config{})
	s.mux.Handle("GET /panic", s.handle(func(http.ResponseWriter, *http.Request) error { panic("secret-value-123") }))
	w := do(t, s, "GET", "/panic", nil, nil)
	if w.Code != 500 {
		t.Fatalf("panic = %d, want 500", w.Code)
	}
	decodeProblem(t, w)
	if strings.Contains(w.Body.String(), "secret-value") {
		t.Errorf("500 body leaks panic value")
	}
	if !strings.Contains(logs.String(), "panic in handler") {
		t.Errorf("panic not logged")
	}
}

func TestRequestID(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	w := do(t, s, "GET", "/healthz", nil, map[string]string{"X-Request-Id": "caller-req-0001"})
	if got := w.Header().Get("X-Request-Id"); got != "caller-req-0001" {
		t.Errorf("X-Request-Id = %q, want the caller's", got)
	}
	w = do(t, s, "GET", "/healthz", nil, map[string]string{"X-Request-Id": "bad id\r\nX-Evil: 1"})
	if got := w.Header().Get("X-Request-Id"); got == "" || strings.Contains(got, "Evil") {
		t.Errorf("X-Request-Id = %q, want a fresh id", got)
	}
}

// TestGracefulShutdown starts a real listener, begins a slow request,
// cancels the serve context and checks the request completes and Serve
// returns nil.
func TestGracefulShutdown(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	started := make(chan struct{})
	release := make(chan struct{})
	s.mux.Handle("GET /slow", s.handle(func(w http.ResponseWriter, r *http.Request) error {
		close(started)
		<-release
		writeJSON(w, 200, map[string]string{"done": "yes"})
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr()
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx, ln, nil) }()
	respc := make(chan *http.Response, 1)
	go func() {
		resp, err := http.Get("http://" + addr.String() + "/slow")
		if err != nil {
			t.Errorf("in-flight request failed: %v", err)
			close(respc)
			return
		}
		respc <- resp
	}()
	<-started
	cancel()
	time.Sleep(50 * time.Millisecond) // let Shutdown close the listener
	if _, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		t.Errorf("listener still accepting after shutdown began")
	}
	close(release)
	resp := <-respc
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("in-flight request = %v, want 200", resp)
	}
	resp.Body.Close()
	if err := <-errc; err != nil {
		t.Errorf("Serve = %v, want nil after graceful shutdown", err)
	}
}

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type fakeStaff struct {
	loggedOut []string
	sources   []string
}

func (f *fakeStaff) Login(ctx context.Context, u, p, totp, source string) (string, time.Time, error) {
	f.sources = append(f.sources, source)
	switch {
	case u == "backoff":
		return "", time.Time{}, &SignInBackoffError{RetryAfter: 1500 * time.Millisecond}
	case u == "busy":
		return "", time.Time{}, ErrBusy
	case u == "boom":
		return "", time.Time{}, errors.New("db gone")
	case u == "alice" && p == "pw" && totp == "123456":
		return "mdg_st_x", time.Unix(1_900_000_000, 0), nil
	}
	return "", time.Time{}, ErrInvalidCredentials
}

func (f *fakeStaff) Logout(ctx context.Context, tok string) error {
	if tok != "mdg_st_x" {
		return ErrInvalidToken
	}
	f.loggedOut = append(f.loggedOut, tok)
	return nil
}

func TestStaffSessions(t *testing.T) {
	fs := &fakeStaff{}
	s, logs := newTestServer(t, Config{Staff: fs})
	js := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name, body string
		status     int
	}{
		{"ok", `{"username":"alice","password":"pw","totp":"123456"}`, 200},
		{"wrong password", `{"username":"alice","password":"nope","totp":"123456"}`, 401},
		{"unknown user", `{"username":"mallory","password":"pw","totp":"123456"}`, 401},
		{"backoff", `{"username":"backoff","password":"pw","totp":"123456"}`, 429},
		{"busy", `{"username":"busy","password":"pw","totp":"123456"}`, 503},
		{"missing totp", `{"username":"alice","password":"pw"}`, 400},
		{"unknown field", `{"username":"alice","password":"pw","totp":"1","admin":true}`, 400},
		{"server fault", `{"username":"boom","password":"pw","totp":"1"}`, 500},
	}
	var unknown, wrong string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/v1/staff/sessions", strings.NewReader(tt.body), js)
			if w.Code != tt.status {
				t.Fatalf("login = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if tt.status != 200 {
				p := decodeProblem(t, w)
				switch tt.name {
				case "unknown user":
					unknown = p.Detail
				case "wrong password":
					wrong = p.Detail
				}
				return
			}
			if !strings.Contains(w.Body.String(), `"token":"mdg_st_x"`) {
				t.Errorf("login body = %s", w.Body)
			}
		})
	}
	if unknown != wrong {
		t.Errorf("unknown user and wrong password answer differently: %q vs %q", unknown, wrong)
	}
	if strings.Contains(logs.String(), `"pw"`) || strings.Contains(logs.String(), "123456") {
		t.Errorf("credentials in the log")
	}
	w := do(t, s, "DELETE", "/v1/staff/sessions/current", nil, map[string]string{"Authorization": "Bearer mdg_st_x"})
	if w.Code != 204 || len(fs.loggedOut) != 1 || fs.loggedOut[0] != "mdg_st_x" {
		t.Errorf("logout = %d, logged out %v", w.Code, fs.loggedOut)
	}
	if w := do(t, s, "DELETE", "/v1/staff/sessions/current", nil, nil); w.Code != 401 {
		t.Errorf("logout without token = %d, want 401", w.Code)
	}
	// An unknown (or already ended) session is 401, not 204.
	w = do(t, s, "DELETE", "/v1/staff/sessions/current", nil, map[string]string{"Authorization": "Bearer mdg_st_unknown"})
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != `Bearer realm="madoguchi", error="invalid_token"` {
		t.Errorf("logout of an unknown session = %d %q, want 401 invalid_token", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	decodeProblem(t, w)
	if fs.sources[0] != "192.0.2.1" {
		t.Errorf("source passed to Login = %q, want the client address", fs.sources[0])
	}
}

// TestStaffSignInAnswers: backoff is 429 sign-in-backoff with Retry-After,
// a full hash queue 503 with Retry-After; the per-address limit is 429 and
// the global limit 503, both before the body is read.
func TestStaffSignInAnswers(t *testing.T) {
	js := map[string]string{"Content-Type": "application/json"}
	s, _ := newTestServer(t, Config{Staff: &fakeStaff{}})
	w := do(t, s, "POST", "/v1/staff/sessions", strings.NewReader(`{"username":"backoff","password":"pw","totp":"1"}`), js)
	if p := decodeProblem(t, w); w.Code != 429 || !strings.HasSuffix(p.Type, "/sign-in-backoff") || w.Header().Get("Retry-After") != "2" {
		t.Errorf("backoff = %d %s Retry-After %q", w.Code, p.Type, w.Header().Get("Retry-After"))
	}
	w = do(t, s, "POST", "/v1/staff/sessions", strings.NewReader(`{"username":"busy","password":"pw","totp":"1"}`), js)
	if decodeProblem(t, w); w.Code != 503 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("busy = %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}

	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	fs := &fakeStaff{}
	s, _ = newTestServer(t, Config{Staff: fs, Now: clock, SignIn: SignInLimits{PerAddress: 1, PerAddressBurst: 2, Global: 1, GlobalBurst: 3}})
	body := `{"username":"mallory","password":"pw","totp":"1"}`
	var codes []int
	for _, addr := range []string{"192.0.2.1:1", "192.0.2.1:2", "192.0.2.1:3", "192.0.2.2:1", "192.0.2.3:1"} {
		r := httptest.NewRequest("POST", "/v1/staff/sessions", strings.NewReader(body))
		r.RemoteAddr = addr
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		codes = append(codes, w.Code)
		if w.Code >= 429 && w.Header().Get("Retry-After") == "" {
			t.Errorf("%d without Retry-After", w.Code)
		}
	}
	// 2 from .1 pass, the 3rd is over its address's burst (429); .2 passes
	// (global burst 3 used up); .3 meets the global limit (503).
	if got := fmt.Sprint(codes); got != "[401 401 429 401 503]" {
		t.Errorf("statuses = %s, want [401 401 429 401 503]", got)
	}
	if len(fs.sources) != 3 {
		t.Errorf("Login called %d times, want 3 (limited attempts never reach it)", len(fs.sources))
	}
}

package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// decodeOAuthError checks an RFC 6749 §5.2 error response.
func decodeOAuthError(t *testing.T, w *httptest.ResponseRecorder) oauthErrorBody {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json (body %q)", ct, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	for k := range m {
		if k != "error" && k != "error_description" {
			t.Errorf("error body has member %q", k)
		}
	}
	var e oauthErrorBody
	_ = json.Unmarshal(w.Body.Bytes(), &e)
	if e.Error == "" {
		t.Errorf("error body %s has no error code", w.Body)
	}
	return e
}

// fakeOAuth stands in for package oauth's server: a token endpoint and a
// metadata document.
type fakeOAuth struct{}

func (fakeOAuth) Routes() map[string]http.Handler {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	return map[string]http.Handler{"POST /v1/oauth/token": ok, "GET /.well-known/oauth-authorization-server": ok}
}

func (fakeOAuth) AuthenticateResource(r *http.Request) (Principal, error) {
	return Principal{}, &ResourceError{Status: 401, Code: "invalid_token", Description: "no"}
}

// TestOAuthRoutesLimited: the authorization server's endpoints are mounted
// as they are; its POST endpoints sit behind the per-address limit, which
// answers RFC 6749 JSON (temporarily_unavailable, Retry-After) before the
// endpoint does any client-authentication work; GET documents are not
// limited.
func TestOAuthRoutesLimited(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, _ := newTestServer(t, Config{OAuth: fakeOAuth{}, RateLimit: 1, Burst: 2, Now: func() time.Time { return now }})
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for i := 0; i < 2; i++ {
		if w := do(t, s, "POST", "/v1/oauth/token", strings.NewReader("grant_type=client_credentials"), form); w.Code != 200 {
			t.Fatalf("token request %d = %d, want 200", i, w.Code)
		}
	}
	w := do(t, s, "POST", "/v1/oauth/token", strings.NewReader("grant_type=client_credentials"), form)
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("token request over the limit = %d (Retry-After %q), want 429, 1", w.Code, w.Header().Get("Retry-After"))
	}
	if e := decodeOAuthError(t, w); e.Error != "temporarily_unavailable" {
		t.Errorf("error = %q, want temporarily_unavailable", e.Error)
	}
	for i := 0; i < 5; i++ {
		if w := do(t, s, "GET", "/.well-known/oauth-authorization-server", nil, nil); w.Code != 200 {
			t.Fatalf("metadata request %d = %d, want 200 (not limited)", i, w.Code)
		}
	}
}

// TestResourceChallenges: resource endpoints answer RFC 6750 challenges:
// no error code without a bearer credential, invalid_token for a bad one,
// insufficient_scope with the scope.
func TestResourceChallenges(t *testing.T) {
	s, _ := newTestServer(t, Config{Audit: fakeAudit{}})
	for _, tt := range []struct {
		name, target, auth string
		status             int
		challenge          string
	}{
		{"no credential", "/v1/whoami", "", 401, `Bearer realm="madoguchi"`},
		{"Basic tried", "/v1/whoami", "Basic eDp5", 401, `Bearer realm="madoguchi"`},
		{"empty bearer", "/v1/whoami", "Bearer ", 401, `Bearer realm="madoguchi", error="invalid_request"`},
		{"unknown token", "/v1/whoami", "Bearer nope", 401, `Bearer realm="madoguchi", error="invalid_token"`},
		{"missing scope", "/v1/audit/entries/0", "Bearer tok-b", 403, `Bearer realm="madoguchi", error="insufficient_scope", scope="audit:read"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.auth != "" {
				hdr["Authorization"] = tt.auth
			}
			w := do(t, s, "GET", tt.target, nil, hdr)
			if w.Code != tt.status || w.Header().Get("WWW-Authenticate") != tt.challenge {
				t.Errorf("= %d %q, want %d %q", w.Code, w.Header().Get("WWW-Authenticate"), tt.status, tt.challenge)
			}
			decodeProblem(t, w)
		})
	}
}

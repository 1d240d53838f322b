package web

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
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

// TestTokenErrors: every failure of the token endpoint is RFC 6749 JSON with
// the right code and status; invalid_client carries a WWW-Authenticate
// challenge of the scheme the client tried, and none when it authenticated
// in the body.
func TestTokenErrors(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	formHdr := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	with := func(k, v string) map[string]string {
		h := map[string]string{k: v}
		for a, b := range formHdr {
			h[a] = b
		}
		return h
	}
	tests := []struct {
		name, body string
		hdr        map[string]string
		status     int
		code       string
		challenge  string
	}{
		{"bad client in body", "grant_type=client_credentials&client_assertion=forged", formHdr, 401, "invalid_client", ""},
		{"Basic tried", "grant_type=client_credentials", with("Authorization", "Basic Y2w6c2VjcmV0"), 401, "invalid_client", `Basic realm="madoguchi", charset="UTF-8"`},
		{"other scheme tried", "grant_type=client_credentials", with("Authorization", "DPoP abc"), 401, "invalid_client", `DPoP realm="madoguchi"`},
		{"garbage scheme", "grant_type=client_credentials", with("Authorization", `a"b c`), 401, "invalid_client", ""},
		{"wrong grant", "grant_type=password", formHdr, 400, "unsupported_grant_type", ""},
		{"bad form", "a=%zz", formHdr, 400, "invalid_request", ""},
		{"wrong content type", "grant_type=client_credentials", map[string]string{"Content-Type": "application/json"}, 415, "invalid_request", ""},
		{"oversized", "grant_type=client_credentials&x=" + strings.Repeat("a", maxTokenForm), formHdr, 413, "invalid_request", ""},
		{"server fault", "grant_type=client_credentials&client_assertion=boom", formHdr, 500, "server_error", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(t, s, "POST", "/v1/oauth/token", strings.NewReader(tt.body), tt.hdr)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
			if e := decodeOAuthError(t, w); e.Error != tt.code {
				t.Errorf("error = %q, want %q", e.Error, tt.code)
			}
			if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
		})
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

func TestOAuthMetadataServed(t *testing.T) {
	s, _ := newTestServer(t, Config{OAuthMetadata: func() any { return map[string]any{"issuer": "https://as.example"} }})
	w := do(t, s, "GET", "/.well-known/oauth-authorization-server", nil, nil)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"issuer":"https://as.example"`) {
		t.Errorf("metadata = %d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
	}
	s2, _ := newTestServer(t, Config{})
	if w := do(t, s2, "GET", "/.well-known/oauth-authorization-server", nil, nil); w.Code != 404 {
		t.Errorf("metadata without config = %d, want 404", w.Code)
	}
}

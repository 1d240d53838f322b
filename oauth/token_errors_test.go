package oauth

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestTokenEndpointErrors: every failure of the one token endpoint is RFC
// 6749 JSON with the right code and status, with or without the customer
// grants; invalid_client carries a WWW-Authenticate challenge of the scheme
// the client tried, and none when it authenticated in the body.
func TestTokenEndpointErrors(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cfg := e.srv.cfg
	cfg.Customers, cfg.CIBANotifier, cfg.Signer = nil, nil, nil
	clientOnly, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	form := "application/x-www-form-urlencoded"
	for _, srv := range []struct {
		name string
		s    *Server
	}{{"full", e.srv}, {"client_credentials only", clientOnly}} {
		for _, tt := range []struct {
			name, body, ctype, authz string
			status                   int
			code, challenge          string
		}{
			{"bad client in body", "grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=forged", form, "", 401, "invalid_client", ""},
			{"Basic tried", "grant_type=client_credentials", form, "Basic Y2w6c2VjcmV0", 401, "invalid_client", `Basic realm="madoguchi", charset="UTF-8"`},
			{"other scheme tried", "grant_type=client_credentials", form, "DPoP abc", 401, "invalid_client", `DPoP realm="madoguchi"`},
			{"garbage scheme", "grant_type=client_credentials", form, `a"b c`, 401, "invalid_client", ""},
			{"password grant", "grant_type=password&username=a&password=b", form, "", 400, "unsupported_grant_type", ""},
			{"no grant", "scope=a", form, "", 400, "invalid_request", ""},
			{"repeated grant", "grant_type=client_credentials&grant_type=client_credentials", form, "", 400, "invalid_request", ""},
			{"bad form", "a=%zz", form, "", 400, "invalid_request", ""},
			{"wrong content type", `{"grant_type":"client_credentials"}`, "application/json", "", 415, "invalid_request", ""},
			{"oversized", "grant_type=client_credentials&x=" + strings.Repeat("a", maxSmallForm), form, "", 413, "invalid_request", ""},
		} {
			t.Run(srv.name+"/"+tt.name, func(t *testing.T) {
				r := httptest.NewRequest("POST", e.base+PathToken, strings.NewReader(tt.body))
				r.Header.Set("Content-Type", tt.ctype)
				if tt.authz != "" {
					r.Header.Set("Authorization", tt.authz)
				}
				w := httptest.NewRecorder()
				srv.s.Routes()["POST "+PathToken].ServeHTTP(w, r)
				var body map[string]string
				if w.Code != tt.status || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Cache-Control") != "no-store" ||
					json.Unmarshal(w.Body.Bytes(), &body) != nil || body["error"] != tt.code {
					t.Fatalf("token(%s) = %d %q %s, want %d %s", tt.name, w.Code, w.Header().Get("Content-Type"), w.Body, tt.status, tt.code)
				}
				if got := w.Header().Get("WWW-Authenticate"); got != tt.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
				}
			})
		}
	}
}

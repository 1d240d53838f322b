package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestBadInputWritesNothing sends malformed, oversized, forged, expired,
// replayed and injection-laden requests to a real server: each gets a 4xx
// an error (RFC 6749 JSON at the token endpoint, problem+json elsewhere), and no token, assertion id or audit entry is written.
func TestBadInputWritesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	srv := startServer(t, dir)
	a := testApp(t, dir)
	c := newTenantClient(t, a, srv.url(), "Input Bank", "audit:read")

	counts := func() map[string]int {
		out := map[string]int{}
		for _, tbl := range []string{"access_tokens", "client_assertion_jtis", "audit_entries", "tenants", "api_clients"} {
			var n int
			if err := a.db.QueryRow(ctx, "SELECT count(*) FROM "+tbl).Scan(&n); err != nil {
				t.Fatalf("count %s: %v", tbl, err)
			}
			out[tbl] = n
		}
		return out
	}

	// Assertion variants.
	good := func(mod func(h, c map[string]any)) string {
		now := time.Now()
		hdr := map[string]any{"alg": "ES256", "kid": c.kid, "typ": "JWT"}
		cl := map[string]any{"iss": c.clientID, "sub": c.clientID, "aud": c.audience,
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text()}
		if mod != nil {
			mod(hdr, cl)
		}
		hb, _ := json.Marshal(hdr)
		cb, _ := json.Marshal(cl)
		in := b64(hb) + "." + b64(cb)
		if hdr["alg"] == "HS256" {
			// HMAC keyed with the client's public key: the classic confusion.
			pub, _ := x509.MarshalPKIXPublicKey(c.key.(*ecdsa.PrivateKey).Public())
			m := hmac.New(sha256.New, pub)
			m.Write([]byte(in))
			return in + "." + b64(m.Sum(nil))
		}
		if hdr["alg"] == "none" {
			return in + "."
		}
		sig, err := signJWS(c.key, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		return in + "." + b64(sig)
	}
	replayed := good(nil)
	resp, err := http.PostForm(srv.url()+"/v1/oauth/token", tokenForm(replayed))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("first use of the assertion = %v %v", resp, err)
	}
	resp.Body.Close()

	const meta = `x'; DROP TABLE api_clients; --"` + "\x00<script>"
	before := counts()
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
	}{
		{"replayed assertion", "application/x-www-form-urlencoded", tokenForm(replayed).Encode(), 401},
		{"expired assertion", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) {
			c["iat"] = time.Now().Add(-10 * time.Minute).Unix()
			c["exp"] = time.Now().Add(-5 * time.Minute).Unix()
		})).Encode(), 401},
		{"lifetime over 5 minutes", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) {
			c["exp"] = time.Now().Add(time.Hour).Unix()
		})).Encode(), 401},
		{"wrong audience", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { c["aud"] = "https://evil.example" })).Encode(), 401},
		{"alg none", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { h["alg"] = "none" })).Encode(), 401},
		{"HMAC with the public key", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { h["alg"] = "HS256" })).Encode(), 401},
		{"unknown kid", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { h["kid"] = "nope" })).Encode(), 401},
		{"unknown client", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { c["iss"], c["sub"] = "cl_unknown", "cl_unknown" })).Encode(), 401},
		{"metacharacters in client id", "application/x-www-form-urlencoded", tokenForm(good(func(h, c map[string]any) { c["iss"], c["sub"] = meta, meta })).Encode(), 401},
		{"metacharacters in scope", "application/x-www-form-urlencoded", withParam(tokenForm(good(nil)), "scope", meta).Encode(), 400},
		{"metacharacters in client_id param", "application/x-www-form-urlencoded", withParam(tokenForm(good(nil)), "client_id", meta).Encode(), 401},
		{"metacharacters as assertion", "application/x-www-form-urlencoded", withParam(tokenForm(""), "client_assertion", meta).Encode(), 401},
		{"repeated parameter", "application/x-www-form-urlencoded", tokenForm(good(nil)).Encode() + "&grant_type=client_credentials", 400},
		{"wrong grant", "application/x-www-form-urlencoded", withParam(tokenForm(good(nil)), "grant_type", "password").Encode(), 400},
		{"JSON body", "application/json", `{"grant_type":"client_credentials"}`, 415},
		{"oversized", "application/x-www-form-urlencoded", "grant_type=client_credentials&pad=" + strings.Repeat("A", 32<<10), 413},
		{"malformed form", "application/x-www-form-urlencoded", "%zz=%", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(srv.url()+"/v1/oauth/token", tt.contentType, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, b)
			}
			// The token endpoint answers RFC 6749 §5.2 JSON errors.
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !strings.Contains(string(b), `"error":`) {
				t.Errorf("Content-Type = %q, body %s: want an RFC 6749 JSON error", ct, b)
			}
			if strings.Contains(string(b), "DROP TABLE") || strings.Contains(string(b), "<script>") {
				t.Errorf("error echoes the input: %s", b)
			}
		})
	}
	// Bearer-side bad input.
	for name, hdr := range map[string]string{
		"garbage token":     "Bearer " + strings.ReplaceAll(meta, "\x00", ""),
		"token of no one":   "Bearer mdg_at_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"oversized token":   "Bearer " + strings.Repeat("a", 5000),
		"basic credentials": "Basic dXNlcjpwYXNz",
	} {
		req, _ := http.NewRequest("GET", srv.url()+"/v1/whoami", nil)
		req.Header.Set("Authorization", hdr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: whoami = %d %s, want 401 problem+json", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	after := counts()
	for tbl, n := range before {
		if after[tbl] != n {
			t.Errorf("%s rows %d -> %d: bad input wrote something", tbl, n, after[tbl])
		}
	}
}

func tokenForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion}}
}

func withParam(v url.Values, k, val string) url.Values {
	v.Set(k, val)
	return v
}

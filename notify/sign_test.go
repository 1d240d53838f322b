package notify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// RFC 9421 Appendix B.1.4 test-key-ed25519 (JWK d and x).
const (
	rfcEd25519D = "n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU"
	rfcEd25519X = "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"
)

// rfcRequest is the test-request of RFC 9421 Appendix B.2.
func rfcRequest(t *testing.T) *http.Request {
	t.Helper()
	r, err := http.NewRequest("POST", "https://example.com/foo?param=Value&Pet=dog", strings.NewReader(`{"hello": "world"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Host", "example.com")
	r.Header.Set("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Digest", "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:")
	r.Header.Set("Content-Length", "18")
	return r
}

// TestRFC9421Ed25519Vector reproduces RFC 9421 B.2.6 (Ed25519 is
// deterministic): our signature base and signature equal the RFC's, and
// our parser reads its Signature-Input.
func TestRFC9421Ed25519Vector(t *testing.T) {
	d, _ := base64.RawURLEncoding.DecodeString(rfcEd25519D)
	x, _ := base64.RawURLEncoding.DecodeString(rfcEd25519X)
	key := ed25519.NewKeyFromSeed(d)
	if !bytes.Equal(key.Public().(ed25519.PublicKey), x) {
		t.Fatal("RFC test key: seed does not give the published public key")
	}
	const input = `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	const want = "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
	dict, err := ParseDictionary(input)
	if err != nil || len(dict) != 1 || dict[0].Key != "sig-b26" {
		t.Fatalf("ParseDictionary(B.2.6) = %+v, %v", dict, err)
	}
	var comps []string
	for _, it := range dict[0].Value.List {
		comps = append(comps, it.Str)
	}
	r := rfcRequest(t)
	base, err := signatureBase(r, comps, dict[0].Value.Raw)
	if err != nil {
		t.Fatal(err)
	}
	wantBase := `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	if base != wantBase {
		t.Fatalf("signature base =\n%s\nwant\n%s", base, wantBase)
	}
	if got := base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(base))); got != want {
		t.Errorf("signature = %s, want the RFC's %s", got, want)
	}
	// The RFC's Content-Digest (sha-512) checks against its body.
	if err := CheckContentDigest(r.Header.Values("Content-Digest"), []byte(`{"hello": "world"}`)); err != nil {
		t.Errorf("CheckContentDigest(RFC B.2 sha-512) = %v", err)
	}
}

func signed(t *testing.T, s *Signer, url, body string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", url, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/jwt")
	r.Header.Set("Webhook-Id", "ev_1")
	if err := s.Sign(r, []byte(body), at); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestVerifyTampering: a signed request verifies; changing the body, a
// covered header, the method, the target, the created time, the key or
// the label does not.
func TestVerifyTampering(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner(k)
	keys, err := ParseJWKS(s.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	const url, body = "https://bank.example/hooks/kyc?tenant=a", "eyJhbGciOiJFUzI1NiJ9.e30.sig"
	if kid, err := Verify(signed(t, s, url, body, now), []byte(body), keys, VerifyOptions{Now: now}); err != nil || kid != s.KeyID() {
		t.Fatalf("Verify(untouched) = %q, %v", kid, err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	os, _ := NewSigner(other)
	tests := []struct {
		name   string
		mut    func(r *http.Request) []byte
		now    time.Time
		want   error
		target string
	}{
		{"body", func(r *http.Request) []byte { return []byte(body + "x") }, now, ErrDigest, ""},
		{"body and digest", func(r *http.Request) []byte {
			r.Header.Set("Content-Digest", ContentDigest([]byte(body+"x")))
			return []byte(body + "x")
		}, now, ErrSignature, ""},
		{"content-type", func(r *http.Request) []byte { r.Header.Set("Content-Type", "application/json"); return []byte(body) }, now, ErrSignature, ""},
		{"webhook-id", func(r *http.Request) []byte { r.Header.Set("Webhook-Id", "ev_2"); return []byte(body) }, now, ErrSignature, ""},
		{"method", func(r *http.Request) []byte { r.Method = "PUT"; return []byte(body) }, now, ErrSignature, ""},
		{"target", func(r *http.Request) []byte { return []byte(body) }, now, ErrSignature, "https://evil.example/hooks/kyc?tenant=a"},
		{"query", func(r *http.Request) []byte { return []byte(body) }, now, ErrSignature, "https://bank.example/hooks/kyc?tenant=b"},
		{"created rewritten", func(r *http.Request) []byte {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), "created=1800000000", "created=1800000100", 1))
			return []byte(body)
		}, now.Add(100 * time.Second), ErrSignature, ""},
		{"too old", func(r *http.Request) []byte { return []byte(body) }, now.Add(6 * time.Minute), ErrStale, ""},
		{"from the future", func(r *http.Request) []byte { return []byte(body) }, now.Add(-2 * time.Minute), ErrStale, ""},
		{"another key", func(r *http.Request) []byte {
			o := signed(t, os, url, body, now)
			r.Header.Set("Signature", o.Header.Get("Signature"))
			return []byte(body)
		}, now, ErrSignature, ""},
		{"unknown key id", func(r *http.Request) []byte {
			o := signed(t, os, url, body, now)
			r.Header.Set("Signature", o.Header.Get("Signature"))
			r.Header.Set("Signature-Input", o.Header.Get("Signature-Input"))
			return []byte(body)
		}, now, ErrUnknownKey, ""},
		{"component dropped", func(r *http.Request) []byte {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), ` "webhook-id"`, "", 1))
			return []byte(body)
		}, now, ErrSignature, ""},
		{"other tag", func(r *http.Request) []byte {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), SignatureTag, "other", 1))
			return []byte(body)
		}, now, ErrNoSignature, ""},
		{"no signature", func(r *http.Request) []byte { r.Header.Del("Signature"); return []byte(body) }, now, ErrNoSignature, ""},
		{"no digest", func(r *http.Request) []byte { r.Header.Del("Content-Digest"); return []byte(body) }, now, ErrDigest, ""},
		{"alg", func(r *http.Request) []byte {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `alg="ed25519"`, `alg="hmac-sha256"`, 1))
			return []byte(body)
		}, now, ErrSignature, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed(t, s, url, body, now)
			b := tt.mut(r)
			_, err := Verify(r, b, keys, VerifyOptions{Now: tt.now, TargetURI: tt.target})
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestParseDictionary(t *testing.T) {
	good := []string{
		`sig1=("@method" "content-digest");created=1;keyid="k";alg="ed25519";tag="t"`,
		`sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:AA==:`,
		`a=1, b=?0, c=tok/en:x, d`,
		`a=("x";p=1 "y");q`,
	}
	for _, s := range good {
		if _, err := ParseDictionary(s); err != nil {
			t.Errorf("ParseDictionary(%q) = %v", s, err)
		}
	}
	bad := []string{`A=1`, `a=`, `a=1,`, `a="unterminated`, `a=:not base64!:`, `a=(1 2`, `a=1.5`, `a="\x"`, `a=1;;`, `a=1 b=2`, "a=\"\x01\"", `a=1234567890123456`}
	for _, s := range bad {
		if _, err := ParseDictionary(s); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseDictionary(%q) = %v, want ErrMalformed", s, err)
		}
	}
	if _, err := ParseDictionary(strings.Repeat("a=1,", MaxFieldLen)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ParseDictionary(huge) = %v, want ErrMalformed", err)
	}
}

func FuzzParseDictionary(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key";alg="ed25519";tag="madoguchi-webhook"`)
	f.Add(`sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:`)
	f.Add(`a=?1;x, b=(1 2 "x");p=tok, c=-5`)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDictionary(s)
		if err == nil && len(d) > 64 {
			t.Fatalf("%d members", len(d))
		}
	})
}

// FuzzVerify feeds arbitrary Signature-Input, Signature and Content-Digest
// values to Verify: it must never panic, and must never accept.
func FuzzVerify(f *testing.F) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner(k)
	keys, _ := ParseJWKS(s.JWKS())
	now := time.Unix(1_800_000_000, 0)
	r := signed(&testing.T{}, s, "https://a.example/h", "body", now)
	f.Add(r.Header.Get("Signature-Input"), r.Header.Get("Signature"), r.Header.Get("Content-Digest"))
	f.Add(`x=("@method");created=1;tag="madoguchi-webhook"`, `x=:AA==:`, `sha-256=:AA==:`)
	f.Fuzz(func(t *testing.T, in, sig, digest string) {
		req := httptest.NewRequest("POST", "https://a.example/h", strings.NewReader("other body"))
		req.Header.Set("Content-Type", "application/jwt")
		req.Header.Set("Webhook-Id", "ev_1")
		req.Header.Set("Signature-Input", in)
		req.Header.Set("Signature", sig)
		req.Header.Set("Content-Digest", digest)
		if _, err := Verify(req, []byte("other body"), keys, VerifyOptions{Now: now}); err == nil {
			t.Fatalf("Verify accepted forged fields %q %q %q", in, sig, digest)
		}
	})
}

// TestVerifyOnReceiver signs client requests and verifies them as a real
// receiver rebuilds them from the request line: a URL without a path is
// sent as "/" and must verify (it did not: the signer covered "http://h:p"
// while the receiver saw "http://h:p/").
func TestVerifyOnReceiver(t *testing.T) {
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, _ := NewSigner(k)
	keys, err := ParseJWKS(s.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	const body = `{"event":"x"}`
	got := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, err := Verify(r, b, keys, VerifyOptions{})
		got <- err
	}))
	defer srv.Close()
	for _, path := range []string{"", "/", "/hooks/kyc", "/hooks/kyc?tenant=a&x=%2F"} {
		req, err := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Webhook-Id", "ev_1")
		if err := s.Sign(req, []byte(body), time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := <-got; err != nil {
			t.Errorf("receiver Verify(URL %q) = %v, want nil", srv.URL+path, err)
		}
	}
}

func TestValidBearer(t *testing.T) {
	for _, c := range []struct {
		tok  string
		want bool
	}{
		{"abc", true},
		{"A-._~+/9", true},
		{"tok==", true},
		{strings.Repeat("a", MaxBearer), true},
		{"", false},
		{"=", false},
		{"=abc", false},
		{"ab=c", false},
		{"two words", false},
		{"tok\r\nX-Injected: 1", false},
		{"tök", false},
		{"a,b", false},
		{strings.Repeat("a", MaxBearer+1), false},
	} {
		if got := ValidBearer(c.tok); got != c.want {
			t.Errorf("ValidBearer(%q) = %v, want %v", c.tok, got, c.want)
		}
	}
}

// FuzzValidBearer: whatever it accepts is safe in an Authorization header
// value and survives a round trip through one.
func FuzzValidBearer(f *testing.F) {
	for _, s := range []string{"abc", "tok==", "a b", "x\r\ny", "=", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if !ValidBearer(tok) {
			return
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		if strings.ContainsAny(tok, " \t\r\n,;\"") || h.Get("Authorization") != "Bearer "+tok || len(tok) > MaxBearer {
			t.Errorf("ValidBearer(%q) = true for a token unsafe in a header", tok)
		}
	})
}

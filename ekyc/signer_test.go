package ekyc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSigner(t testing.TB) *Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyResult(t *testing.T) {
	s, other := testSigner(t), testSigner(t)
	jws, err := s.Sign([]byte(`{"outcome":"approved"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := VerifyResult(jws, s.JWKS()); err != nil || string(p) != `{"outcome":"approved"}` {
		t.Fatalf("VerifyResult = %q, %v", p, err)
	}
	enc := func(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }
	parts := strings.Split(jws, ".")
	hs := func(hdr string) string {
		in := enc(hdr) + "." + parts[1]
		m := hmac.New(sha256.New, s.JWKS()) // the "public key as HMAC secret" trick
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	for _, tc := range []struct {
		name, jws string
		jwks      []byte
	}{
		{"other key set", jws, other.JWKS()},
		{"alg none", enc(`{"alg":"none","typ":"`+ResultType+`"}`) + "." + parts[1] + ".", s.JWKS()},
		{"HS256 with the public key", hs(`{"alg":"HS256","kid":"` + s.KeyID() + `","typ":"` + ResultType + `"}`), s.JWKS()},
		{"wrong typ", enc(`{"alg":"ES256","kid":"`+s.KeyID()+`","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], s.JWKS()},
		{"crit", enc(`{"alg":"ES256","kid":"`+s.KeyID()+`","typ":"`+ResultType+`","crit":["x"]}`) + "." + parts[1] + "." + parts[2], s.JWKS()},
		{"tampered payload", parts[0] + "." + enc(`{"outcome":"rejected"}`) + "." + parts[2], s.JWKS()},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:40], s.JWKS()},
		{"two parts", parts[0] + "." + parts[1], s.JWKS()},
		{"garbage", "...", s.JWKS()},
		{"bad key set", jws, []byte("{")},
		{"huge", strings.Repeat("a", MaxResultJWS+1), s.JWKS()},
	} {
		if _, err := VerifyResult(tc.jws, tc.jwks); !errors.Is(err, ErrSignature) {
			t.Errorf("VerifyResult(%s) = %v, want ErrSignature", tc.name, err)
		}
	}
}

func FuzzVerifyResult(f *testing.F) {
	s := testSigner(f)
	jws, _ := s.Sign([]byte(`{"a":1}`))
	f.Add(jws)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := VerifyResult(in, s.JWKS())
		if err == nil && in != jws && string(p) != `{"a":1}` {
			// ECDSA signatures are malleable only through re-signing;
			// any accepted input must carry the signed payload.
			t.Fatalf("VerifyResult accepted a forged payload %q", p)
		}
	})
}

func TestSignerKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", "ekyc-result.pem")
	if _, err := LoadSigner(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadSigner(missing) = %v, want fs.ErrNotExist", err)
	}
	s1, created, err := LoadOrCreateDevSigner(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreateDevSigner(first) = %v, created %v", err, created)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	s2, created, err := LoadOrCreateDevSigner(path)
	if err != nil || created || s2.KeyID() != s1.KeyID() {
		t.Errorf("LoadOrCreateDevSigner(second) = %v, created %v, same key %v", err, created, s2 != nil && s2.KeyID() == s1.KeyID())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(path); !errors.Is(err, ErrKeyFileMode) {
		t.Errorf("LoadSigner(0644) = %v, want ErrKeyFileMode", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSigner(bad); err == nil {
		t.Error("LoadSigner(not PEM) = nil, want an error")
	}
	if strings.Contains(s1.LogValue().String(), "PRIVATE") {
		t.Error("Signer.LogValue shows key material")
	}
}

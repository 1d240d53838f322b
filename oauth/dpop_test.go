package oauth

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// TestDPoPClaims: the proof's claims are read strictly — a member that is
// present has its type (null is not "absent"), iat is an integer, ath is
// exactly base64url(SHA-256(token)) — with and without the key cache, and
// a cached key gives the same answers as a freshly parsed one.
func TestDPoPClaims(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	dk := newDPoPKey(t)
	const tok = "mdg_oat_example"
	th := sha256.Sum256([]byte(tok))
	u := "https://as.example/resource"
	now := e.clock.now()
	want := dpopCheck{method: "GET", htu: u, ath: &th}
	raw := func(c map[string]any) string {
		h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": dk.jwk}
		return sign(t, h, c, dk.key)
	}
	base := func() map[string]any {
		d := sha256.Sum256([]byte(tok))
		return map[string]any{"jti": "j-1", "htm": "GET", "htu": u, "iat": now.Unix(), "ath": b64.EncodeToString(d[:]), "nonce": "n"}
	}
	with := func(k string, v any) string {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return raw(c)
	}
	athNonCanonical := func() string {
		c := base()
		a := []byte(c["ath"].(string))
		// The last of 43 characters carries 4 bits of the hash and 2
		// padding bits: set a padding bit, the decoded bytes stay equal.
		const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range alpha {
			if alpha[i] == a[42] {
				a[42] = alpha[i|1]
				break
			}
		}
		if string(a) == c["ath"] {
			t.Skip("ath's last character already has the bit set")
		}
		c["ath"] = string(a)
		return raw(c)
	}
	null := nullJSON{}
	for _, tc := range []struct {
		name  string
		proof string
		ok    bool
	}{
		{"valid", raw(base()), true},
		{"extra claim ignored", with("x", "y"), true},
		{"no jti", with("jti", nil), false},
		{"jti null", with("jti", null), false},
		{"jti empty", with("jti", ""), false},
		{"jti number", with("jti", 1), false},
		{"htm null", with("htm", null), false},
		{"htu null", with("htu", null), false},
		{"no iat", with("iat", nil), false},
		{"iat null", with("iat", null), false},
		{"iat string", with("iat", "1700000000"), false},
		{"iat float", with("iat", 1.5), false},
		{"iat exponent", with("iat", nullJSON{raw: "17e8"}), false},
		{"ath null", with("ath", null), false},
		{"no ath", with("ath", nil), false},
		{"ath of another token", with("ath", b64.EncodeToString(make([]byte, 32))), false},
		{"ath padded", with("ath", base()["ath"].(string)+"="), false},
		{"ath non-canonical", athNonCanonical(), false},
		{"nonce null", with("nonce", null), false},
	} {
		for _, cache := range []*tenant.KeyCache{nil, e.srv.dpopKeys, e.srv.dpopKeys} {
			p, err := parseDPoP(cache, tc.proof)
			if err == nil {
				err = p.claims.check(want, now)
			}
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrDPoP)) {
				t.Errorf("%s (cache %v): err = %v, want ok=%v", tc.name, cache != nil, err, tc.ok)
			}
			if err == nil && p.jkt != dk.jkt {
				t.Errorf("%s: jkt = %s, want %s", tc.name, p.jkt, dk.jkt)
			}
		}
	}
	// At the token endpoint (no ath expected), ath must not be sent.
	p, err := parseDPoP(nil, raw(base()))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.claims.check(dpopCheck{method: "GET", htu: u}, now); !errors.Is(err, ErrDPoP) {
		t.Errorf("ath at the token endpoint: %v, want ErrDPoP", err)
	}
	if err := p.claims.check(want, now.Add(2*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Errorf("old proof: %v, want ErrExpired", err)
	}
}

// nullJSON marshals as its raw text, null by default.
type nullJSON struct{ raw string }

func (n nullJSON) MarshalJSON() ([]byte, error) {
	if n.raw == "" {
		return []byte("null"), nil
	}
	return []byte(n.raw), nil
}

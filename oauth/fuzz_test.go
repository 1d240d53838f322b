package oauth

import (
	"net/url"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/tenant"
)

// FuzzParseDPoP: any input is refused with ErrDPoP or parsed into claims
// whose jti is bounded; it never panics.
func FuzzParseDPoP(f *testing.F) {
	f.Add("eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2In0.e30.AAAA")
	f.Add("a.b.c")
	f.Add("")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	// Signed proofs, valid and with null members (refused).
	dk := newDPoPKey(f)
	h := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": dk.jwk}
	f.Add(sign(f, h, map[string]any{"jti": "j", "htm": "GET", "htu": "https://as.example/x", "iat": 1}, dk.key))
	f.Add(sign(f, h, map[string]any{"jti": "j", "htm": "GET", "htu": "https://as.example/x", "iat": 1, "nonce": nil, "ath": nil}, dk.key))
	f.Add(sign(f, h, map[string]any{"jti": nil, "htm": "GET", "htu": "https://as.example/x", "iat": nil}, dk.key))
	keys := tenant.NewKeyCache(4)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseDPoP(nil, s)
		// The cache changes nothing but the cost.
		if pc, errc := parseDPoP(keys, s); (errc == nil) != (err == nil) || (err == nil && (pc.jkt != p.jkt || pc.claims != p.claims)) {
			t.Fatalf("parseDPoP with a key cache = %+v, %v; without = %+v, %v", pc, errc, p, err)
		}
		if err == nil && (p.claims.jti == "" || len(p.claims.jti) > maxJTI || p.jkt == "") {
			t.Fatalf("parseDPoP accepted %q with claims %+v", s, p.claims)
		}
		if err == nil {
			_ = p.claims.check(dpopCheck{method: "GET", htu: "https://as.example/x"}, time.Now())
		}
	})
}

// FuzzParseDetails: accepted details are of an allowed type and within the
// limits shown to the customer.
func FuzzParseDetails(f *testing.F) {
	f.Add(`[{"type":"jp_bank_transfer","amount":"15000","currency":"JPY","payee":{"bank_code":"0001","branch_code":"123","account_type":"ordinary","account_number":"1234567","name":"ヤマダ"},"purpose":"x"}]`)
	f.Add(`[{"type":"account_information","actions":["read_balances"],"accounts":[{"bank_code":"0001","branch_code":"123","account_type":"savings","account_number":"7654321"}]}]`)
	f.Add(`[{"type":"jp_bank_transfer","amount":"1","amount":"2"}]`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := ParseDetails(s, []string{DetailTransfer, DetailAccounts})
		if err != nil {
			return
		}
		if len(ds) == 0 || len(ds) > maxDetails {
			t.Fatalf("%d details accepted", len(ds))
		}
		for _, d := range ds {
			if d.Type == DetailTransfer && (d.Payee == nil || d.Currency != "JPY" || !amountR.MatchString(d.Amount)) {
				t.Fatalf("transfer accepted without payee/JPY/amount: %+v", d)
			}
			_ = describeDetails([]Detail{d})
		}
	})
}

// FuzzAuthzRequest: the PAR parameter validator never panics and only
// accepts code + S256 with a registered redirect URI.
func FuzzAuthzRequest(f *testing.F) {
	f.Add("response_type=code&redirect_uri=https%3A%2F%2Fp.example%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&scope=openid")
	f.Add("response_type=token")
	f.Add("request_uri=urn:x&response_type=code")
	f.Fuzz(func(t *testing.T, q string) {
		form, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		c := tenant.Client{ID: "cl_1", Scopes: []string{"accounts:read"}}
		p := Profile{ProfileSpec: ProfileSpec{RedirectURIs: []string{"https://p.example/cb"}, RARTypes: []string{DetailTransfer}}}
		r, e := parseAuthzRequest(formParams(form), c, p)
		if e == nil && (r.RedirectURI != "https://p.example/cb" || !pkceChallengeRE.MatchString(r.CodeChallenge) || form.Get("response_type") != "code") {
			t.Fatalf("accepted %q as %+v", q, r)
		}
	})
}

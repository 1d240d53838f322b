package tenant

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func jwtRequest(assertion string, scopes ...string) TokenRequest {
	return TokenRequest{GrantType: "client_credentials", ClientAssertionType: ClientAssertionType, ClientAssertion: assertion, Scopes: scopes}
}

func TestTokenPrivateKeyJWT(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		for _, alg := range []string{AlgES256, AlgEdDSA, AlgPS256} {
			t.Run(alg, func(t *testing.T) {
				k := newKey(t, alg, "k-"+alg)
				c := f.client(t, tn.ID, ClientSpec{Name: "app " + alg, Scopes: []string{"ekyc:read", "ekyc:write"}, JWKS: jwksOf(k)})
				tok, err := f.iss.Token(ctx, jwtRequest(k.sign(t, map[string]any{"typ": "JWT"}, mustJSON(claims(c.ID, f.clock.Now()))), "ekyc:read"))
				if err != nil {
					t.Fatalf("Token(%s) = %v, want nil", alg, err)
				}
				if tok.TokenType != "Bearer" || tok.CertBound || tok.ExpiresIn != DefaultTokenTTL {
					t.Errorf("Token = %+v", tok)
				}
				p, err := f.iss.Authenticate(ctx, tok.AccessToken.Reveal(), nil)
				if err != nil {
					t.Fatalf("Authenticate = %v", err)
				}
				want := Principal{TenantID: tn.ID, ClientID: c.ID, Scopes: []string{"ekyc:read"}}
				if diff := cmp.Diff(want, p); diff != "" {
					t.Errorf("Authenticate principal (-want +got):\n%s", diff)
				}
				if !p.Has("ekyc:read") || p.Has("ekyc:write") {
					t.Errorf("Principal.Has: read %v write %v, want true false", p.Has("ekyc:read"), p.Has("ekyc:write"))
				}
			})
		}
		if got := f.rec.actions(); !slices.Contains(got, "token.issue") || !slices.Contains(got, "client.create") {
			t.Errorf("audit actions = %v, want tenant.create, client.create and token.issue", got)
		}
	})
}

func TestTokenRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgES256, "k1")
		other := newKey(t, AlgES256, "k1")
		ed := newKey(t, AlgEdDSA, "ed")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"ekyc:read"}, JWKS: jwksOf(k, ed)})
		_, certPEM := selfSigned(t, f.clock.Now())
		mtls := f.client(t, tn.ID, ClientSpec{Name: "tls app", Scopes: []string{"ekyc:read"}, CertPEM: certPEM})
		now := f.clock.Now()
		with := func(kv ...any) []byte {
			m := claims(c.ID, now)
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			return mustJSON(m)
		}
		replayed := k.sign(t, nil, with())
		if _, err := f.iss.Token(ctx, jwtRequest(replayed)); err != nil {
			t.Fatalf("first use: Token = %v", err)
		}
		hs := seg(`{"alg":"HS256","kid":"k1"}`) + "." + b64.EncodeToString(with()) + "." + seg("mac")
		none := seg(`{"alg":"none"}`) + "." + b64.EncodeToString(with()) + "."
		tests := []struct {
			name string
			req  TokenRequest
			want []error
		}{
			{"replayed jti", jwtRequest(replayed), []error{ErrInvalidClient, ErrReplay}},
			{"expired", jwtRequest(k.sign(t, nil, with("iat", now.Add(-3*time.Minute).Unix(), "exp", now.Add(-time.Minute).Unix()))), []error{ErrInvalidClient, ErrClaims}},
			{"over-long", jwtRequest(k.sign(t, nil, with("exp", now.Add(5*time.Minute+time.Second).Unix()))), []error{ErrInvalidClient, ErrClaims}},
			{"iat in future", jwtRequest(k.sign(t, nil, with("iat", now.Add(time.Minute).Unix(), "exp", now.Add(2*time.Minute).Unix()))), []error{ErrInvalidClient, ErrClaims}},
			{"nbf in future", jwtRequest(k.sign(t, nil, with("nbf", now.Add(time.Minute).Unix()))), []error{ErrInvalidClient, ErrClaims}},
			{"no exp", jwtRequest(k.sign(t, nil, with("exp", nil))), []error{ErrInvalidClient, ErrClaims}},
			{"float exp", jwtRequest(k.sign(t, nil, with("exp", float64(now.Unix())+60.5))), []error{ErrInvalidClient, ErrClaims}},
			{"no jti", jwtRequest(k.sign(t, nil, with("jti", nil))), []error{ErrInvalidClient, ErrClaims}},
			{"wrong aud", jwtRequest(k.sign(t, nil, with("aud", "https://other.example"))), []error{ErrInvalidClient, ErrClaims}},
			{"aud list of two", jwtRequest(k.sign(t, nil, with("aud", []string{testIssuer, "https://other.example"}))), []error{ErrInvalidClient, ErrClaims}},
			{"sub differs", jwtRequest(k.sign(t, nil, with("sub", "someone"))), []error{ErrInvalidClient, ErrClaims}},
			{"client_id differs", func() TokenRequest {
				r := jwtRequest(k.sign(t, nil, with()))
				r.ClientID = mtls.ID
				return r
			}(), []error{ErrInvalidClient, ErrClaims}},
			{"alg none", jwtRequest(none), []error{ErrInvalidClient, ErrMalformedJWS}},
			{"HMAC confusion", jwtRequest(hs), []error{ErrInvalidClient, ErrAlgNotAllowed}},
			{"wrong key", jwtRequest(other.sign(t, nil, with())), []error{ErrInvalidClient, ErrBadSignature}},
			{"unknown kid", jwtRequest(k.sign(t, map[string]any{"kid": "k9"}, with())), []error{ErrInvalidClient, ErrUnknownKey}},
			{"key alg mismatch", jwtRequest(ed.sign(t, map[string]any{"kid": "k1"}, with())), []error{ErrInvalidClient, ErrKeyAlgMismatch}},
			{"typ dpop", jwtRequest(k.sign(t, map[string]any{"typ": "dpop+jwt"}, with())), []error{ErrInvalidClient, ErrMalformedJWS}},
			{"unknown client", jwtRequest(k.sign(t, nil, with("iss", "cl_nobody", "sub", "cl_nobody"))), []error{ErrInvalidClient, ErrUnknownClient}},
			{"SQL in iss", jwtRequest(k.sign(t, nil, with("iss", "' OR 1=1 --", "sub", "' OR 1=1 --"))), []error{ErrInvalidClient, ErrUnknownClient}},
			{"mTLS client with assertion", jwtRequest(k.sign(t, nil, with("iss", mtls.ID, "sub", mtls.ID))), []error{ErrInvalidClient, ErrWrongMethod}},
			{"wrong assertion type", func() TokenRequest {
				r := jwtRequest(k.sign(t, nil, with()))
				r.ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
				return r
			}(), []error{ErrInvalidClient}},
			{"no authentication", TokenRequest{GrantType: "client_credentials", ClientID: c.ID}, []error{ErrInvalidClient}},
			{"scope not granted", jwtRequest(k.sign(t, nil, with()), "ekyc:write"), []error{ErrInvalidScope}},
			{"grant type", TokenRequest{GrantType: "password"}, []error{ErrUnsupportedGrantType}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := len(f.rec.actions())
				_, err := f.iss.Token(ctx, tc.req)
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Errorf("Token(%s) = %v, want %v", tc.name, err, w)
					}
				}
				if after := len(f.rec.actions()); after != before {
					t.Errorf("Token(%s) appended %d audit entries, want 0", tc.name, after-before)
				}
			})
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM access_tokens`).Scan(&n); err != nil || n != 1 {
			t.Errorf("access_tokens rows = %d (%v), want 1 (only the first, valid request)", n, err)
		}
	})
}

// TestIssuerSweep: the token path keeps expired access tokens and spent
// assertion ids (no DELETE per request); Sweep deletes exactly the expired
// ones.
func TestIssuerSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgEdDSA, "k")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(k)})
		if _, err := f.iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now()))))); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(10 * time.Minute)
		if _, err := f.iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now()))))); err != nil {
			t.Fatal(err)
		}
		count := func(table string) int {
			var n int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		for _, tb := range []string{"client_assertion_jtis", "access_tokens"} {
			if n := count(tb); n != 2 {
				t.Errorf("%s rows after two token requests = %d, want 2 (the token path deletes nothing)", tb, n)
			}
		}
		got, err := f.iss.Sweep(ctx)
		if want := map[string]int64{"client_assertion_jtis": 1, "access_tokens": 1}; err != nil || !maps.Equal(got, want) {
			t.Errorf("Sweep = %v, %v, want %v", got, err, want)
		}
		for _, tb := range []string{"client_assertion_jtis", "access_tokens"} {
			if n := count(tb); n != 1 {
				t.Errorf("%s rows after Sweep = %d, want 1 (the unexpired one)", tb, n)
			}
		}
		if got, err := f.iss.Sweep(ctx); err != nil || got["access_tokens"]+got["client_assertion_jtis"] != 0 {
			t.Errorf("second Sweep = %v, %v, want nothing deleted", got, err)
		}
	})
}

func TestTokenMTLS(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		cert, certPEM := selfSigned(t, f.clock.Now())
		otherCert, _ := selfSigned(t, f.clock.Now())
		c := f.client(t, tn.ID, ClientSpec{Name: "tls", Scopes: []string{"ekyc:read"}, CertPEM: certPEM})
		req := TokenRequest{GrantType: "client_credentials", ClientID: c.ID, PeerCert: cert}
		tok, err := f.iss.Token(ctx, req)
		if err != nil {
			t.Fatalf("Token(mTLS) = %v", err)
		}
		if !tok.CertBound {
			t.Errorf("Token(mTLS).CertBound = false, want true")
		}
		for _, tc := range []struct {
			name string
			cert *x509.Certificate
			want error
		}{
			{"same cert", cert, nil},
			{"no cert", nil, ErrCertMismatch},
			{"other cert", otherCert, ErrCertMismatch},
		} {
			_, err := f.iss.Authenticate(ctx, tok.AccessToken.Reveal(), tc.cert)
			if !errors.Is(err, tc.want) || (tc.want != nil && !errors.Is(err, ErrInvalidToken)) {
				t.Errorf("Authenticate(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
		for _, tc := range []struct {
			name string
			req  TokenRequest
			want error
		}{
			{"other cert", TokenRequest{GrantType: "client_credentials", ClientID: c.ID, PeerCert: otherCert}, ErrCertMismatch},
			{"no client_id", TokenRequest{GrantType: "client_credentials", PeerCert: cert}, ErrUnknownClient},
			{"SQL client_id", TokenRequest{GrantType: "client_credentials", ClientID: "x' OR '1'='1", PeerCert: cert}, ErrUnknownClient},
		} {
			if _, err := f.iss.Token(ctx, tc.req); !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidClient) {
				t.Errorf("Token(%s) = %v, want %v", tc.name, err, tc.want)
			}
		}
		// A certificate registered once cannot be registered for a second client.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := f.reg.CreateClientTx(ctx, tx, f.admin, tn.ID, ClientSpec{Name: "dup", Scopes: []string{"a"}, CertPEM: certPEM})
			return err
		})
		if !errors.Is(err, ErrConflict) {
			t.Errorf("CreateClientTx(same cert) = %v, want ErrConflict", err)
		}
		// Expired certificate at the token endpoint.
		f.clock.Add(48 * time.Hour)
		if _, err := f.iss.Token(ctx, req); !errors.Is(err, ErrCertMismatch) {
			t.Errorf("Token(expired cert) = %v, want ErrCertMismatch", err)
		}
	})
}

func TestAuthenticateRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgES256, "k")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(k)})
		issue := func() string {
			tok, err := f.iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now())))))
			if err != nil {
				t.Fatal(err)
			}
			return tok.AccessToken.Reveal()
		}
		tok := issue()
		for _, bad := range []string{"", "Bearer " + tok, tok + "x", flipLast(tok), strings.Repeat("'", tokenLen), tokenPrefix + strings.Repeat("A", 43)} {
			if _, err := f.iss.Authenticate(ctx, bad, nil); !errors.Is(err, ErrInvalidToken) {
				t.Errorf("Authenticate(%.12q…) = %v, want ErrInvalidToken", bad, err)
			}
		}
		f.clock.Add(DefaultTokenTTL)
		if _, err := f.iss.Authenticate(ctx, tok, nil); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("Authenticate(expired) = %v, want ErrTokenExpired", err)
		}
		tok = issue()
		if err := f.reg.DisableClient(ctx, f.admin, tn.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.iss.Authenticate(ctx, tok, nil); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Authenticate(after DisableClient) = %v, want ErrInvalidToken", err)
		}
		if _, err := f.iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now()))))); !errors.Is(err, ErrUnknownClient) {
			t.Errorf("Token(disabled client) = %v, want ErrUnknownClient", err)
		}
		// Re-enabled: new tokens work, the old one stays revoked.
		if err := f.reg.EnableClient(ctx, f.admin, tn.ID, c.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.reg.EnableClient(ctx, f.admin, tn.ID, c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("EnableClient(active) = %v, want ErrNotFound", err)
		}
		if _, err := f.iss.Authenticate(ctx, tok, nil); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Authenticate(old token after re-enable) = %v, want ErrInvalidToken", err)
		}
		if _, err := f.iss.Authenticate(ctx, issue(), nil); err != nil {
			t.Errorf("Authenticate(new token after re-enable) = %v", err)
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.tenant(t, "Bank A"), f.tenant(t, "Bank B")
		k := newKey(t, AlgEdDSA, "k")
		ca := f.client(t, a.ID, ClientSpec{Name: "a app", Scopes: []string{"ekyc:read"}, JWKS: jwksOf(k)})
		if _, err := f.reg.Client(ctx, a.ID, ca.ID); err != nil {
			t.Errorf("Client(own tenant) = %v", err)
		}
		if _, err := f.reg.Client(ctx, b.ID, ca.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Client(other tenant) = %v, want ErrNotFound", err)
		}
		if err := f.reg.DisableClient(ctx, f.admin, b.ID, ca.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("DisableClient(other tenant) = %v, want ErrNotFound", err)
		}
		if err := f.reg.EnableClient(ctx, f.admin, b.ID, ca.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("EnableClient(other tenant) = %v, want ErrNotFound", err)
		}
		if got, err := f.reg.ListClients(ctx, b.ID); err != nil || len(got) != 0 {
			t.Errorf("ListClients(B) = %v, %v, want none", got, err)
		}
		tok, err := f.iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(ca.ID, f.clock.Now())))))
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.iss.Authenticate(ctx, tok.AccessToken.Reveal(), nil)
		if err != nil || p.TenantID != a.ID {
			t.Errorf("Authenticate = %+v, %v, want tenant %s", p, err, a.ID)
		}
		// A client cannot be created in a tenant that does not exist.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := f.reg.CreateClientTx(ctx, tx, f.admin, "tn_missing", ClientSpec{Name: "x", Scopes: []string{"a"}, JWKS: jwksOf(k)})
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("CreateClientTx(missing tenant) = %v, want ErrNotFound", err)
		}
	})
}

func TestSQLMetacharacters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		k := newKey(t, AlgEdDSA, "k');DROP_TABLE_tenants;--")
		for i, name := range []string{"'; DROP TABLE tenants; --", `"quoted" \ back`, "50% _under_ ?", "Robert'); --", "銀行 ' OR ''='"} {
			tn := f.tenant(t, name)
			got, err := f.reg.Tenant(ctx, tn.ID)
			if err != nil || got.Name != name {
				t.Errorf("Tenant(%q) = %+v, %v", name, got, err)
			}
			c := f.client(t, tn.ID, ClientSpec{Name: name, Scopes: []string{"a"}, JWKS: jwksOf(signingKey{k.alg, fmt.Sprint(k.kid, i), k.priv})})
			back, err := f.reg.Client(ctx, tn.ID, c.ID)
			if err != nil || back.Name != name || back.Keys.Keys()[0].Kid != fmt.Sprint(k.kid, i) {
				t.Errorf("Client round trip of %q = %+v, %v", name, back, err)
			}
		}
		if _, err := f.reg.Tenant(ctx, "' OR '1'='1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Tenant(SQL) = %v, want ErrNotFound", err)
		}
		ts, err := f.reg.ListTenants(ctx)
		if err != nil || len(ts) != 5 {
			t.Errorf("ListTenants = %d, %v, want 5", len(ts), err)
		}
		for _, bad := range []ClientSpec{
			{Name: "x", Scopes: []string{"a' OR 1=1"}, JWKS: jwksOf(k)},
			{Name: "x", Scopes: []string{"a;b"}, JWKS: jwksOf(k)},
			{Name: "bad\x00name", Scopes: []string{"a"}, JWKS: jwksOf(k)},
		} {
			if err := bad.Validate(f.clock.Now()); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Validate(%q %q) = %v, want ErrInvalidInput", bad.Name, bad.Scopes, err)
			}
		}
	})
}

func TestAuditFailureRollsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgEdDSA, "k")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(k)})
		f.rec.fail = true
		if _, err := f.reg.CreateTenant(ctx, f.admin, "Bank B"); !errors.Is(err, errAuditDown) {
			t.Errorf("CreateTenant(audit down) = %v, want errAuditDown", err)
		}
		assertion := k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now())))
		if _, err := f.iss.Token(ctx, jwtRequest(assertion)); !errors.Is(err, errAuditDown) {
			t.Errorf("Token(audit down) = %v, want errAuditDown", err)
		}
		f.rec.fail = false
		if ts, _ := f.reg.ListTenants(ctx); len(ts) != 1 {
			t.Errorf("tenants after failed audit = %d, want 1", len(ts))
		}
		// The jti was not consumed: the same assertion now succeeds.
		if _, err := f.iss.Token(ctx, jwtRequest(assertion)); err != nil {
			t.Errorf("Token(after audit recovered) = %v, want nil", err)
		}
	})
}

func TestParseTokenRequest(t *testing.T) {
	good := url.Values{"grant_type": {"client_credentials"}, "scope": {"ekyc:read ekyc:write"},
		"client_assertion_type": {ClientAssertionType}, "client_assertion": {"a.b.c"}, "client_id": {"cl_x"}, "unknown": {"ignored"}}
	r, err := ParseTokenRequest(good)
	if err != nil {
		t.Fatalf("ParseTokenRequest(good) = %v", err)
	}
	want := TokenRequest{GrantType: "client_credentials", Scopes: []string{"ekyc:read", "ekyc:write"}, ClientID: "cl_x", ClientAssertionType: ClientAssertionType, ClientAssertion: "a.b.c"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("ParseTokenRequest (-want +got):\n%s", diff)
	}
	for name, tc := range map[string]struct {
		v    url.Values
		want error
	}{
		"no grant":          {url.Values{}, ErrInvalidRequest},
		"repeated grant":    {url.Values{"grant_type": {"client_credentials", "client_credentials"}}, ErrInvalidRequest},
		"repeated scope":    {url.Values{"grant_type": {"client_credentials"}, "scope": {"a", "b"}}, ErrInvalidRequest},
		"double space":      {url.Values{"grant_type": {"client_credentials"}, "scope": {"a  b"}}, ErrInvalidScope},
		"SQL scope":         {url.Values{"grant_type": {"client_credentials"}, "scope": {"a' OR 1=1"}}, ErrInvalidScope},
		"long assertion":    {url.Values{"grant_type": {"client_credentials"}, "client_assertion": {strings.Repeat("a", MaxAssertionLen+1)}}, ErrInvalidRequest},
		"long client_id":    {url.Values{"grant_type": {"client_credentials"}, "client_id": {strings.Repeat("a", 200)}}, ErrInvalidRequest},
		"too many scopes":   {url.Values{"grant_type": {"client_credentials"}, "scope": {strings.TrimSpace(strings.Repeat("a ", MaxScopes+1))}}, ErrInvalidScope},
		"long grant_type":   {url.Values{"grant_type": {strings.Repeat("g", 65)}}, ErrInvalidRequest},
		"long scope string": {url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Repeat("a", maxScopeParamLen+1)}}, ErrInvalidRequest},
	} {
		if _, err := ParseTokenRequest(tc.v); !errors.Is(err, tc.want) {
			t.Errorf("ParseTokenRequest(%s) = %v, want %v", name, err, tc.want)
		}
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("mdg_at_secretvalue")
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%v", Token{AccessToken: s}), s.LogValue().String()} {
		if strings.Contains(got, "secretvalue") {
			t.Errorf("formatted token = %q, want it redacted", got)
		}
	}
}

func TestNewIssuerConfig(t *testing.T) {
	db := storetest.SQLite(t)
	for name, cfg := range map[string]IssuerConfig{
		"no audience":    {},
		"empty audience": {Audiences: []string{""}},
		"long ttl":       {Audiences: []string{"x"}, TokenTTL: 2 * time.Hour},
		"big skew":       {Audiences: []string{"x"}, Skew: 5 * time.Minute},
	} {
		if _, err := NewIssuer(db, &recorder{}, cfg); err == nil {
			t.Errorf("NewIssuer(%s) = nil error, want refusal", name)
		}
	}
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add("grant_type=client_credentials&scope=a+b&client_id=x")
	f.Add("grant_type=client_credentials&grant_type=x")
	f.Add("scope=%27%3B")
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, err := ParseTokenRequest(v)
		if err != nil {
			return
		}
		if r.GrantType == "" || len(r.ClientAssertion) > MaxAssertionLen || len(r.Scopes) > MaxScopes {
			t.Fatalf("ParseTokenRequest(%q) accepted %+v", q, r)
		}
	})
}

// flipLast changes the last character of s to a different one.
func flipLast(s string) string {
	c := s[len(s)-1]
	if c == 'A' {
		c = 'B'
	} else {
		c = 'A'
	}
	return s[:len(s)-1] + string(c)
}

// With the real audit log, every change lands in the Merkle tree in the same
// transaction, and the entries pass the log's own validation.
func TestWithAuditLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		signer, _, err := audit.GenerateSigner(rand.Reader, "test.local/audit")
		if err != nil {
			t.Fatal(err)
		}
		log, err := audit.New(db, signer)
		if err != nil {
			t.Fatal(err)
		}
		reg := NewRegistry(db, log)
		iss, err := NewIssuer(db, log, IssuerConfig{Audiences: []string{testIssuer}})
		if err != nil {
			t.Fatal(err)
		}
		admin := Actor{Kind: audit.ActorStaff, ID: "st_x", OSUser: "op"}
		tn, err := reg.CreateTenant(ctx, admin, "Bank ' A")
		if err != nil {
			t.Fatal(err)
		}
		k := newKey(t, AlgEdDSA, "k")
		var c Client
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			c, err = reg.CreateClientTx(ctx, tx, admin, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(k)})
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := iss.Token(ctx, jwtRequest(k.sign(t, nil, mustJSON(claims(c.ID, time.Now()))))); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(ctx, `SELECT action FROM audit_entries ORDER BY idx`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			got = append(got, a)
		}
		if want := []string{"tenant.create", "client.create", "token.issue"}; !slices.Equal(got, want) {
			t.Errorf("audit actions = %v, want %v", got, want)
		}
	})
}

// The same assertion presented concurrently is accepted exactly once: the
// database's primary key, not a read-then-write check, enforces single use.
func TestConcurrentReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		tn := f.tenant(t, "Bank A")
		k := newKey(t, AlgEdDSA, "k")
		c := f.client(t, tn.ID, ClientSpec{Name: "app", Scopes: []string{"a"}, JWKS: jwksOf(k)})
		assertion := k.sign(t, nil, mustJSON(claims(c.ID, f.clock.Now())))
		const n = 8
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := f.iss.Token(ctx, jwtRequest(assertion))
				errs <- err
			}()
		}
		ok, replayed := 0, 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, ErrReplay):
				replayed++
			default:
				t.Errorf("Token(concurrent) = %v, want nil or ErrReplay", err)
			}
		}
		if ok != 1 || replayed != n-1 {
			t.Errorf("concurrent uses: %d accepted, %d replays, want 1 and %d", ok, replayed, n-1)
		}
	})
}

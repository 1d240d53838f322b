package oauth

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// The metadata must advertise only client authentication methods that
// package tenant implements and that can work on this server: a client that
// picks an advertised method must be able to use it.
func TestMetadataAdvertisesOnlyImplementedAuthMethods(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	plain := e.srv.cfg
	plain.MutualTLS = false
	noTLS, err := New(plain)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		s    *Server
		want []string
	}{
		{"TLS terminated here", e.srv, []string{string(tenant.PrivateKeyJWT), string(tenant.TLSClientAuth), string(tenant.SelfSignedTLS)}},
		{"behind a TLS-terminating proxy", noTLS, []string{string(tenant.PrivateKeyJWT)}},
	} {
		m := tc.s.Metadata()
		for _, field := range []string{
			"token_endpoint_auth_methods_supported",
			"introspection_endpoint_auth_methods_supported",
			"revocation_endpoint_auth_methods_supported",
		} {
			if got, ok := m[field].([]string); !ok || !slices.Equal(got, tc.want) {
				t.Errorf("%s: Metadata()[%q] = %v, want %v", tc.name, field, m[field], tc.want)
			}
		}
		_, bound := m["tls_client_certificate_bound_access_tokens"]
		_, aliases := m["mtls_endpoint_aliases"]
		if mtls := len(tc.want) > 1; bound != mtls || aliases != mtls {
			t.Errorf("%s: certificate-bound tokens advertised %v, mTLS aliases %v; want %v", tc.name, bound, aliases, mtls)
		}
	}
}

// Without a customer authenticator the server is the token endpoint for
// client_credentials and its metadata, nothing else: the one metadata
// document and the one token endpoint of the whole server, whatever is
// wired.
func TestClientCredentialsOnly(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	cfg := e.srv.cfg
	cfg.Customers, cfg.CIBANotifier, cfg.Signer = nil, nil, nil
	cfg.Scopes = []string{"accounts:read", "audit:read"}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(no customers, no signer) = %v", err)
	}
	var routes []string
	for p := range s.Routes() {
		routes = append(routes, p)
	}
	slices.Sort(routes)
	if want := []string{"GET /.well-known/oauth-authorization-server", "GET /.well-known/openid-configuration", "POST " + PathToken}; !slices.Equal(routes, want) {
		t.Errorf("Routes() = %v, want %v", routes, want)
	}
	m := s.Metadata()
	for _, absent := range []string{"authorization_endpoint", "pushed_authorization_request_endpoint", "backchannel_authentication_endpoint",
		"introspection_endpoint", "revocation_endpoint", "userinfo_endpoint", "jwks_uri", "require_pushed_authorization_requests"} {
		if _, ok := m[absent]; ok {
			t.Errorf("Metadata()[%q] = %v, want absent without customers", absent, m[absent])
		}
	}
	if g, _ := m["grant_types_supported"].([]string); !slices.Equal(g, []string{GrantClientCredentials}) {
		t.Errorf("grant_types_supported = %v, want client_credentials only", g)
	}
	if sc, _ := m["scopes_supported"].([]string); !slices.Equal(sc, cfg.Scopes) {
		t.Errorf("scopes_supported = %v, want %v", sc, cfg.Scopes)
	}

	c := e.partner(e.tenant)
	token := func(form string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", e.base+PathToken, strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.Routes()["POST "+PathToken].ServeHTTP(w, r)
		return w
	}
	auth := e.clientAuth(c)
	auth.Set("grant_type", GrantClientCredentials)
	auth.Set("scope", "audit:read")
	if w := token(auth.Encode()); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"access_token":"mdg_at_`) {
		t.Errorf("client_credentials = %d %s, want a token", w.Code, w.Body)
	}
	for _, gt := range []string{GrantAuthorizationCode, GrantRefreshToken, GrantCIBA} {
		f := e.clientAuth(c)
		f.Set("grant_type", gt)
		if w := token(f.Encode()); w.Code != 400 || !strings.Contains(w.Body.String(), `"unsupported_grant_type"`) {
			t.Errorf("grant %s without customers = %d %s, want unsupported_grant_type", gt, w.Code, w.Body)
		}
	}
	if _, err := New(Config{Issuer: cfg.Issuer, DB: cfg.DB, Audit: cfg.Audit, Clients: cfg.Clients, Sealer: cfg.Sealer, CIBANotifier: nopNotifier{}}); err == nil {
		t.Errorf("New(CIBA without customers) = nil, want an error")
	}
	with := e.srv.cfg
	with.Signer = nil
	if _, err := New(with); err == nil {
		t.Errorf("New(customers without a signer) = nil, want an error")
	}
}

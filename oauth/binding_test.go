package oauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/tenant"
)

// mtlsClient is a keep-alive client of e's server that presents a fresh
// self-signed TLS client certificate, returned with it.
func (e *env) mtlsClient() (*http.Client, *x509.Certificate) {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "partner " + randomToken()[:6]},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		e.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		e.t.Fatal(err)
	}
	tr := e.http.Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}
	return &http.Client{Transport: tr, CheckRedirect: e.http.CheckRedirect}, cert
}

// certTokens runs a code flow without DPoP (the client authenticates with
// private_key_jwt) and redeems the code over hc, whose TLS client
// certificate the tokens are then bound to (RFC 8705 §3, cnf.x5t#S256).
func (e *env) certTokens(c pclient, hc *http.Client) map[string]any {
	e.t.Helper()
	code := codeOf(e.t, e.authorize(c, parParams(testVerifier), nil))
	form := merge(e.clientAuth(c), url.Values{"grant_type": {GrantAuthorizationCode}, "code": {code},
		"redirect_uri": {testRedirect}, "code_verifier": {testVerifier}})
	r := e.doOn(hc, formRequest(e.base+PathToken, form))
	if r.status != 200 {
		e.t.Fatalf("token over mTLS = %d %s", r.status, r.raw)
	}
	return r.body
}

// TestSenderConstrainedResource: an access token bound to a DPoP key of
// each accepted algorithm (ES256, EdDSA, PS256) or to a TLS client
// certificate opens the resource only with a proof by that key or over a
// connection presenting that certificate.
func TestSenderConstrainedResource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		u := e.base + "/resource"
		get := func(hc *http.Client, auth, proof string) reply {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("Authorization", auth)
			if proof != "" {
				req.Header.Set("DPoP", proof)
			}
			return e.doOn(hc, req)
		}
		for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
			t.Run(alg, func(t *testing.T) {
				dk := newDPoPKeyAlg(t, alg)
				tr := e.tokens(c, dk)
				at, _ := tr["access_token"].(string)
				if tr["token_type"] != "DPoP" {
					t.Errorf("token_type = %v, want DPoP", tr["token_type"])
				}
				if r := get(e.http, "DPoP "+at, e.proof(dk, "GET", u, at, nil)); r.status != 200 {
					t.Errorf("GET /resource with a %s proof = %d %s, want 200", alg, r.status, r.raw)
				}
				other := newDPoPKeyAlg(t, alg)
				if r := get(e.http, "DPoP "+at, e.proof(other, "GET", u, at, nil)); r.status != 401 || r.code() != "invalid_token" {
					t.Errorf("GET /resource with another %s key's proof = %d %q, want 401 invalid_token", alg, r.status, r.code())
				}
				mc, _ := e.mtlsClient()
				if r := get(mc, "Bearer "+at, ""); r.status != 401 {
					t.Errorf("DPoP-bound token as Bearer over mTLS = %d, want 401", r.status)
				}
			})
		}
		t.Run("mtls", func(t *testing.T) {
			mc, cert := e.mtlsClient()
			tr := e.certTokens(c, mc)
			at, _ := tr["access_token"].(string)
			if tr["token_type"] != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", tr["token_type"])
			}
			ti, err := e.srv.lookupToken(t.Context(), at)
			if err != nil || ti.x5t != tenant.CertThumbprint(cert) || ti.jkt != "" {
				t.Fatalf("token binding = x5t %q jkt %q (%v), want x5t %q", ti.x5t, ti.jkt, err, tenant.CertThumbprint(cert))
			}
			other, _ := e.mtlsClient()
			dk := newDPoPKey(t)
			for _, tc := range []struct {
				name  string
				hc    *http.Client
				auth  string
				proof string
				want  int
			}{
				{"its certificate", mc, "Bearer " + at, "", 200},
				{"no certificate", e.http, "Bearer " + at, "", 401},
				{"another certificate", other, "Bearer " + at, "", 401},
				{"its certificate, DPoP scheme", mc, "DPoP " + at, e.proof(dk, "GET", u, at, nil), 401},
			} {
				if r := get(tc.hc, tc.auth, tc.proof); r.status != tc.want {
					t.Errorf("GET /resource, certificate-bound token, %s = %d %s, want %d", tc.name, r.status, r.raw, tc.want)
				}
			}
		})
	})
}

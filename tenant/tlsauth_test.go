package tenant

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// testCert is a certificate with its key, for building chains.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (c testCert) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

// issueCert signs tmpl with parent (self-signed when parent is nil). A CA
// template gets basic constraints; others default to client auth.
func issueCert(t testing.TB, tmpl *x509.Certificate, parent *testCert) testCert {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	if tmpl.IsCA {
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else if tmpl.ExtKeyUsage == nil {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	signer, signerKey := tmpl, k
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, k.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{c, k}
}

func caCert(t testing.TB, cn string, now time.Time, parent *testCert) testCert {
	return issueCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true}, parent)
}

var partnerName = pkix.Name{CommonName: "Partner API", Organization: []string{"Example Pay"}, OrganizationalUnit: []string{"Open API"}, Country: []string{"JP"}}

const partnerDN = "CN=Partner API,OU=Open API,O=Example Pay,C=JP"

// tlsEndpoint is a real TLS listener that requests client certificates
// (as the server does) and authenticates each request's client with the
// issuer, reporting the outcome.
type tlsEndpoint struct {
	srv  *httptest.Server
	errs chan error
}

func newTLSEndpoint(t *testing.T, f *fixture) *tlsEndpoint {
	t.Helper()
	e := &tlsEndpoint{errs: make(chan error, 1)}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := TokenRequest{GrantType: "client_credentials", ClientID: r.URL.Query().Get("client_id")}
		if pc := r.TLS.PeerCertificates; len(pc) > 0 {
			req.PeerCert, req.PeerIntermediates = pc[0], pc[1:]
		}
		tok, err := f.iss.Token(r.Context(), req)
		if err == nil && !tok.CertBound {
			err = errors.New("token not certificate-bound")
		}
		if err == nil {
			_, err = f.iss.Authenticate(r.Context(), tok.AccessToken.Reveal(), req.PeerCert)
		}
		e.errs <- err
		w.WriteHeader(http.StatusNoContent)
	}))
	e.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

// call connects presenting chain (leaf first; nil: no certificate) as
// clientID and returns the issuer's verdict.
func (e *tlsEndpoint) call(t *testing.T, clientID string, chain ...testCert) error {
	t.Helper()
	cfg := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	cfg.RootCAs.AddCert(e.srv.Certificate())
	if len(chain) > 0 {
		tc := tls.Certificate{PrivateKey: chain[0].key, Leaf: chain[0].cert}
		for _, c := range chain {
			tc.Certificate = append(tc.Certificate, c.cert.Raw)
		}
		cfg.Certificates = []tls.Certificate{tc}
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get(e.srv.URL + "/token?client_id=" + url.QueryEscape(clientID))
	if err != nil {
		t.Fatalf("TLS request: %v", err)
	}
	resp.Body.Close()
	return <-e.errs
}

// TestTLSClientAuth drives tls_client_auth through a real TLS listener:
// each name form matched and mismatched, the CA, the chain, validity and
// key usage.
func TestTLSClientAuth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		now := f.clock.Now()
		tn := f.tenant(t, "Bank A")
		ep := newTLSEndpoint(t, f)

		root := caCert(t, "Partner Root CA", now, nil)
		inter := caCert(t, "Partner Issuing CA", now, &root)
		otherRoot := caCert(t, "Other CA", now, nil)
		leaf := func(mod func(*x509.Certificate), parent testCert) testCert {
			tmpl := &x509.Certificate{Subject: partnerName, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
				DNSNames: []string{"api.partner.example"}, URIs: []*url.URL{{Scheme: "https", Host: "partner.example", Path: "/client/7"}},
				IPAddresses: []net.IP{net.ParseIP("192.0.2.10")}, EmailAddresses: []string{"api@Partner.example"}}
			if mod != nil {
				mod(tmpl)
			}
			return issueCert(t, tmpl, &parent)
		}
		good := leaf(nil, root)
		client := func(name string, id TLSIdentity) Client {
			if id.CAPEM == "" {
				id.CAPEM = root.pem()
			}
			return f.client(t, tn.ID, ClientSpec{Name: name, Scopes: []string{"ekyc:read"}, TLSIdentity: id})
		}
		dn := client("dn", TLSIdentity{SubjectDN: partnerDN})
		dnSpaced := client("dn spaced", TLSIdentity{SubjectDN: "cn=Partner API, ou=Open API, o=Example Pay, c=JP"})
		dnsCl := client("dns", TLSIdentity{SANDNS: "API.partner.example"})
		uriCl := client("uri", TLSIdentity{SANURI: "https://partner.example/client/7"})
		ipCl := client("ip", TLSIdentity{SANIP: "192.0.2.10"})
		emailCl := client("email", TLSIdentity{SANEmail: "api@partner.example"})
		interCl := client("intermediate CA", TLSIdentity{SubjectDN: partnerDN, CAPEM: inter.pem()})
		viaInter := leaf(nil, inter)
		selfSignedSameDN := issueCert(t, &x509.Certificate{Subject: partnerName, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, nil)
		_, pinnedPEM := selfSigned(t, now)
		pinnedCl := f.client(t, tn.ID, ClientSpec{Name: "pinned", Scopes: []string{"ekyc:read"}, CertPEM: pinnedPEM})

		for _, tc := range []struct {
			name   string
			client Client
			chain  []testCert
			want   error // nil, ErrCertChain, ErrCertName, ...
		}{
			{"subject DN", dn, []testCert{good}, nil},
			{"subject DN written with spaces and lower-case types", dnSpaced, []testCert{good}, nil},
			{"SAN dNSName (case-insensitive)", dnsCl, []testCert{good}, nil},
			{"SAN URI", uriCl, []testCert{good}, nil},
			{"SAN iPAddress", ipCl, []testCert{good}, nil},
			{"SAN rfc822Name (domain case-insensitive)", emailCl, []testCert{good}, nil},
			{"leaf and root: the root sent along is not trusted for more", dn, []testCert{good, root}, nil},
			{"registered intermediate CA", interCl, []testCert{viaInter}, nil},
			{"registered root, chain through an intermediate the client sends", dn, []testCert{viaInter, inter}, nil},

			{"registered root, intermediate not sent", dn, []testCert{viaInter}, ErrCertChain},
			{"wrong CA", dn, []testCert{leaf(nil, otherRoot)}, ErrCertChain},
			{"wrong CA, intermediate of the right name re-issued", interCl, []testCert{leaf(nil, caCert(t, "Partner Issuing CA", now, &otherRoot))}, ErrCertChain},
			{"self-signed certificate with the registered DN", dn, []testCert{selfSignedSameDN}, ErrCertChain},
			{"expired certificate", dn, []testCert{leaf(func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour) }, root)}, ErrCertChain},
			{"not yet valid certificate", dn, []testCert{leaf(func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(time.Hour), now.Add(48*time.Hour) }, root)}, ErrCertChain},
			{"server-only certificate", dn, []testCert{leaf(func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }, root)}, ErrCertChain},
			{"right CA, wrong CN", dn, []testCert{leaf(func(c *x509.Certificate) { c.Subject.CommonName = "Partner API 2" }, root)}, ErrCertName},
			{"right CA, DN with an extra attribute", dn, []testCert{leaf(func(c *x509.Certificate) { c.Subject.Locality = []string{"Tokyo"} }, root)}, ErrCertName},
			{"right CA, DN differing in case", dn, []testCert{leaf(func(c *x509.Certificate) { c.Subject.CommonName = "partner api" }, root)}, ErrCertName},
			{"right CA, other DNS name", dnsCl, []testCert{leaf(func(c *x509.Certificate) { c.DNSNames = []string{"api.partner.example.evil"} }, root)}, ErrCertName},
			{"right CA, DNS name only in the CN", dnsCl, []testCert{leaf(func(c *x509.Certificate) { c.DNSNames, c.Subject.CommonName = nil, "api.partner.example" }, root)}, ErrCertName},
			{"right CA, other URI", uriCl, []testCert{leaf(func(c *x509.Certificate) { c.URIs[0].Path = "/client/70" }, root)}, ErrCertName},
			{"right CA, other IP", ipCl, []testCert{leaf(func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.ParseIP("192.0.2.11")} }, root)}, ErrCertName},
			{"right CA, other e-mail local part", emailCl, []testCert{leaf(func(c *x509.Certificate) { c.EmailAddresses = []string{"API@partner.example"} }, root)}, ErrCertName},
			{"no certificate", dn, nil, ErrUnknownClient},
			{"registered CA's certificate presented as the client's", dn, []testCert{root}, ErrCertChain},
			{"pinned client with a CA-issued certificate", pinnedCl, []testCert{good}, ErrCertMismatch},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := ep.call(t, tc.client.ID, tc.chain...)
				if tc.want == nil {
					if err != nil {
						t.Fatalf("tls_client_auth(%s) = %v, want nil", tc.name, err)
					}
					return
				}
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidClient) {
					t.Fatalf("tls_client_auth(%s) = %v, want ErrInvalidClient wrapping %v", tc.name, err, tc.want)
				}
			})
		}
		// The expired case refers to the certificate's validity, checked against the issuer's clock.
		f.clock.Add(48 * time.Hour)
		err := ep.call(t, dn.ID, good)
		var inv x509.CertificateInvalidError
		if !errors.Is(err, ErrCertChain) || !errors.As(err, &inv) || inv.Reason != x509.Expired {
			t.Errorf("tls_client_auth(certificate expired by the clock) = %v, want ErrCertChain (expired)", err)
		}
	})
}

// TestTLSClientAuthRegistration: the registration needs exactly one name
// form, a well-formed name and a CA certificate; it survives the store.
func TestTLSClientAuthRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		now := f.clock.Now()
		tn := f.tenant(t, "Bank A")
		root := caCert(t, "Partner Root CA", now, nil)
		_, leafPEM := selfSigned(t, now) // not a CA
		expiredCA := issueCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: "old"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour), IsCA: true}, nil)
		for _, tc := range []struct {
			name string
			id   TLSIdentity
		}{
			{"no name", TLSIdentity{CAPEM: root.pem()}},
			{"two names", TLSIdentity{SubjectDN: partnerDN, SANDNS: "api.partner.example", CAPEM: root.pem()}},
			{"no CA", TLSIdentity{SubjectDN: partnerDN}},
			{"CA is a leaf", TLSIdentity{SubjectDN: partnerDN, CAPEM: leafPEM}},
			{"CA expired", TLSIdentity{SubjectDN: partnerDN, CAPEM: expiredCA.pem()}},
			{"bad DN", TLSIdentity{SubjectDN: "CN", CAPEM: root.pem()}},
			{"hex DN value", TLSIdentity{SubjectDN: "CN=#0403616263", CAPEM: root.pem()}},
			{"wildcard DNS", TLSIdentity{SANDNS: "*.partner.example", CAPEM: root.pem()}},
			{"relative URI", TLSIdentity{SANURI: "/client/7", CAPEM: root.pem()}},
			{"bad IP", TLSIdentity{SANIP: "192.0.2.300", CAPEM: root.pem()}},
			{"bad e-mail", TLSIdentity{SANEmail: "partner.example", CAPEM: root.pem()}},
			{"overlong name", TLSIdentity{SubjectDN: "CN=" + strings.Repeat("a", 2000), CAPEM: root.pem()}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				spec := ClientSpec{Name: "x", Scopes: []string{"a"}, TLSIdentity: tc.id}
				if err := spec.Validate(now); !errors.Is(err, ErrInvalidInput) {
					t.Errorf("Validate(%s) = %v, want ErrInvalidInput", tc.name, err)
				}
			})
		}
		spec := ClientSpec{Name: "x", Scopes: []string{"a"}, JWKS: jwksOf(newKey(t, AlgES256, "k")), TLSIdentity: TLSIdentity{SubjectDN: partnerDN, CAPEM: root.pem()}}
		if err := spec.Validate(now); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("Validate(JWKS and tls_client_auth) = %v, want ErrInvalidInput", err)
		}
		c := f.client(t, tn.ID, ClientSpec{Name: "dn", Scopes: []string{"a"}, TLSIdentity: TLSIdentity{SubjectDN: partnerDN, CAPEM: root.pem()}})
		got, err := f.reg.Client(context.Background(), tn.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Method != TLSClientAuth || got.TLS == nil || got.TLS.Kind != TLSSubjectDN || got.TLS.Name != partnerDN || !got.TLS.CA.Equal(root.cert) {
			t.Errorf("Client() = method %s, TLS %+v; want tls_client_auth, subject_dn %q under the root", got.Method, got.TLS, partnerDN)
		}
		// Rotation keeps the method: a new CA (and name) for the same client.
		newRoot := caCert(t, "Partner Root CA 2", now, nil)
		err = db.InTx(context.Background(), func(tx *store.Tx) error {
			return f.reg.RotateClientKeysTx(context.Background(), tx, f.admin, tn.ID, c.ID, KeyRotation{TLSIdentity: TLSIdentity{SANDNS: "api.partner.example", CAPEM: newRoot.pem()}})
		})
		if err != nil {
			t.Fatalf("RotateClientKeysTx(tls identity) = %v", err)
		}
		got, _ = f.reg.Client(context.Background(), tn.ID, c.ID)
		if got.TLS == nil || got.TLS.Kind != TLSSANDNS || !got.TLS.CA.Equal(newRoot.cert) {
			t.Errorf("after rotation: TLS %+v, want san_dns under the new root", got.TLS)
		}
		err = db.InTx(context.Background(), func(tx *store.Tx) error {
			return f.reg.RotateClientKeysTx(context.Background(), tx, f.admin, tn.ID, c.ID, KeyRotation{JWKS: jwksOf(newKey(t, AlgES256, "k"))})
		})
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("RotateClientKeysTx(JWKS for a tls_client_auth client) = %v, want ErrInvalidInput", err)
		}
	})
}

func TestParseDN(t *testing.T) {
	cert := func(n pkix.Name) string {
		c := issueCert(t, &x509.Certificate{Subject: n, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}, nil)
		s, err := subjectDN(c.cert.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	multi := pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "JP"}}}
	for _, tc := range []struct {
		dn   string
		name pkix.Name
	}{
		{partnerDN, partnerName},
		{"CN=Partner API+UID=p7,O=Example Pay", pkix.Name{}}, // compared below against a hand-built RDN sequence
		{`CN=Yamada\, Taro,O=銀行 \"A\",C=JP`, pkix.Name{CommonName: "Yamada, Taro", Organization: []string{`銀行 "A"`}, Country: []string{"JP"}}},
		{`CN=\E9\8A\80\E8\A1\8C`, pkix.Name{CommonName: "銀行"}},
		{`CN=\20lead`, pkix.Name{CommonName: " lead"}},
		{"2.5.4.3=Partner API,2.5.4.6=JP", pkix.Name{CommonName: "Partner API", Country: []string{"JP"}}},
		{"C=JP", multi},
		{"E=api@partner.example,CN=x", pkix.Name{CommonName: "x", ExtraNames: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "api@partner.example"}}}},
	} {
		got, err := ParseDN(tc.dn)
		if err != nil {
			t.Errorf("ParseDN(%q) = %v", tc.dn, err)
			continue
		}
		if tc.name.CommonName == "" && tc.name.ExtraNames == nil && tc.name.Country == nil {
			// A multi-valued RDN: build the subject by hand.
			raw, _ := asn1.Marshal(pkix.RDNSequence{
				{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Example Pay"}},
				{{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, Value: "p7"}, {Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "Partner API"}},
			})
			want, err := subjectDN(raw)
			if err != nil || got != want {
				t.Errorf("ParseDN(%q) = %q, want %q (%v)", tc.dn, got, want, err)
			}
			continue
		}
		if want := cert(tc.name); got != want {
			t.Errorf("ParseDN(%q) = %q, want %q", tc.dn, got, want)
		}
	}
	for _, bad := range []string{"", "CN", "=x", "CN=", "CN=a,", "CN=a+", "XX=a", "1=a", "1.02=a", `CN=a\`, `CN=a\zz`, `CN=a"b`, "CN=#00", "CN=a;", strings.Repeat("CN=a,", 70) + "CN=a"} {
		if got, err := ParseDN(bad); err == nil {
			t.Errorf("ParseDN(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzParseDN(f *testing.F) {
	for _, s := range []string{partnerDN, `CN=Yamada\, Taro+UID=7,O=x`, `CN=\E9\8A\80`, "2.5.4.3=a", "CN=a;", "CN=#00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseDN(s)
		if err != nil {
			return
		}
		if c == "" {
			t.Fatalf("ParseDN(%q) = empty canonical form without error", s)
		}
		// Parsing is deterministic: the same input, the same canonical form.
		if c2, err := ParseDN(s); err != nil || c2 != c {
			t.Fatalf("ParseDN(%q) not deterministic: %q, %q (%v)", s, c, c2, err)
		}
	})
}

package portal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// The second admin approving a tls_client_auth client sees the name the
// certificate must carry and the CA that must issue it.
func TestCredentialFactsTLSClientAuth(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "Partner Root CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	got := credentialFacts("", "", tenant.TLSIdentity{SubjectDN: "CN=Partner API,C=JP", CAPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))})
	want := []fact{
		{"admin.fact.method", "tls_client_auth"},
		{"admin.fact.tls_name", "subject_dn: CN=Partner API,C=JP"},
		{"admin.fact.issuer_ca", "CN=Partner Root CA"},
		{"admin.fact.sha256", tenant.CertThumbprint(ca)},
		{"admin.fact.valid_until", "2030-01-02"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("credentialFacts(tls identity) (-want +got):\n%s", diff)
	}
}

// testCAPEM is a CA certificate (basic constraints, CA) valid around now.
func testCAPEM(now time.Time) []byte {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(seq.Add(1)), Subject: pkix.Name{CommonName: "Partner Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestAdminClientCreateTLSClientAuth: the client form registers a
// tls_client_auth client (a CA certificate and the subject DN or one SAN)
// as the CLI does; a half registration, a second credential, an unknown
// name kind, a bad name or a CA that is not a CA is refused on the page
// (422, nothing filed); a good one is filed and, once another admin
// approves, creates a tls_client_auth client.
func TestAdminClientCreateTLSClientAuth(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	ca := testCAPEM(now)
	a1 := e.signedIn("a-admin")
	base := map[string]string{"name": "Partner mTLS", "scopes": "ekyc:results"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		fields map[string]string
		files  map[string][]byte
		msg    string
	}{
		{"CA without a name", with("tls_kind", "subject_dn"), map[string][]byte{"tls_ca": ca}, "form.required"},
		{"name without a CA", with("tls_kind", "san_dns", "tls_name", "api.partner.example"), nil, "form.required"},
		{"unknown kind", with("tls_kind", "cn", "tls_name", "api.partner.example"), map[string][]byte{"tls_ca": ca}, "form.tls_kind"},
		{"and a JWKS", with("tls_kind", "san_dns", "tls_name", "api.partner.example"), map[string][]byte{"tls_ca": ca, "jwks": testJWKS("k")}, "form.one_credential"},
		{"bad DN", with("tls_kind", "subject_dn", "tls_name", "not a DN"), map[string][]byte{"tls_ca": ca}, "form.credential_invalid"},
		{"bad IP", with("tls_kind", "san_ip", "tls_name", "300.1.1.1"), map[string][]byte{"tls_ca": ca}, "form.credential_invalid"},
		{"not a CA", with("tls_kind", "san_dns", "tls_name", "api.partner.example"), map[string][]byte{"tls_ca": testCertPEM(now, "leaf")}, "form.credential_invalid"},
	} {
		r := a1.upload("/portal/admin/clients", "", tc.fields, tc.files)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, e.msg(tc.msg)) {
			t.Errorf("%s: POST /admin/clients = %d, want 422 with %q", tc.name, r.status, tc.msg)
		}
	}
	if aps, _ := e.dir.Approvals(context.Background(), staff.StatusPending); len(aps) != 0 {
		t.Fatalf("refused forms filed %d requests", len(aps))
	}
	page := a1.get("/portal/admin/clients?tenant=tn_a")
	if !strings.Contains(page.body, `name="tls_ca"`) || !strings.Contains(page.body, `value="san_uri"`) {
		t.Errorf("the client form has no tls_client_auth fields")
	}
	id := filed(t, a1.upload("/portal/admin/clients", "", with("tls_kind", "subject_dn", "tls_name", "CN=api.partner.example,O=Partner,C=JP"), map[string][]byte{"tls_ca": ca}))
	if r := e.signedIn("op-admin").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve = %d", r.status)
	}
	cs, err := e.admin.tenants.ListClients(context.Background(), "tn_a")
	if err != nil || len(cs) != 1 || cs[0].Method != tenant.TLSClientAuth || cs[0].Name != "Partner mTLS" {
		t.Fatalf("clients after approval = %+v, %v; want one tls_client_auth client", cs, err)
	}
}

package portal

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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

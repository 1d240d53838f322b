package trust_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/trust"
)

func TestCRLs(t *testing.T) {
	now := time.Now()
	newCA := func(cn string) (*certtest.Cert, *x509.Certificate) {
		k, err := certtest.NewRSA(2048, false)
		if err != nil {
			t.Fatal(err)
		}
		c, err := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"UT"}, CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SKI: []byte(cn + "-" + k.RSA.N.String()[:8])}, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.DER)
		if err != nil {
			t.Fatal(err)
		}
		return c, x
	}
	ca, caX := newCA("UT CSCA")
	other, otherX := newCA("UT CSCA") // same name, other key
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(77), RevocationTime: now}}}, caX, ca.Key.RSA)
	if err != nil {
		t.Fatal(err)
	}
	forgedDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now, NextUpdate: now.Add(time.Hour)}, otherX, other.Key.RSA)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := trust.ParseCRL(crlDER)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := trust.ParseCRL(forgedDER)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := trust.NewAnchor(ca.DER, false)
	st := trust.NewStore(a)
	if _, err := st.WithCRLs([]*trust.CRL{forged}, trust.DefaultPolicy()); !errors.Is(err, trust.ErrCRL) {
		t.Errorf("WithCRLs(CRL by another key of the same name) = %v, want ErrCRL", err)
	}
	st2, err := st.WithCRLs([]*trust.CRL{crl}, trust.DefaultPolicy())
	if err != nil {
		t.Fatalf("WithCRLs(CSCA's CRL) = %v", err)
	}
	if at, ok := crl.Revoked(big.NewInt(77)); !ok || at.IsZero() {
		t.Errorf("Revoked(77) = %v, %v; want revoked", at, ok)
	}
	if _, ok := crl.Revoked(big.NewInt(78)); ok {
		t.Error("Revoked(78) = true, want false")
	}
	dir := t.TempDir()
	if _, err := trust.Save(dir, []*trust.Anchor{a}); err != nil {
		t.Fatal(err)
	}
	if n, err := trust.SaveCRLs(dir, st2.CRLs()); err != nil || n != 1 {
		t.Fatalf("SaveCRLs = %d, %v", n, err)
	}
	loaded, err := trust.Load(dir)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if got := len(loaded.CRLsFor(loaded.Anchors()[0])); got != 1 {
		t.Errorf("Load().CRLsFor(CSCA) = %d CRLs, want 1", got)
	}
	// A CRL on disk that no anchor signed makes Load fail: no silent partial store.
	if _, err := trust.SaveCRLs(dir, []*trust.CRL{forged}); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Load(dir); !errors.Is(err, trust.ErrCRL) {
		t.Errorf("Load(with a foreign CRL) = %v, want ErrCRL", err)
	}
	if _, err := trust.ParseCRL([]byte("not a crl")); !errors.Is(err, trust.ErrCRL) {
		t.Errorf("ParseCRL(garbage) = %v, want ErrCRL", err)
	}
}

func TestLoadICAO(t *testing.T) {
	data := t.TempDir()
	if _, err := trust.LoadICAO(data, true); !errors.Is(err, trust.ErrNoAnchors) {
		t.Errorf("LoadICAO(empty) = %v, want ErrNoAnchors", err)
	}
	k, _ := certtest.NewEC("P-256", 5, false)
	now := time.Now()
	c, err := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"UT"}, CommonName: "T"}, NotBefore: now, NotAfter: now.Add(time.Hour), IsCA: true}, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := trust.NewAnchor(c.DER, true)
	if _, err := trust.Save(trust.ICAODir(data), []*trust.Anchor{a}); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.LoadICAO(data, false); !errors.Is(err, trust.ErrTestAnchor) {
		t.Errorf("LoadICAO(test anchor, production) = %v, want ErrTestAnchor", err)
	}
	if st, err := trust.LoadICAO(data, true); err != nil || st.Len() != 1 {
		t.Errorf("LoadICAO(test anchor, allowed) = %v, %v", st, err)
	}
}

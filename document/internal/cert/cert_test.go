package cert_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/internal/cms"
)

var rsaKeys = [2]func() (*certtest.Key, error){
	sync.OnceValues(func() (*certtest.Key, error) { return certtest.NewRSA(2048, false) }),
	sync.OnceValues(func() (*certtest.Key, error) { return certtest.NewRSA(2048, false) }),
}

func mustRSA(t testing.TB, pss bool) *certtest.Key { return mustRSAn(t, pss, 0) }

func mustRSAn(t testing.TB, pss bool, n int) *certtest.Key {
	t.Helper()
	k, err := rsaKeys[n]()
	if err != nil {
		t.Fatal(err)
	}
	c := *k
	c.PSS = pss
	return &c
}

func mustEC(t testing.TB, curve string, h crypto.Hash, explicit bool) *certtest.Key {
	t.Helper()
	k, err := certtest.NewEC(curve, h, explicit)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func issue(t testing.TB, tmpl certtest.Template, key *certtest.Key, issuer *certtest.Cert) *certtest.Cert {
	t.Helper()
	c, err := certtest.Issue(tmpl, key, issuer)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func caTemplate(cn string) certtest.Template {
	now := time.Now()
	return certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"UT"}, CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SKI: []byte(cn)}
}

func TestChains(t *testing.T) {
	tests := []struct {
		name   string
		csca   func(t testing.TB) *certtest.Key
		ds     func(t testing.TB) *certtest.Key
		dsAlgo string
	}{
		{"RSA PKCS#1", func(t testing.TB) *certtest.Key { return mustRSA(t, false) }, func(t testing.TB) *certtest.Key { return mustEC(t, "P-256", crypto.SHA256, false) }, "ECDSA P-256"},
		{"RSA PSS", func(t testing.TB) *certtest.Key { return mustRSA(t, true) }, func(t testing.TB) *certtest.Key { return mustRSAn(t, true, 1) }, "RSA-2048"},
		{"explicit P-384 CSCA", func(t testing.TB) *certtest.Key { return mustEC(t, "P-384", crypto.SHA384, true) }, func(t testing.TB) *certtest.Key { return mustEC(t, "P-384", crypto.SHA384, true) }, "ECDSA P-384"},
		{"brainpool", func(t testing.TB) *certtest.Key { return mustEC(t, "brainpoolP384r1", crypto.SHA384, false) }, func(t testing.TB) *certtest.Key { return mustEC(t, "brainpoolP256r1", crypto.SHA256, true) }, "ECDSA brainpoolP256r1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := issue(t, caTemplate("CSCA"), tt.csca(t), nil)
			dsTmpl := caTemplate("DS")
			dsTmpl.IsCA, dsTmpl.KeyUsage, dsTmpl.Serial = false, x509.KeyUsageDigitalSignature, 77
			ds := issue(t, dsTmpl, tt.ds(t), ca)
			caCert, err := cert.Parse(ca.DER)
			if err != nil {
				t.Fatalf("Parse(CSCA) = %v", err)
			}
			dsCert, err := cert.Parse(ds.DER)
			if err != nil {
				t.Fatalf("Parse(DS) = %v", err)
			}
			if got := dsCert.PublicKey.Algorithm(); got != tt.dsAlgo {
				t.Errorf("DS PublicKey.Algorithm() = %q, want %q", got, tt.dsAlgo)
			}
			if !caCert.IsCA || !caCert.BasicConstraintsValid || caCert.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
				t.Errorf("CSCA IsCA=%v KeyUsage=%v, want CA with certSign|cRLSign", caCert.IsCA, caCert.KeyUsage)
			}
			if dsCert.IsCA || dsCert.KeyUsage != x509.KeyUsageDigitalSignature || dsCert.SerialNumber.Int64() != 77 || dsCert.Country() != "UT" {
				t.Errorf("DS = IsCA %v usage %v serial %v country %q", dsCert.IsCA, dsCert.KeyUsage, dsCert.SerialNumber, dsCert.Country())
			}
			if string(dsCert.AuthorityKeyID) != "CSCA" || string(caCert.SubjectKeyID) != "CSCA" {
				t.Errorf("AKI/SKI = %q/%q, want CSCA", dsCert.AuthorityKeyID, caCert.SubjectKeyID)
			}
			pol := cert.DefaultPolicy()
			if err := caCert.CheckSignatureFrom(caCert, pol); err != nil {
				t.Errorf("CSCA self-signature: %v", err)
			}
			if err := dsCert.CheckSignatureFrom(caCert, pol); err != nil {
				t.Errorf("DS.CheckSignatureFrom(CSCA) = %v, want nil", err)
			}
			if err := dsCert.CheckSignatureFrom(dsCert, pol); !errors.Is(err, cert.ErrSignature) {
				t.Errorf("DS.CheckSignatureFrom(DS) = %v, want ErrSignature", err)
			}
			tampered := *dsCert
			tampered.RawTBS = append([]byte{}, dsCert.RawTBS...)
			tampered.RawTBS[len(tampered.RawTBS)-1] ^= 1
			if err := tampered.CheckSignatureFrom(caCert, pol); !errors.Is(err, cert.ErrSignature) {
				t.Errorf("tampered DS.CheckSignatureFrom(CSCA) = %v, want ErrSignature", err)
			}
			short := *dsCert
			short.Signature = dsCert.Signature[:len(dsCert.Signature)-1]
			if err := short.CheckSignatureFrom(caCert, pol); !errors.Is(err, cert.ErrSignature) {
				t.Errorf("short signature: CheckSignatureFrom = %v, want ErrSignature", err)
			}
		})
	}
}

// TestAgainstX509 parses certificates crypto/x509 can read and compares.
func TestAgainstX509(t *testing.T) {
	ca := issue(t, caTemplate("CSCA"), mustRSA(t, false), nil)
	x, err := x509.ParseCertificate(ca.DER)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cert.Parse(ca.DER)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject.String() != x.Subject.String() || c.SerialNumber.Cmp(x.SerialNumber) != 0 || c.KeyUsage != x.KeyUsage ||
		c.IsCA != x.IsCA || !c.NotAfter.Equal(x.NotAfter) || string(c.RawTBS) != string(x.RawTBSCertificate) {
		t.Errorf("Parse() = %v/%v/%v/%v, crypto/x509 = %v/%v/%v/%v", c.Subject, c.SerialNumber, c.KeyUsage, c.IsCA, x.Subject, x.SerialNumber, x.KeyUsage, x.IsCA)
	}
}

func TestPolicy(t *testing.T) {
	ca := mustEC(t, "P-256", crypto.SHA1, false)
	caCert := issue(t, caTemplate("SHA1 CA"), ca, nil)
	c, err := cert.Parse(caCert.DER)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckSignatureFrom(c, cert.DefaultPolicy()); !errors.Is(err, cert.ErrWeak) {
		t.Errorf("SHA-1 signature under DefaultPolicy: %v, want ErrWeak", err)
	}
	if err := c.CheckSignatureFrom(c, cert.Policy{AllowSHA1: true}); err != nil {
		t.Errorf("SHA-1 signature with AllowSHA1: %v, want nil", err)
	}
	md5 := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 4}}
	if err := c.PublicKey.Verify(md5, pkix.AlgorithmIdentifier{}, c.RawTBS, c.Signature, cert.Policy{AllowSHA1: true}); !errors.Is(err, cert.ErrWeak) {
		t.Errorf("MD5 signature: %v, want ErrWeak", err)
	}
	rsaCA := issue(t, caTemplate("RSA CA"), mustRSA(t, false), nil)
	rc, _ := cert.Parse(rsaCA.DER)
	if err := rc.CheckSignatureFrom(rc, cert.Policy{MinRSABits: 3072}); !errors.Is(err, cert.ErrWeak) {
		t.Errorf("RSA-2048 under MinRSABits 3072: %v, want ErrWeak", err)
	}
	unknown := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 3}}
	if err := rc.PublicKey.Verify(unknown, pkix.AlgorithmIdentifier{}, rc.RawTBS, rc.Signature, cert.DefaultPolicy()); !errors.Is(err, cert.ErrUnsupported) {
		t.Errorf("unknown algorithm: %v, want ErrUnsupported", err)
	}
}

func TestParseErrors(t *testing.T) {
	ca := issue(t, caTemplate("CSCA"), mustEC(t, "brainpoolP256r1", crypto.SHA256, false), nil)
	smallRSA, _ := asn1.Marshal(struct {
		A pkix.AlgorithmIdentifier
		K asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: cert.OIDRSAEncryption}, asn1.BitString{Bytes: mustMarshal(t, struct{ N, E *big.Int }{new(big.Int).Lsh(big.NewInt(1), 511), big.NewInt(65537)}), BitLength: 8 * 70}})
	dsa, _ := asn1.Marshal(struct {
		A pkix.AlgorithmIdentifier
		K asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10040, 4, 1}}, asn1.BitString{Bytes: []byte{0}, BitLength: 8}})
	tests := []struct {
		name  string
		parse func() error
		want  error
	}{
		{"truncated", func() error { _, err := cert.Parse(ca.DER[:len(ca.DER)-1]); return err }, cert.ErrMalformed},
		{"trailing", func() error { _, err := cert.Parse(append(append([]byte{}, ca.DER...), 0)); return err }, cert.ErrMalformed},
		{"absurd size", func() error { _, err := cert.Parse(make([]byte, cert.MaxSize+1)); return err }, cert.ErrTooLarge},
		{"512-bit RSA", func() error { _, err := cert.ParsePublicKey(smallRSA); return err }, cert.ErrMalformed},
		{"DSA key", func() error { _, err := cert.ParsePublicKey(dsa); return err }, cert.ErrUnsupported},
	}
	for _, tt := range tests {
		if err := tt.parse(); !errors.Is(err, tt.want) {
			t.Errorf("%s: error = %v, want %v", tt.name, err, tt.want)
		}
	}
	for i := range len(ca.DER) {
		if _, err := cert.Parse(ca.DER[:i]); err == nil {
			t.Fatalf("Parse(der[:%d]) = nil error", i)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGermanMasterList parses every CSCA certificate in the German master
// list, including Japan's explicit-parameter P-384 ones, and checks that
// nearly all verify against an issuer in the same list (the rest are link
// certificates whose old CSCA has left the list).
func TestGermanMasterList(t *testing.T) {
	b, err := os.ReadFile("../../trust/testdata/DE_ML_2026-05-28.ml")
	if err != nil {
		t.Fatal(err)
	}
	sd, err := cms.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var ml struct {
		Version int
		Certs   []asn1.RawValue `asn1:"set"`
	}
	if _, err := asn1.Unmarshal(sd.EContent, &ml); err != nil {
		t.Fatal(err)
	}
	var all []*cert.Certificate
	japanEC := 0
	for i, r := range ml.Certs {
		c, err := cert.Parse(r.FullBytes)
		if err != nil {
			t.Errorf("Parse(certificate %d) = %v", i, err)
			continue
		}
		if c.Country() == "JP" && c.PublicKey.EC != nil && c.PublicKey.EC.Curve.Name == "P-384" {
			japanEC++
		}
		all = append(all, c)
	}
	if japanEC < 2 {
		t.Errorf("Japanese P-384 CSCAs parsed = %d, want at least 2", japanEC)
	}
	if testing.Short() {
		return
	}
	pol := cert.Policy{AllowSHA1: true, MinRSABits: 2048}
	unverified := 0
	for _, c := range all {
		ok := false
		for _, p := range all {
			if string(p.RawSubject) == string(c.RawIssuer) && c.CheckSignatureFrom(p, pol) == nil {
				ok = true
				break
			}
		}
		if !ok {
			unverified++
			if c.Country() == "JP" {
				t.Errorf("Japanese CSCA %v (%s) does not verify", c.NotBefore, c.PublicKey.Algorithm())
			}
		}
	}
	if unverified > len(all)/20 {
		t.Errorf("%d of %d certificates verify against no issuer in the list, want at most 5%%", unverified, len(all))
	}
}

func FuzzParse(f *testing.F) {
	for _, k := range []*certtest.Key{mustEC(f, "P-384", crypto.SHA384, true), mustEC(f, "brainpoolP256r1", crypto.SHA256, false)} {
		c, err := certtest.Issue(caTemplate("F"), k, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.DER)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := cert.Parse(b)
		if err != nil {
			return
		}
		_ = c.CheckSignatureFrom(c, cert.DefaultPolicy())
	})
}

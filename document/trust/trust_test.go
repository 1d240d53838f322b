package trust_test

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/internal/cms"
	"github.com/madoguchi/madoguchi/document/internal/cms/cmstest"
	"github.com/madoguchi/madoguchi/document/trust"
)

const mlDir = "testdata/"

// importTime is a fixed instant at which the German list's signer is valid.
var importTime = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func readML(t testing.TB) ([]byte, []byte) {
	t.Helper()
	ml, err := os.ReadFile(mlDir + "DE_ML_2026-05-28.ml")
	if err != nil {
		t.Fatal(err)
	}
	rootDER, err := os.ReadFile(mlDir + "DE_ROOT_CA_CSCA07.cer")
	if err != nil {
		t.Fatal(err)
	}
	return ml, rootDER
}

func TestGermanMasterList(t *testing.T) {
	der, root := readML(t)
	ml, err := trust.ParseMasterList(der, [][]byte{root}, importTime, cert.DefaultPolicy())
	if err != nil {
		t.Fatalf("ParseMasterList(DE) = %v", err)
	}
	if len(ml.Skipped) != 0 || len(ml.Certificates) < 500 {
		t.Errorf("ParseMasterList(DE) = %d certificates, %d skipped (%v); want all of ~588", len(ml.Certificates), len(ml.Skipped), ml.Skipped)
	}
	var anchors []*trust.Anchor
	jp := 0
	for _, c := range ml.Certificates {
		a, err := trust.NewAnchor(c.Raw, false)
		if err != nil {
			t.Fatal(err)
		}
		anchors = append(anchors, a)
		if a.Country() == "JP" && c.PublicKey.EC != nil {
			jp++
		}
	}
	if jp < 2 {
		t.Errorf("Japanese ECDSA CSCAs = %d, want >= 2", jp)
	}
	if testing.Short() {
		return // saving ~590 files with an fsync each is slow on shared machines
	}
	dir := t.TempDir()
	added, err := trust.Save(dir, anchors)
	if err != nil {
		t.Fatal(err)
	}
	again, err := trust.Save(dir, anchors)
	if err != nil || again != 0 {
		t.Errorf("second Save() = %d, %v; want 0 added (deduplicated)", again, err)
	}
	st, err := trust.Load(dir)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if st.Len() != added {
		t.Errorf("Load().Len() = %d, want %d", st.Len(), added)
	}
	if err := st.CheckProduction(); err != nil {
		t.Errorf("CheckProduction() = %v, want nil", err)
	}
	found := false
	for _, a := range st.Anchors() {
		if strings.HasPrefix(a.String(), "JP\tCN=e-passportCSCA,OU=The Ministry of Foreign Affairs,O=Japanese Government,C=JP\t2024-04-15..2040-04-16\tECDSA P-384") {
			found = true
		}
	}
	if !found {
		t.Error("Japan's 2024 explicit P-384 CSCA not listed")
	}
}

func TestMasterListRefusals(t *testing.T) {
	der, root := readML(t)
	pol := cert.DefaultPolicy()
	// A root of our own: the German list must not verify against it.
	rootCert, err := cert.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := certtest.NewEC("P-256", crypto.SHA256, false)
	other, _ := certtest.Issue(certtest.Template{Serial: 1, Subject: rootCert.Subject, NotBefore: importTime.AddDate(-1, 0, 0), NotAfter: importTime.AddDate(1, 0, 0), IsCA: true}, k, nil)
	tampered := append([]byte{}, der...)
	tampered[len(tampered)/2] ^= 1
	tests := []struct {
		name  string
		der   []byte
		roots [][]byte
		now   time.Time
	}{
		{"no root", der, nil, importTime},
		{"wrong root with the same name", der, [][]byte{other.DER}, importTime},
		{"tampered content", tampered, [][]byte{root}, importTime},
		{"signer expired", der, [][]byte{root}, importTime.AddDate(30, 0, 0)},
		{"truncated", der[:len(der)-10], [][]byte{root}, importTime},
		{"not CMS", []byte("hello"), [][]byte{root}, importTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trust.ParseMasterList(tt.der, tt.roots, tt.now, pol)
			if !errors.Is(err, trust.ErrMasterList) {
				t.Errorf("ParseMasterList(%s) = %v, want ErrMasterList", tt.name, err)
			}
		})
	}
}

// TestSyntheticMasterList builds a list signed by our own root with a
// brainpool signer and checks import and the wrong-content-type refusal.
func TestSyntheticMasterList(t *testing.T) {
	now := time.Now()
	rootKey, _ := certtest.NewEC("brainpoolP384r1", crypto.SHA384, false)
	root, err := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"UT"}, CommonName: "UT Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, KeyUsage: x509.KeyUsageCertSign, SKI: []byte("root")}, rootKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	signerKey, _ := certtest.NewEC("brainpoolP256r1", crypto.SHA256, false)
	signer, _ := certtest.Issue(certtest.Template{Serial: 2, Subject: pkix.Name{Country: []string{"UT"}, CommonName: "UT ML Signer"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}, signerKey, root)
	cscaKey, _ := certtest.NewEC("P-384", crypto.SHA384, true)
	csca, _ := certtest.Issue(certtest.Template{Serial: 3, Subject: pkix.Name{Country: []string{"JP"}, CommonName: "Test CSCA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true}, cscaKey, nil)
	body, _ := asn1.Marshal(struct {
		V int
		C []asn1.RawValue `asn1:"set"`
	}{0, []asn1.RawValue{{FullBytes: csca.DER}, {FullBytes: root.DER}}})
	build := func(ct asn1.ObjectIdentifier) []byte {
		der, err := cmstest.Build(cmstest.SignedData{EContentType: ct, EContent: body, Certificates: [][]byte{signer.DER},
			Signers: []cmstest.Signer{{IssuerName: root.Subject, Serial: signer.Serial, Hash: crypto.SHA256,
				DigestAlg: signerKey.DigestAlgorithm(), SigAlg: signerKey.SignatureAlgorithm(), Sign: signerKey.Sign}}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	ml, err := trust.ParseMasterList(build(asn1.ObjectIdentifier{2, 23, 136, 1, 1, 2}), [][]byte{root.DER}, now, cert.DefaultPolicy())
	if err != nil {
		t.Fatalf("ParseMasterList(synthetic) = %v", err)
	}
	if len(ml.Certificates) != 2 || ml.Certificates[0].Country()+ml.Certificates[1].Country() != "JPUT" && ml.Certificates[0].Country()+ml.Certificates[1].Country() != "UTJP" {
		t.Errorf("ParseMasterList(synthetic) = %d certificates, want the JP CSCA and the UT root", len(ml.Certificates))
	}
	if _, err := trust.ParseMasterList(build(asn1.ObjectIdentifier{2, 23, 136, 1, 1, 1}), [][]byte{root.DER}, now, cert.DefaultPolicy()); !errors.Is(err, trust.ErrMasterList) {
		t.Errorf("ParseMasterList(SOD content type) = %v, want ErrMasterList", err)
	}
	// Test anchors are refused in production.
	a, _ := trust.NewAnchor(csca.DER, true)
	dir := t.TempDir()
	if _, err := trust.Save(dir, []*trust.Anchor{a}); err != nil {
		t.Fatal(err)
	}
	st, err := trust.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test anchor) = %v, want ErrTestAnchor", err)
	}
	empty, _ := trust.Load(filepath.Join(dir, "missing"))
	if err := empty.CheckProduction(); !errors.Is(err, trust.ErrNoAnchors) {
		t.Errorf("CheckProduction(empty) = %v, want ErrNoAnchors", err)
	}
	// A file whose content does not match its name is refused at load.
	bogus := filepath.Join(dir, "test", strings.Repeat("0", 64)+".cer")
	if err := os.WriteFile(bogus, csca.DER, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Load(dir); err == nil {
		t.Error("Load(misnamed anchor) = nil error, want an error")
	}
}

func FuzzParseMasterList(f *testing.F) {
	der, err := os.ReadFile(mlDir + "DE_ML_2026-05-28.ml")
	if err == nil {
		f.Add(der[:4096])
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	rootDER, _ := os.ReadFile(mlDir + "DE_ROOT_CA_CSCA07.cer")
	roots := [][]byte{rootDER}
	f.Fuzz(func(t *testing.T, b []byte) {
		ml, err := trust.ParseMasterList(b, roots, importTime, cert.DefaultPolicy())
		if err == nil && ml == nil {
			t.Fatal("nil list without error")
		}
		_, _ = cms.Parse(b)
	})
}

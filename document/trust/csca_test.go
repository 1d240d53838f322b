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

	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/internal/cert/certtest"
	"github.com/madoguchi/madoguchi/document/internal/cms/cmstest"
	"github.com/madoguchi/madoguchi/document/trust"
)

// TestMasterListSignerNotFromRoot: a root of the signer's issuer name but
// another key (the German 2024 list against the CSCA07 root reproduces it
// on real data), or a root of another name, is reported as such, not as
// "signature does not verify".
func TestMasterListSignerNotFromRoot(t *testing.T) {
	der, root := readML(t)
	rootCert, err := cert.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := certtest.NewEC("P-256", crypto.SHA256, false)
	sameName, _ := certtest.Issue(certtest.Template{Serial: 1, Subject: rootCert.Subject, NotBefore: importTime.AddDate(-1, 0, 0), NotAfter: importTime.AddDate(1, 0, 0), IsCA: true, SKI: []byte{1, 2, 3}}, k, nil)
	otherName, _ := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"NL"}, CommonName: "Other Root"}, NotBefore: importTime.AddDate(-1, 0, 0), NotAfter: importTime.AddDate(1, 0, 0), IsCA: true}, k, nil)
	for _, tt := range []struct {
		name string
		root []byte
		want string
	}{
		{"same name, other key", sameName.DER, "its key did not sign the signer certificate"},
		{"other name", otherName.DER, "was issued by"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := trust.ParseMasterList(der, [][]byte{tt.root}, importTime, cert.DefaultPolicy())
			if !errors.Is(err, trust.ErrSignerNotFromRoot) || !errors.Is(err, trust.ErrMasterList) {
				t.Fatalf("ParseMasterList(%s) = %v, want ErrSignerNotFromRoot and ErrMasterList", tt.name, err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "signature does not verify") {
				t.Errorf("ParseMasterList(%s) = %q, want it to say %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestMasterListAtSigningTime: the German list's signer expires on
// 2028-10-17; later the list verifies only at its signing time, and only
// when asked.
func TestMasterListAtSigningTime(t *testing.T) {
	der, root := readML(t)
	later := time.Date(2029, 3, 1, 0, 0, 0, 0, time.UTC)
	_, err := trust.ParseMasterList(der, [][]byte{root}, later, cert.DefaultPolicy())
	if !errors.Is(err, trust.ErrMasterList) || !strings.Contains(err.Error(), "valid when the list was signed (2026-05-28)") {
		t.Fatalf("ParseMasterList(expired signer) = %v, want a refusal pointing at the signing time", err)
	}
	ml, err := trust.VerifyMasterList(der, [][]byte{root}, trust.VerifyOptions{Now: later, Policy: cert.DefaultPolicy(), AtSigningTime: true})
	if err != nil {
		t.Fatalf("VerifyMasterList(AtSigningTime) = %v", err)
	}
	want := time.Date(2026, 5, 28, 6, 28, 45, 0, time.UTC)
	if !ml.SigningTime.Equal(want) || !ml.CheckedAt.Equal(want) {
		t.Errorf("SigningTime, CheckedAt = %v, %v; want %v", ml.SigningTime, ml.CheckedAt, want)
	}
	// Before the signing time the flag does not help (signed in the future).
	if _, err := trust.VerifyMasterList(der, [][]byte{root}, trust.VerifyOptions{Now: want.AddDate(0, 0, -1), Policy: cert.DefaultPolicy(), AtSigningTime: true}); !errors.Is(err, trust.ErrMasterList) {
		t.Errorf("VerifyMasterList(signed after now) = %v, want ErrMasterList", err)
	}
	// A list without a signing time cannot be verified at it.
	now := time.Now()
	rootKey, _ := certtest.NewEC("P-256", crypto.SHA256, false)
	r, _ := certtest.Issue(certtest.Template{Serial: 1, Subject: pkix.Name{Country: []string{"UT"}, CommonName: "UT Root"}, NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, KeyUsage: x509.KeyUsageCertSign}, rootKey, nil)
	sk, _ := certtest.NewEC("P-256", crypto.SHA256, false)
	signer, _ := certtest.Issue(certtest.Template{Serial: 2, Subject: pkix.Name{Country: []string{"UT"}, CommonName: "UT ML Signer"}, NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -1), KeyUsage: x509.KeyUsageDigitalSignature}, sk, r)
	body, _ := asn1.Marshal(struct {
		V int
		C []asn1.RawValue `asn1:"set"`
	}{0, []asn1.RawValue{{FullBytes: r.DER}}})
	build := func(extra [][]byte) []byte {
		der, err := cmstest.Build(cmstest.SignedData{EContentType: asn1.ObjectIdentifier{2, 23, 136, 1, 1, 2}, EContent: body, Certificates: [][]byte{signer.DER},
			Signers: []cmstest.Signer{{IssuerName: r.Subject, Serial: signer.Serial, Hash: crypto.SHA256, DigestAlg: sk.DigestAlgorithm(), SigAlg: sk.SignatureAlgorithm(), Sign: sk.Sign, ExtraAttrs: extra}}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	signingTime := func(at time.Time) []byte {
		b, _ := asn1.Marshal(struct {
			T asn1.ObjectIdentifier
			V []time.Time `asn1:"set"`
		}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}, []time.Time{at.UTC().Truncate(time.Second)}})
		return b
	}
	opts := trust.VerifyOptions{Now: now, Policy: cert.DefaultPolicy(), AtSigningTime: true}
	if _, err := trust.VerifyMasterList(build(nil), [][]byte{r.DER}, opts); !errors.Is(err, trust.ErrMasterList) || !strings.Contains(err.Error(), "signing-time") {
		t.Errorf("VerifyMasterList(no signing time) = %v, want a refusal naming the signing-time attribute", err)
	}
	if _, err := trust.VerifyMasterList(build([][]byte{signingTime(now.AddDate(0, -6, 0))}), [][]byte{r.DER}, opts); err != nil {
		t.Errorf("VerifyMasterList(signed while the signer was valid) = %v", err)
	}
	if _, err := trust.VerifyMasterList(build([][]byte{signingTime(now.AddDate(0, 0, -1).Add(time.Hour))}), [][]byte{r.DER}, trust.VerifyOptions{Now: now, Policy: cert.DefaultPolicy()}); !errors.Is(err, trust.ErrMasterList) {
		t.Errorf("VerifyMasterList(expired signer, no flag) = %v, want ErrMasterList", err)
	}
	if _, err := trust.VerifyMasterList(build([][]byte{signingTime(now.Add(time.Hour))}), [][]byte{r.DER}, opts); !errors.Is(err, trust.ErrMasterList) {
		t.Errorf("VerifyMasterList(signing time in the future) = %v, want ErrMasterList", err)
	}
	if _, err := trust.VerifyMasterList(build([][]byte{signingTime(now.AddDate(0, 0, 2))}), [][]byte{r.DER}, trust.VerifyOptions{Now: now.AddDate(0, 0, 3), Policy: cert.DefaultPolicy(), AtSigningTime: true}); !errors.Is(err, trust.ErrMasterList) {
		t.Errorf("VerifyMasterList(signed after the signer expired) = %v, want ErrMasterList", err)
	}
}

func TestCheckCSCA(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	from, to := now.AddDate(-5, 0, 0), now.AddDate(10, 0, 0)
	name := pkix.Name{Country: []string{"ID"}, Organization: []string{"Test Imigrasi"}, CommonName: "CSCA"}
	oldKey, _ := certtest.NewRSA(2048, false)
	newKey, _ := certtest.NewRSA(2048, true)
	issue := func(t testing.TB, tpl certtest.Template, k *certtest.Key, by *certtest.Cert) *certtest.Cert {
		t.Helper()
		c, err := certtest.Issue(tpl, k, by)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	old := issue(t, certtest.Template{Serial: 1, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca, SKI: []byte("old")}, oldKey, nil)
	good := issue(t, certtest.Template{Serial: 2, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca, SKI: []byte("new")}, newKey, nil)
	link := issue(t, certtest.Template{Serial: 3, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca, SKI: []byte("new")}, newKey, old)
	oldAnchor, _ := trust.NewAnchor(old.DER, false)
	store := trust.NewStore(oldAnchor)
	sha1Key, _ := certtest.NewEC("P-256", crypto.SHA1, false)
	tampered := append([]byte{}, good.DER...)
	tampered[len(tampered)-5] ^= 1

	tests := []struct {
		name     string
		der      []byte
		country  string
		existing *trust.Store
		fail     string // the one failing check, "" if all pass
	}{
		{"self-signed", good.DER, "ID", nil, ""},
		{"country in lower case", good.DER, "id", nil, ""},
		{"link certificate", link.DER, "ID", store, ""},
		{"link without its issuer", link.DER, "ID", nil, "signature"},
		{"not a CA", issue(t, certtest.Template{Serial: 4, Subject: name, NotBefore: from, NotAfter: to, KeyUsage: ca}, newKey, nil).DER, "ID", nil, "ca"},
		{"no keyCertSign", issue(t, certtest.Template{Serial: 5, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: x509.KeyUsageCRLSign}, newKey, nil).DER, "ID", nil, "key_usage"},
		{"no key usage", issue(t, certtest.Template{Serial: 6, Subject: name, NotBefore: from, NotAfter: to, IsCA: true}, newKey, nil).DER, "ID", nil, "key_usage"},
		{"expired", issue(t, certtest.Template{Serial: 7, Subject: name, NotBefore: from, NotAfter: now.AddDate(0, 0, -1), IsCA: true, KeyUsage: ca}, newKey, nil).DER, "ID", nil, "validity"},
		{"not yet valid", issue(t, certtest.Template{Serial: 8, Subject: name, NotBefore: now.AddDate(0, 0, 1), NotAfter: to, IsCA: true, KeyUsage: ca}, newKey, nil).DER, "ID", nil, "validity"},
		{"other country", good.DER, "MY", nil, "country"},
		{"no country", issue(t, certtest.Template{Serial: 9, Subject: pkix.Name{CommonName: "CSCA"}, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca}, newKey, nil).DER, "ID", nil, "country"},
		{"bad signature", tampered, "ID", nil, "signature"},
		{"SHA-1 signature", issue(t, certtest.Template{Serial: 10, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca}, sha1Key, nil).DER, "ID", nil, "signature"},
		{"unknown critical extension", issue(t, certtest.Template{Serial: 11, Subject: name, NotBefore: from, NotAfter: to, IsCA: true, KeyUsage: ca,
			Extra: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}, newKey, nil).DER, "ID", nil, "critical_extensions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := trust.CheckCSCA(tt.der, tt.country, tt.existing, now, cert.DefaultPolicy())
			if err != nil {
				t.Fatalf("CheckCSCA(%s) = %v", tt.name, err)
			}
			var failed []string
			for _, c := range r.Checks {
				if !c.OK {
					failed = append(failed, c.Name)
				}
			}
			got := strings.Join(failed, ",")
			if got != tt.fail {
				t.Fatalf("CheckCSCA(%s) failed checks = %q, want %q\n%s", tt.name, got, tt.fail, r)
			}
			if (r.Err() == nil) != (tt.fail == "") || r.OK() != (tt.fail == "") {
				t.Errorf("CheckCSCA(%s).Err() = %v, OK() = %v", tt.name, r.Err(), r.OK())
			}
			if tt.fail != "" && !errors.Is(r.Err(), trust.ErrCSCA) {
				t.Errorf("CheckCSCA(%s).Err() = %v, want ErrCSCA", tt.name, r.Err())
			}
		})
	}
	if _, err := trust.CheckCSCA([]byte("not a certificate"), "ID", nil, now, cert.DefaultPolicy()); !errors.Is(err, trust.ErrCSCA) {
		t.Errorf("CheckCSCA(garbage) = %v, want ErrCSCA", err)
	}
	if r, _ := trust.CheckCSCA(old.DER, "ID", store, now, cert.DefaultPolicy()); !r.Present {
		t.Error("CheckCSCA(already trusted) Present = false")
	}
}

func TestOperatorPolicy(t *testing.T) {
	dir := t.TempDir()
	st, err := trust.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.SHA1States(); len(got) != 0 {
		t.Fatalf("default SHA1States = %v, want none", got)
	}
	if err := trust.SavePolicy(dir, trust.OperatorPolicy{AllowSHA1: []string{"rus", "CHN", "RUS"}}); err != nil {
		t.Fatal(err)
	}
	st, err = trust.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.SHA1States(), ","); got != "CHN,RUS" {
		t.Errorf("SHA1States = %q, want CHN,RUS (normalised)", got)
	}
	for _, bad := range []string{`{"allow_sha1":["RU"]}`, `{"allow_sha1":["R1S"]}`, `{"allow_md5":["RUS"]}`, `not json`} {
		if err := os.WriteFile(filepath.Join(dir, "policy.json"), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := trust.Load(dir); err == nil {
			t.Errorf("Load(policy %s) = nil error, want refusal", bad)
		}
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/trust"
)

// TestTrustCRLRevokesDS imports a CSCA CRL with "trust crl" and checks that
// "document verify" then refuses a passport whose Document Signer it lists.
func TestTrustCRLRevokesDS(t *testing.T) {
	now := time.Now()
	data, dir := t.TempDir(), t.TempDir()
	ck, err := icaotest.NewRSAKey(2048, false)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := icaotest.NewRSAKey(2048, false)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := icaotest.NewPKI("UT", ck, dk, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	files, err := pki.Build(icaotest.Options{MRZ: icaotest.MRZ("UTO", now.AddDate(5, 0, 0).Format("060102"))})
	if err != nil {
		t.Fatal(err)
	}
	anchor, _ := trust.NewAnchor(pki.CSCA.DER, true)
	if _, err := trust.Save(trust.ICAODir(data), []*trust.Anchor{anchor}); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for name, b := range map[string][]byte{"sod": files.SOD, "dg1": files.DG[1], "dg2": files.DG[2]} {
		p := filepath.Join(dir, name+".bin")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	cscaX, err := x509.ParseCertificate(pki.CSCA.DER)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Hour), NextUpdate: now.AddDate(0, 1, 0),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: pki.DS.Serial, RevocationTime: now.Add(-time.Hour)}}}, cscaX, pki.CSCA.Key.RSA)
	if err != nil {
		t.Fatal(err)
	}
	crlPath := filepath.Join(dir, "csca.crl")
	if err := os.WriteFile(crlPath, crl, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	verify := func() error {
		out.Reset()
		return runDocumentVerify(e, append([]string{"--kind", "icao", "--data", data, "--allow-test-anchors"}, paths...), now)
	}
	if err := verify(); err != nil {
		t.Fatalf("verify before the CRL = %v; %s", err, errb.String())
	}
	if err := runTrust(t.Context(), e, []string{"crl", "--data", data, crlPath}); err != nil {
		t.Fatalf("trust crl = %v", err)
	}
	if !strings.Contains(out.String(), "imported 1 CRLs (1 new)") {
		t.Errorf("trust crl output = %q", out.String())
	}
	var ee exitError
	errb.Reset()
	if err := verify(); !errors.As(err, &ee) || !strings.Contains(out.String(), `"name": "ds.crl",`) || !strings.Contains(errb.String(), document.ErrRevoked.Error()) {
		t.Errorf("verify after the CRL = %v (stderr %q), want exit 1 with a failed ds.crl check", err, errb.String())
	}
	// A CRL no anchor signed is refused.
	if err := runTrust(t.Context(), e, []string{"crl", "--data", t.TempDir(), crlPath}); !errors.Is(err, trust.ErrCRL) {
		t.Errorf("trust crl without its CSCA = %v, want ErrCRL", err)
	}
}

// TestTrustImportGermanList imports the German master list (in
// document/trust/testdata) verified against its root; Japan's
// explicit-parameter P-384 CSCAs must be among the anchors.
func TestTrustImportGermanList(t *testing.T) {
	const dir = "../../document/trust/testdata/"
	ml, root := dir+"DE_ML_2026-05-28.ml", dir+"DE_ROOT_CA_CSCA07.cer"
	data := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	// The list's signer is valid until 2028-10-17: import as of a fixed day.
	at := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	trustCmd := func(args ...string) error {
		out.Reset()
		errb.Reset()
		if args[0] == "import" {
			return runTrustImport(e, args[1:], at)
		}
		return runTrust(t.Context(), e, args)
	}
	if err := trustCmd("import", "--masterlist", ml, "--signer-root", root, "--data", data); err != nil {
		t.Fatalf("trust import = %v; stderr %s", err, errb.String())
	}
	if !strings.Contains(out.String(), "verified master list signed by") || !strings.Contains(out.String(), "CN=CSCA Master List Signer") ||
		!strings.Contains(out.String(), " new, 0 skipped)") || errb.Len() != 0 {
		t.Errorf("trust import output = %q, stderr %q", out.String(), errb.String())
	}
	if !testing.Short() {
		if err := trustCmd("import", "--masterlist", ml, "--signer-root", root, "--data", data); err != nil || !strings.Contains(out.String(), "(0 new, 0 skipped)") {
			t.Errorf("second trust import = %v, %q; want nothing new", err, out.String())
		}
	}
	if err := trustCmd("list", "--data", data); err != nil {
		t.Fatal(err)
	}
	list := out.String()
	for _, want := range []string{
		"JP\tCN=e-passportCSCA,OU=The Ministry of Foreign Affairs,O=Japanese Government,C=JP\t2024-04-15..2040-04-16\tECDSA P-384\n",
		"JP\tCN=e-passportCSCA,OU=The Ministry of Foreign Affairs,O=Japanese Government,C=JP\t2013-05-14..2029-05-14\tRSA-4096\n",
		"\tECDSA brainpoolP",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("trust list lacks %q", want)
		}
	}
	if n := strings.Count(list, "\n"); n < 500 {
		t.Errorf("trust list = %d anchors, want the whole list (~588, deduplicated)", n)
	}
	if err := trustCmd("check", "--data", data); err != nil || !strings.HasPrefix(out.String(), "ok: ") {
		t.Errorf("trust check = %v, %q", err, out.String())
	}
	// The list against a root that is not its signer's: refused, nothing stored.
	other := t.TempDir()
	if err := trustCmd("import", "--masterlist", ml, "--signer-root", filepath.Join(dir, "README.md"), "--data", other); err == nil {
		t.Error("trust import with a bogus root = nil error")
	}
	if _, err := os.Stat(filepath.Join(other, "trust")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused import left files: %v", err)
	}
	if testing.Short() {
		return
	}
	// Test anchors are refused by the production check.
	testData := t.TempDir()
	if err := trustCmd("import", "--test", "--masterlist", ml, "--signer-root", root, "--data", testData); err != nil {
		t.Fatal(err)
	}
	if err := trustCmd("check", "--data", testData); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("trust check with test anchors = %v, want ErrTestAnchor", err)
	}
}

package main

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/trust"
)

// icaoPassport writes a synthetic passport (test CSCA, P-256 DS, brainpool
// AA key) under dir and its CSCA as a test anchor under data.
func icaoPassport(t *testing.T, data, dir string, now time.Time) (paths []string, aa *icaotest.AAKey) {
	t.Helper()
	ck, err := icaotest.NewECKey("brainpoolP256r1", crypto.SHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := icaotest.NewECKey("P-256", crypto.SHA256, false)
	if err != nil {
		t.Fatal(err)
	}
	pki, err := icaotest.NewPKI("UT", ck, dk, now.AddDate(-1, 0, 0), now.AddDate(5, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if aa, err = icaotest.NewECAA("P-256", crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	files, err := pki.Build(icaotest.Options{MRZ: icaotest.MRZ("UTO", now.AddDate(5, 0, 0).Format("060102")), AA: aa, AAOnDG14: true, WithDG11: true})
	if err != nil {
		t.Fatal(err)
	}
	anchor, err := trust.NewAnchor(pki.CSCA.DER, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := trust.Save(trust.ICAODir(data), []*trust.Anchor{anchor}); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	write("EF.SOD.bin", files.SOD)
	for n, b := range files.DG {
		write("dg"+string(rune('0'+n/10))+string(rune('0'+n%10))+".bin", b)
	}
	return paths, aa
}

func TestDocumentVerifyICAO(t *testing.T) {
	now := time.Now()
	data, dir := t.TempDir(), t.TempDir()
	paths, aa := icaoPassport(t, data, dir, now)
	challenge := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	sig, err := aa.Sign(challenge)
	if err != nil {
		t.Fatal(err)
	}
	aaPath := filepath.Join(dir, "aa.bin")
	if err := os.WriteFile(aaPath, sig, 0o600); err != nil {
		t.Fatal(err)
	}
	withAA := append(append([]string{}, paths...), aaPath)
	run := func(args ...string) (string, string, error) {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := runDocumentVerify(e, args, now)
		return out.String(), errb.String(), err
	}
	base := []string{"--kind", "icao", "--data", data}

	// Test anchors are refused unless allowed.
	if _, _, err := run(append(base, withAA...)...); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("verify with a test anchor = %v, want ErrTestAnchor", err)
	}
	// Verified, redacted.
	args := append(append(base, "--allow-test-anchors", "--challenge", hex.EncodeToString(challenge)), withAA...)
	out, stderr, err := run(args...)
	if err != nil {
		t.Fatalf("verify = %v; stderr %s; stdout %s", err, stderr, out)
	}
	for _, want := range []string{`"verified": true`, `"name": "aa",`, `"result": "pass"`, `"issuing_country": "UTO"`, `"[redacted]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %s:\n%s", want, out)
		}
	}
	for _, pii := range []string{"ERIKSSON", "L898902C3", "1974-08-12", "MAPLE"} {
		if strings.Contains(out, pii) {
			t.Errorf("redacted output contains %q", pii)
		}
	}
	// --reveal shows the data.
	out, _, err = run(append([]string{"--reveal"}, args...)...)
	if err != nil || !strings.Contains(out, "ERIKSSON") || !strings.Contains(out, "L898902C3") {
		t.Errorf("verify --reveal = %v, output lacks personal data", err)
	}
	// A response made for another challenge is refused with exit 1, the
	// evidence still printed.
	other := append(append(base, "--allow-test-anchors", "--challenge", "0807060504030201"), withAA...)
	out, stderr, err = run(other...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(out, `"verified": false`) || !strings.Contains(stderr, "aa") {
		t.Errorf("verify with another challenge = %v; stderr %q", err, stderr)
	}
	// A chip with an AA key but no response is refused.
	if _, _, err := run(append(append(base, "--allow-test-anchors"), paths...)...); !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("verify without AA response = %v, want exit 1", err)
	}
	// Usage errors.
	for _, bad := range [][]string{
		{"--kind", "library-card", "x"},
		{"--kind", "icao"},
		{"--kind", "icao", "--challenge", "zz", "x"},
		{"--kind", "icao", "--challenge", "0102", "x"},
		append(append(base, "--allow-test-anchors"), append(paths, filepath.Join(dir, "photo.jpg"))...),
		append(append(base, "--allow-test-anchors"), aaPath),
	} {
		var ue usageError
		if _, _, err := run(bad...); !errors.As(err, &ue) {
			t.Errorf("verify %q = %v, want usageError", bad, err)
		}
	}
	// No anchors at all.
	if _, _, err := run("--kind", "icao", "--data", t.TempDir(), paths[0]); !errors.Is(err, trust.ErrNoAnchors) {
		t.Errorf("verify without anchors = %v, want ErrNoAnchors", err)
	}
}

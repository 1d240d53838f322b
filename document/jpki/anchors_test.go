package jpki_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document/jpki"
)

// The fingerprints J-LIS publishes (also in ../../../shared/testdata/jpki/README.md).
var publishedFingerprints = map[string]string{
	"sign_ca_2023.pem": "D2:27:F6:CD:E1:1D:35:C5:25:21:78:F1:06:F8:43:D2:46:51:94:49:75:41:3B:53:9F:A2:FB:68:DB:FA:36:5F",
	"sign_ca_2015.pem": "19:64:54:05:A1:FE:14:37:74:34:BD:55:95:76:28:AC:40:38:55:7C:54:24:03:A2:24:3F:21:C7:06:FC:93:55",
	"auth_ca_2023.pem": "64:11:4F:29:62:0C:24:ED:26:31:D4:64:76:A0:40:E7:EE:74:0D:95:60:89:C0:0B:03:6A:6A:81:18:C3:22:B5",
	"auth_ca_2015.pem": "4D:CF:C4:CA:0A:AF:9F:B2:A3:08:1B:3F:0C:99:1C:32:0B:3A:CC:00:86:67:A3:41:EE:AE:C5:AF:1D:58:CA:7D",
}

func TestPinnedRootFingerprints(t *testing.T) {
	for name, want := range publishedFingerprints {
		b, err := os.ReadFile("anchors/" + name)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		sum := sha256.Sum256(blk.Bytes)
		got := strings.ToUpper(hex.EncodeToString(sum[:]))
		if got != strings.ReplaceAll(want, ":", "") {
			t.Errorf("SHA-256(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestProductionAnchors(t *testing.T) {
	a, err := jpki.ProductionAnchors()
	if err != nil {
		t.Fatalf("ProductionAnchors() = %v", err)
	}
	if err := jpki.CheckProduction(a); err != nil {
		t.Errorf("CheckProduction(ProductionAnchors()) = %v, want nil", err)
	}
	for _, u := range []jpki.Usage{jpki.UsageSign, jpki.UsageAuth} {
		roots := a.Roots(u)
		if len(roots) != 2 {
			t.Fatalf("Roots(%s) = %d certificates, want 2", u, len(roots))
		}
		want := map[jpki.Usage]string{jpki.UsageSign: "JPKI for digital signature", jpki.UsageAuth: "JPKI for user authentication"}[u]
		for _, r := range roots {
			if !r.IsCA || r.Subject.OrganizationalUnit[0] != want {
				t.Errorf("Roots(%s) has %q (CA=%v)", u, r.Subject.OrganizationalUnit, r.IsCA)
			}
		}
	}
}

func TestCheckProductionRefusesTestRoots(t *testing.T) {
	p := testPKI(t)
	prod, err := jpki.ProductionAnchors()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a    *jpki.Anchors
		want error
	}{
		{"test hierarchy", jpki.NewAnchors([]*x509.Certificate{p.Sign.Cert}, []*x509.Certificate{p.Auth.Cert}), jpki.ErrNotProduction},
		{"production plus a test root", jpki.NewAnchors(append(prod.Roots(jpki.UsageSign), p.Sign.Cert), prod.Roots(jpki.UsageAuth)), jpki.ErrNotProduction},
		{"usages swapped", jpki.NewAnchors(prod.Roots(jpki.UsageAuth), prod.Roots(jpki.UsageSign)), jpki.ErrNotProduction},
		{"no auth anchors", jpki.NewAnchors(prod.Roots(jpki.UsageSign), nil), jpki.ErrDisabled},
		{"nil", nil, jpki.ErrDisabled},
	}
	for _, tc := range tests {
		if err := jpki.CheckProduction(tc.a); !errors.Is(err, tc.want) {
			t.Errorf("CheckProduction(%s) = %v, want %v", tc.name, err, tc.want)
		}
	}
}

package chip_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/mynumber"
	"github.com/madoguchi/madoguchi/document/trust"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// trustDir lays out the test issuers' anchors as a server's <data>/trust.
func trustDir(t *testing.T, is *issuers) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := trust.Save(filepath.Join(dir, "icao"), is.cfg.ICAO.Anchors()); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "jpdl", "a.pem"), is.jpdl.CertificatePEM())
	mn, err := mynumber.MarshalAnchorPEM(is.myna.Anchor())
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "mynumber", "a.pem"), mn)
	writeFile(t, filepath.Join(dir, "residence", "a.pem"), is.res.RootPEM())
	return dir
}

func TestLoadDir(t *testing.T) {
	is := testIssuers(t)
	dir := trustDir(t, is)
	cfg, err := chip.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Now = is.cfg.Now
	v, err := chip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Enabled(); !slicesEqual(got, document.Kinds()) {
		t.Errorf("LoadDir: enabled %v, want every kind", got)
	}
	for _, k := range document.Kinds() {
		c := challenge(t)
		if _, err := v.Verify(context.Background(), k, is.read(t, k, c), c); err != nil {
			t.Errorf("Verify(%s) with anchors from LoadDir = %v", k, err)
		}
	}
	if err := v.CheckProduction(); !errors.Is(err, document.ErrTestAnchor) {
		t.Errorf("CheckProduction(test anchors from LoadDir) = %v, want ErrTestAnchor", err)
	}

	// A kind whose directory is missing is disabled; LoadKind says why.
	if err := os.RemoveAll(filepath.Join(dir, "residence")); err != nil {
		t.Fatal(err)
	}
	cfg, err = chip.LoadDir(dir)
	if err != nil || cfg.Residence != nil {
		t.Errorf("LoadDir(no residence/) = %v, %v; want residence disabled", cfg.Residence, err)
	}
	if _, err := chip.LoadKind(dir, document.KindResidence); !errors.Is(err, chip.ErrNoAnchors) {
		t.Errorf("LoadKind(residence, missing) = %v, want ErrNoAnchors", err)
	}
	if _, err := chip.LoadKind(t.TempDir(), document.KindICAO); !errors.Is(err, chip.ErrNoAnchors) {
		t.Errorf("LoadKind(icao, empty) = %v, want ErrNoAnchors", err)
	}
	if cfg, err := chip.LoadKind(dir, document.KindJPDL); err != nil || len(cfg.JPDL) != 1 || cfg.MyNumber != nil {
		t.Errorf("LoadKind(jpdl) = %d licence anchors, %d others, %v; want only the licence anchor", len(cfg.JPDL), len(cfg.MyNumber), err)
	}
	if cfg, err := chip.LoadDir(t.TempDir()); err != nil || cfg.ICAO != nil || cfg.JPDL != nil {
		t.Errorf("LoadDir(empty) = %+v, %v; want nothing configured", cfg, err)
	}
}

func TestLoadDirRefusesBadFiles(t *testing.T) {
	is := testIssuers(t)
	tests := []struct {
		name  string
		path  string
		data  []byte
		limit bool
	}{
		{"garbage", "jpdl/bad.pem", []byte("not a certificate"), false},
		{"key where a certificate belongs", "residence/x.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), false},
		{"certificate that does not parse", "jpdl/x.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), false},
		{"trailing text", "residence/y.pem", append(is.res.RootPEM(), "trailing\n"...), false},
		{"My Number key without reference", "mynumber/z.pem", []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), false},
		{"oversized", "jpdl/big.pem", make([]byte, chip.MaxAnchorFile+1), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := trustDir(t, is)
			writeFile(t, filepath.Join(dir, tt.path), tt.data)
			_, err := chip.LoadDir(dir)
			want := chip.ErrAnchors
			if tt.limit {
				want = document.ErrTooLarge
			}
			if !errors.Is(err, want) {
				t.Errorf("LoadDir(%s) = %v, want %v", tt.name, err, want)
			}
		})
	}
}

func FuzzParseCertificatesPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("junk\n-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\ntrailer"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, err := chip.ParseCertificatesPEM(b)
		if err == nil && len(certs) == 0 {
			t.Fatal("ParseCertificatesPEM = no certificates and no error")
		}
		if err != nil && strings.Contains(err.Error(), "\x00") {
			t.Fatalf("error %q holds input bytes", err)
		}
	})
}

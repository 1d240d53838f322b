package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/chip/devissuer"
	"github.com/madoguchi/madoguchi/ekyc"
)

// The server hands a.chips to the eKYC service.
var _ ekyc.ChipVerifier = (*chip.Verifier)(nil)

// TestOpenChips: a development start creates the dev issuers (0600) and
// trusts them; a production start refuses their anchors, never reads their
// keys, and with no anchors fails every chip closed.
func TestOpenChips(t *testing.T) {
	d := dataFlags{data: t.TempDir()}
	v, err := openChips(modeDevelopment, d)
	if err != nil {
		t.Fatalf("openChips(development) = %v", err)
	}
	if got := v.Enabled(); len(got) != len(document.Kinds()) {
		t.Errorf("openChips(development).Enabled() = %v, want every kind", got)
	}
	entries, err := os.ReadDir(d.devIssuersDir())
	if err != nil || len(entries) != 4 {
		t.Fatalf("dev issuers dir: %d files, %v; want 4 key files", len(entries), err)
	}
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("dev issuer key %s mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(d.devIssuersDir()); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dev issuers dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}

	// A chip minted by the dev issuers verifies on the development server.
	is, err := devissuer.Load(d.devIssuersDir())
	if err != nil {
		t.Fatal(err)
	}
	photo := []byte("P2\n2 2\n255\n0 64\n128 255\n")
	files, err := is.Mint(document.KindResidence, devissuer.Holder{Name: "A B", Birth: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), Photo: photo}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := v.Verify(context.Background(), document.KindResidence, files, nil); err != nil || !ev.Verified {
		t.Fatalf("development Verify(dev chip) = %v, want verified", err)
	}

	// Production refuses the test anchors.
	if _, err := openChips(modeProduction, d); !errors.Is(err, document.ErrTestAnchor) || !strings.Contains(err.Error(), "production mode") {
		t.Errorf("openChips(production, dev anchors) = %v, want ErrTestAnchor", err)
	}

	// Production without anchors: every kind disabled, every chip refused;
	// the dev issuers' keys are not read (a broken key file is not noticed).
	if err := os.RemoveAll(d.trustDir()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.devIssuersDir(), "jpdl.pem"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := openChips(modeProduction, d)
	if err != nil {
		t.Fatalf("openChips(production, no anchors) = %v, want a verifier with every kind disabled", err)
	}
	if got := p.Enabled(); len(got) != 0 {
		t.Errorf("openChips(production, no anchors).Enabled() = %v, want none", got)
	}
	if ev, err := p.Verify(context.Background(), document.KindResidence, files, nil); ev != nil || !errors.Is(err, document.ErrNotAccepted) {
		t.Errorf("production Verify(no anchors) = %v, %v; want refused (ErrNotAccepted)", ev, err)
	}
	if _, err := os.Stat(d.trustDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("openChips(production) created %s", d.trustDir())
	}
	// Development refuses the broken key file rather than replacing it.
	if _, err := openChips(modeDevelopment, d); err == nil {
		t.Error("openChips(development, world-readable garbage key) succeeded")
	}
	if _, err := openChips("staging", d); err == nil {
		t.Error("openChips(unknown mode) succeeded")
	}
}

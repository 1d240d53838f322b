package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFraudKeyWiring: the fraud digests are keyed by the one reuse secret
// (ekyc-chip-reuse.key): production refuses to build the fraud checks (and
// so eKYC) without it or with a copy readable by others; development
// creates it, 0600, once.
func TestFraudKeyWiring(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	a, err := openApp(context.Background(), modeDevelopment, dataFlags{data: dir}, log, true)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	svc, err := a.fraudService()
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := a.fraudService(); again != svc {
		t.Error("fraudService built a second service")
	}
	path := filepath.Join(dir, "keys", "ekyc-chip-reuse.key")
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("development key: %v, want a 0600 file", err)
	}

	pdir := t.TempDir()
	p := &app{mode: modeProduction, data: dataFlags{data: pdir}, log: log, db: a.db, audit: a.audit, vault: a.vault, blobs: a.blobs}
	if _, err := p.fraudService(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "chip-reuse key") {
		t.Errorf("fraudService(production, no key) = %v, want fs.ErrNotExist naming the key", err)
	}
	if _, err := p.newEKYC("https://bank.example"); err == nil {
		t.Error("newEKYC(production) built without a fraud key")
	}
	os.MkdirAll(filepath.Join(pdir, "keys"), 0o700)
	os.WriteFile(filepath.Join(pdir, "keys", "ekyc-chip-reuse.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o644)
	if _, err := p.fraudService(); err == nil || !strings.Contains(err.Error(), "chmod 600") && !strings.Contains(err.Error(), "readable") {
		t.Errorf("fraudService(production, world-readable key) = %v, want a refusal", err)
	}
	os.Chmod(filepath.Join(pdir, "keys", "ekyc-chip-reuse.key"), 0o600)
	if _, err := p.fraudService(); err != nil {
		t.Errorf("fraudService(production, provisioned key) = %v", err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Deployment modes. In development, missing keys are generated under the data
// directory with one warning; in production every key, trust anchor and
// policy must already exist, and test anchors are refused.
const (
	modeDevelopment = "development"
	modeProduction  = "production"
)

// app holds the server's long-lived components, wired once at start-up.
type app struct {
	mode  string
	data  dataFlags
	log   *slog.Logger
	db    *store.DB
	audit *audit.Log
	// devKeys lists the development keys generated or loaded, for the
	// single start-up warning.
	devKeys []string
}

// keysDir is where key files live under the data directory.
func (d *dataFlags) keysDir() string { return filepath.Join(d.data, "keys") }

// auditOrigin names the audit log in its checkpoints.
const auditOrigin = "madoguchi.local/audit"

// openApp opens the store and loads (or, in development, creates) the keys.
// Nothing in it is fail-open: a missing key in production is an error.
func openApp(ctx context.Context, mode string, d dataFlags, log *slog.Logger, migrate bool) (*app, error) {
	if mode != modeDevelopment && mode != modeProduction {
		return nil, usageError{fmt.Sprintf("mode %q: want %s or %s", mode, modeDevelopment, modeProduction)}
	}
	a := &app{mode: mode, data: d, log: log}
	db, err := d.openStore(ctx, migrate)
	if err != nil {
		return nil, err
	}
	a.db = db
	if err := a.loadKeys(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) loadKeys() error {
	dir := a.data.keysDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create keys directory: %w", err)
	}
	path := filepath.Join(dir, "audit-signer.key")
	var signer *audit.Signer
	var err error
	if a.mode == modeProduction {
		signer, err = audit.LoadSigner(path)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("production mode: audit signer key %s is missing: %w", path, err)
		}
	} else {
		var created bool
		signer, created, err = audit.LoadOrCreateDevSigner(path, auditOrigin)
		if created {
			a.devKeys = append(a.devKeys, path)
		}
	}
	if err != nil {
		return err
	}
	if a.audit, err = audit.New(a.db, signer); err != nil {
		return err
	}
	return nil
}

// Close releases what openApp opened.
func (a *app) Close() {
	if a.db != nil {
		a.db.Close()
	}
}

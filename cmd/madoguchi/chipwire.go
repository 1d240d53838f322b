package main

// Chip trust for the server (method ヘ). Anchors live under <data>/trust:
// icao/{production,test}/ (see `madoguchi trust import`) and
// jpdl/, mynumber/, residence/ with *.pem files (layout: package
// document/chip). A kind with no anchor is disabled: its chips are refused
// with a reason, never approved.
//
// Development: on first start the data directory gets DEV TEST ISSUERS, one
// per Japanese kind and an ICAO CSCA with a Document Signer (package
// document/chip/devissuer), keys under <data>/keys/dev-issuers/ (0600,
// refused on load if group or others may read them), and their TEST
// anchors are written into <data>/trust on every start. `madoguchi dev
// chip` mints chips with them.
//
// Production: the dev issuers' keys are never read, and any test anchor in
// <data>/trust stops start-up (chip.Verifier.CheckProduction).

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/document/chip/devissuer"
)

// trustDir is where the chip trust anchors live.
func (d *dataFlags) trustDir() string { return filepath.Join(d.data, "trust") }

// devIssuersDir is where a development data directory keeps the dev
// issuers' keys.
func (d *dataFlags) devIssuersDir() string { return filepath.Join(d.keysDir(), "dev-issuers") }

// openChips builds the server's chip verifier from <data>/trust, first
// creating the development issuers (development mode only).
func openChips(mode string, d dataFlags) (*chip.Verifier, error) {
	switch mode {
	case modeDevelopment:
		if _, _, err := ensureDevIssuers(d); err != nil {
			return nil, err
		}
	case modeProduction:
	default:
		return nil, usageError{fmt.Sprintf("mode %q: want %s or %s", mode, modeDevelopment, modeProduction)}
	}
	cfg, err := chip.LoadDir(d.trustDir())
	if err != nil {
		return nil, err
	}
	v, err := chip.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("chip trust anchors in %s: %w", d.trustDir(), err)
	}
	if mode == modeProduction {
		if err := v.CheckProduction(); err != nil {
			return nil, fmt.Errorf("production mode: %s holds test trust anchors (remove them, or use a development server): %w", d.trustDir(), err)
		}
	}
	return v, nil
}

// ensureDevIssuers loads (creating on first use) the development issuers
// of d and writes their TEST anchors into d's trust directory. created
// reports new keys.
func ensureDevIssuers(d dataFlags) (is *devissuer.Issuers, created bool, err error) {
	is, created, err = devissuer.LoadOrCreate(d.devIssuersDir(), time.Now())
	if err != nil {
		return nil, false, err
	}
	if err := is.WriteAnchors(d.trustDir()); err != nil {
		return nil, false, err
	}
	return is, created, nil
}

package main

// Japanese chip kinds (jpdl, mynumber, residence) for `madoguchi document
// verify`. The command itself (flags, output) lives in document.go; this
// file adapts package document/chip to it. The trust directory layout
// (--trust DIR: jpdl/, mynumber/, residence/ with *.pem files) and the chip
// file names are package chip's (see its package comment).
//
// Test anchors (from the *test packages, or a development server's dev
// issuers) are refused unless the caller allows them explicitly. A missing
// or empty directory is an error: no kind runs without configured anchors.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
)

// errNoTrust reports a kind without configured anchors.
var errNoTrust = chip.ErrNoAnchors

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	return chip.ReadFileLimited(path, limit)
}

// readChipFiles reads the named files into a map keyed by canonical file
// name. A name that belongs only to another kind is refused as a mixed
// bundle; an unknown name is a usage error. Names are checked before any
// file is read.
func readChipFiles(k document.Kind, paths []string) (map[string][]byte, error) {
	names := make([]string, len(paths))
	seen := map[string]bool{}
	for i, p := range paths {
		n, ok := chip.FileName(k, p)
		if !ok {
			if others := chip.KindsOf(p); len(others) > 0 {
				return nil, document.Refuse(k, "files", document.ErrNotAccepted, "file %s is a %s file, not %s: mixed bundle", p, others[0], k)
			}
			return nil, usageError{fmt.Sprintf("%s: not a %s chip file name (want one of %s)", p, k, strings.Join(chip.FileNames(k), ", "))}
		}
		if seen[n] {
			return nil, usageError{fmt.Sprintf("%s given twice", n)}
		}
		seen[n] = true
		names[i] = n
	}
	out := map[string][]byte{}
	for i, p := range paths {
		b, err := readLimited(p, chip.MaxFile)
		if err != nil {
			return nil, err
		}
		out[names[i]] = b
	}
	return out, nil
}

// productionChecker is what every chip verifier offers.
type productionChecker interface{ CheckProduction() error }

// jpChipVerifier verifies one bundle of chip files (keyed by chip file
// name) for one kind.
type jpChipVerifier struct {
	kind   document.Kind
	check  productionChecker
	verify func(files map[string][]byte, now time.Time) (*document.Evidence, error)
}

// newJPVerifier loads the anchors in trustDir/<kind> and builds the
// verifier for kind k.
func newJPVerifier(k document.Kind, trustDir string) (*jpChipVerifier, error) {
	if trustDir == "" {
		return nil, usageError{"--trust DIR is required for " + string(k)}
	}
	if k == document.KindICAO || !k.Valid() {
		return nil, usageError{fmt.Sprintf("kind %q is not a Japanese chip kind", k)}
	}
	cfg, err := chip.LoadKind(trustDir, k)
	if err != nil {
		return nil, err
	}
	v, err := chip.New(cfg)
	if err != nil {
		return nil, err
	}
	return &jpChipVerifier{kind: k, check: v, verify: func(m map[string][]byte, now time.Time) (*document.Evidence, error) {
		return v.VerifyAt(context.Background(), k, m, nil, now)
	}}, nil
}

// checkJPTrust is the start-up check for a production server: every
// Japanese chip kind must have usable anchors in trustDir, and none may be a
// test anchor. It returns the first problem found.
func checkJPTrust(trustDir string) error {
	for _, k := range []document.Kind{document.KindJPDL, document.KindMyNumber, document.KindResidence} {
		v, err := newJPVerifier(k, trustDir)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if err := v.check.CheckProduction(); err != nil {
			return err
		}
	}
	return nil
}

// jpVerify verifies one Japanese chip bundle: trust anchors from
// trustDir/<kind>, files from paths. allowTest permits test anchors (for
// development only); otherwise a test anchor is refused before any file is
// read.
func jpVerify(k document.Kind, trustDir string, allowTest bool, paths []string, now time.Time) (*document.Evidence, error) {
	v, err := newJPVerifier(k, trustDir)
	if err != nil {
		return nil, err
	}
	if !allowTest {
		if err := v.check.CheckProduction(); err != nil {
			return nil, err
		}
	}
	files, err := readChipFiles(k, paths)
	if err != nil {
		return nil, err
	}
	return v.verify(files, now)
}

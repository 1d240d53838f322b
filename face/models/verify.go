package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Verify checks that dir holds every file of pkgs with its pinned size and
// SHA-256, and that dir/manifest.json records the same pins. The error joins
// one *FileError per bad file (wrapping ErrMissing or ErrModified); test it
// with errors.Is / errors.As.
func Verify(dir string, pkgs []Package) error {
	var errs []error
	for _, p := range pkgs {
		if err := verifyPackage(dir, p); err != nil {
			errs = append(errs, err)
		}
	}
	m, err := readManifest(dir)
	if err != nil {
		errs = append(errs, &FileError{Path: manifestName, Err: err})
	} else {
		for _, want := range manifestFor(pkgs).Packages {
			if !manifestHas(m, want) {
				errs = append(errs, &FileError{Path: manifestName, Err: fmt.Errorf("%w: does not record %s@%s as pinned", ErrModified, want.Name, want.Version)})
			}
		}
	}
	return errors.Join(errs...)
}

func manifestHas(m manifest, want manifestPackage) bool {
	for _, got := range m.Packages {
		if got.Dir != want.Dir {
			continue
		}
		if got.Name != want.Name || got.Version != want.Version || got.Integrity != want.Integrity || len(got.Files) != len(want.Files) {
			return false
		}
		for k, v := range want.Files {
			if got.Files[k] != v {
				return false
			}
		}
		return true
	}
	return false
}

// verifyPackage checks the files of one package; nil means all present and
// matching.
func verifyPackage(dir string, p Package) error {
	var errs []error
	for _, f := range p.Files {
		rel := filepath.Join(p.Dir, f.Name)
		if err := verifyFile(filepath.Join(dir, rel), f); err != nil {
			errs = append(errs, &FileError{Path: rel, Err: err})
		}
	}
	return errors.Join(errs...)
}

func verifyFile(path string, f File) error {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrMissing
		}
		return err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", ErrModified)
	}
	if st.Size() != f.Size {
		return fmt.Errorf("%w: %d bytes, pinned %d", ErrModified, st.Size(), f.Size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(fh, f.Size)); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: sha256 differs from the pinned value", ErrModified)
	}
	return nil
}

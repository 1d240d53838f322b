package models

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Fetcher obtains the tarball of a pinned package into destDir and returns
// its path. The result is checked against the pinned integrity by Install,
// so a Fetcher need not be trusted.
type Fetcher interface {
	Fetch(ctx context.Context, pkg Package, destDir string) (string, error)
}

// NPM fetches tarballs with the npm client (`npm pack NAME@VERSION
// --pack-destination DIR`), so the operator's npm configuration (registry,
// proxy, cache) applies.
type NPM struct {
	// Path is the npm executable; empty means "npm" from $PATH.
	Path string
}

// Fetch implements Fetcher.
func (n NPM) Fetch(ctx context.Context, pkg Package, destDir string) (string, error) {
	bin := n.Path
	if bin == "" {
		bin = "npm"
	}
	cmd := exec.CommandContext(ctx, bin, "pack", pkg.Spec(), "--pack-destination", destDir, "--silent")
	cmd.Dir = destDir
	var stderr bytes.Buffer
	cmd.Stdout = io.Discard
	cmd.Stderr = &limitWriter{w: &stderr, n: 4096}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: npm pack %s: %v: %s", ErrFetch, pkg.Spec(), err, bytes.TrimSpace(stderr.Bytes()))
	}
	matches, err := filepath.Glob(filepath.Join(destDir, "*.tgz"))
	if err != nil || len(matches) != 1 {
		return "", fmt.Errorf("%w: npm pack %s produced %d tarballs", ErrFetch, pkg.Spec(), len(matches))
	}
	return matches[0], nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	k := min(len(p), l.n)
	if k > 0 {
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// Options tune Install.
type Options struct {
	// From lists tarballs already on disk. Each is matched to a pinned
	// package by its SHA-512; one that matches none is an ErrIntegrity.
	// When From is non-empty nothing is fetched: a package that is neither
	// installed nor given is an ErrMissing.
	From []string
	// Fetch obtains tarballs when From is empty; nil means NPM{}.
	Fetch Fetcher
	// KeepTarballs, if set, is a folder where fetched (verified) tarballs are
	// kept (named like npm names them) and looked for before fetching.
	KeepTarballs string
	// Progress, if set, is called before the first and after each package
	// that has to be installed: done of total such packages.
	Progress func(done, total int)
}

// Report says what Install did.
type Report struct {
	Installed []string // package specs newly extracted
	Unchanged []string // package specs already present and verified
}

// Install makes dir hold the verified files of pkgs (normally Pinned()).
// It is idempotent and safe against concurrent Installs into the same dir.
func Install(ctx context.Context, dir string, pkgs []Package, opt Options) (Report, error) {
	var rep Report
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rep, err
	}
	unlock, err := lockDir(ctx, filepath.Join(dir, ".install.lock"))
	if err != nil {
		return rep, err
	}
	defer unlock()

	var todo []Package
	for _, p := range pkgs {
		if err := verifyPackage(dir, p); err == nil {
			rep.Unchanged = append(rep.Unchanged, p.Spec())
			continue
		}
		todo = append(todo, p)
	}
	if len(todo) == 0 {
		if err := writeManifestIfChanged(dir, pkgs); err != nil {
			return rep, err
		}
		return rep, nil
	}

	given := map[string]string{} // integrity -> path
	for _, f := range opt.From {
		integ, err := integrityOf(f, maxTarball(pkgs))
		if err != nil {
			return rep, err
		}
		if !slices.ContainsFunc(pkgs, func(p Package) bool { return p.Integrity == integ }) {
			return rep, fmt.Errorf("%w: %s matches no pinned package", ErrIntegrity, f)
		}
		given[integ] = f
	}
	if opt.Progress != nil {
		opt.Progress(0, len(todo))
	}
	for i, p := range todo {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		tgz, cleanup, err := obtain(ctx, p, given, opt)
		if err != nil {
			return rep, err
		}
		err = installPackage(dir, p, tgz)
		cleanup()
		if err != nil {
			return rep, fmt.Errorf("install %s: %w", p.Spec(), err)
		}
		rep.Installed = append(rep.Installed, p.Spec())
		if opt.Progress != nil {
			opt.Progress(i+1, len(todo))
		}
	}
	return rep, writeManifestIfChanged(dir, pkgs)
}

func maxTarball(pkgs []Package) int64 {
	var m int64
	for _, p := range pkgs {
		m = max(m, p.MaxTarball)
	}
	return m
}

// obtain returns the path of a tarball for p whose integrity was checked.
func obtain(ctx context.Context, p Package, given map[string]string, opt Options) (string, func(), error) {
	nop := func() {}
	if len(opt.From) > 0 {
		if f, ok := given[p.Integrity]; ok {
			return f, nop, nil
		}
		return "", nop, fmt.Errorf("%w: no tarball given for %s", ErrMissing, p.Spec())
	}
	if opt.KeepTarballs != "" {
		kept := filepath.Join(opt.KeepTarballs, p.tarballName())
		if integ, err := integrityOf(kept, p.MaxTarball); err == nil && integ == p.Integrity {
			return kept, nop, nil
		}
	}
	tmp, err := os.MkdirTemp("", "madoguchi-npm-")
	if err != nil {
		return "", nop, err
	}
	cleanup := func() { os.RemoveAll(tmp) }
	fetch := opt.Fetch
	if fetch == nil {
		fetch = NPM{}
	}
	f, err := fetch.Fetch(ctx, p, tmp)
	if err != nil {
		cleanup()
		return "", nop, err
	}
	integ, err := integrityOf(f, p.MaxTarball)
	if err != nil {
		cleanup()
		return "", nop, err
	}
	if integ != p.Integrity {
		cleanup()
		return "", nop, fmt.Errorf("%w: fetched %s has %s", ErrIntegrity, p.Spec(), integ)
	}
	if opt.KeepTarballs != "" {
		if err := os.MkdirAll(opt.KeepTarballs, 0o755); err == nil {
			kept := filepath.Join(opt.KeepTarballs, p.tarballName())
			if copyFile(f, kept) == nil {
				cleanup()
				return kept, nop, nil
			}
		}
	}
	return f, cleanup, nil
}

// tarballName is the file name npm pack gives the package's tarball.
func (p Package) tarballName() string {
	n := strings.ReplaceAll(strings.TrimPrefix(p.Name, "@"), "/", "-")
	return n + "-" + p.Version + ".tgz"
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// integrityOf returns the npm-style "sha512-<base64>" of the file at p,
// refusing files larger than limit.
func integrityOf(p string, limit int64) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha512.New()
	n, err := io.Copy(h, io.LimitReader(f, limit+1))
	if err != nil {
		return "", err
	}
	if n > limit {
		return "", fmt.Errorf("%w: %s exceeds %d bytes", ErrTooLarge, p, limit)
	}
	return "sha512-" + base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}

// installPackage extracts the verified tarball tgz into dir/p.Dir atomically.
func installPackage(dir string, p Package, tgz string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp, err := os.MkdirTemp(dir, ".install-"+p.Dir+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after a successful rename, tmp no longer exists
	if err := extract(io.LimitReader(f, p.MaxTarball), p, tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	final := filepath.Join(dir, p.Dir)
	var old string
	if _, err := os.Lstat(final); err == nil {
		old = filepath.Join(dir, ".old-"+p.Dir+"-"+filepath.Base(tmp))
		if err := os.Rename(final, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if old != "" {
			os.Rename(old, final)
		}
		return err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// manifest is the on-disk record of an installed model folder.
type manifest struct {
	Version  int               `json:"version"`
	Packages []manifestPackage `json:"packages"`
}

type manifestPackage struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Integrity string            `json:"integrity"`
	Dir       string            `json:"dir"`
	Files     map[string]string `json:"sha256"`
}

const manifestName = "manifest.json"

func manifestFor(pkgs []Package) manifest {
	m := manifest{Version: 1}
	for _, p := range pkgs {
		mp := manifestPackage{Name: p.Name, Version: p.Version, Integrity: p.Integrity, Dir: p.Dir, Files: map[string]string{}}
		for _, f := range p.Files {
			mp.Files[f.Name] = f.SHA256
		}
		m.Packages = append(m.Packages, mp)
	}
	return m
}

// writeManifestIfChanged records pkgs in dir/manifest.json, keeping entries
// for other packages already recorded; it writes nothing if the file already
// says the same.
func writeManifestIfChanged(dir string, pkgs []Package) error {
	p := filepath.Join(dir, manifestName)
	cur, _ := readManifest(dir)
	want := manifestFor(pkgs)
	merged := manifest{Version: 1}
	for _, old := range cur.Packages {
		if !slices.ContainsFunc(want.Packages, func(n manifestPackage) bool { return n.Dir == old.Dir }) {
			merged.Packages = append(merged.Packages, old)
		}
	}
	merged.Packages = append(merged.Packages, want.Packages...)
	slices.SortFunc(merged.Packages, func(a, b manifestPackage) int {
		switch {
		case a.Dir < b.Dir:
			return -1
		case a.Dir > b.Dir:
			return 1
		}
		return 0
	})
	b, err := json.MarshalIndent(merged, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, b) {
		return nil
	}
	tmp, err := os.CreateTemp(dir, ".manifest-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return err
	}
	return syncDir(dir)
}

const maxManifest = 1 * mib

func readManifest(dir string) (manifest, error) {
	var m manifest
	f, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return m, fmt.Errorf("%w: %s", ErrMissing, manifestName)
		}
		return m, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return m, err
	}
	if len(b) > maxManifest {
		return m, fmt.Errorf("%w: %s", ErrTooLarge, manifestName)
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Version != 1 {
		return manifest{}, fmt.Errorf("%w: %s", ErrMalformed, manifestName)
	}
	return m, nil
}

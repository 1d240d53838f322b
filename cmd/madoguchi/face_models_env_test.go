package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestBranchServeModelsEnv: branch serve (and every face tool, which share
// its engine flags) finds the face models through MADOGUCHI_MODELS as serve
// does; --models still wins over it, and without either the folder is
// <data>/models. Each case points at an empty folder, so the engine refuses
// to load and its error names the folder it looked in.
func TestBranchServeModelsEnv(t *testing.T) {
	tmp := t.TempDir()
	branch := filepath.Join(tmp, "branch")
	var out, errb bytes.Buffer
	if err := branchInit(&env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}, []string{"--data", branch}); err != nil {
		t.Fatal(err)
	}
	fromEnv, fromFlag, data := filepath.Join(tmp, "env-models"), filepath.Join(tmp, "flag-models"), filepath.Join(tmp, "data")
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string
	}{
		{"environment", fromEnv, nil, fromEnv},
		{"flag over environment", fromEnv, []string{"--models", fromFlag}, fromFlag},
		{"neither", "", nil, filepath.Join(data, "models")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string {
				if k == "MADOGUCHI_MODELS" {
					return tc.env
				}
				return ""
			}}
			args := append([]string{"--branch-data", branch, "--data", data, "--device", "bdv_test", "--issuer-kid", "kid"}, tc.args...)
			err := branchServe(context.Background(), e, args)
			if err == nil || !strings.Contains(err.Error(), "face engine") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("branch serve = %v, want the face engine refused in %s", err, tc.want)
			}
		})
	}
}

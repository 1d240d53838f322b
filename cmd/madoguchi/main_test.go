package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run this test binary as the "madoguchi" command.
// With MADOGUCHI_TEST_EXEC_MAIN=1 the binary is madoguchi itself, so tests
// can run real server processes (and SIGKILL them).
func TestMain(m *testing.M) {
	if os.Getenv("MADOGUCHI_TEST_EXEC_MAIN") == "1" {
		main()
	}
	if dir := os.Getenv("MADOGUCHI_TEST_BLOB_WRITER"); dir != "" {
		blobWriter(dir) // never returns; killed by the test
	}
	testscript.Main(m, map[string]func(){
		"madoguchi": func() {
			e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
			os.Exit(run(context.Background(), e, os.Args[1:]))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each script runs in a
// fresh directory; MADOGUCHI_TEST_POSTGRES and CI pass through so scripts can
// choose their store.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			for _, k := range []string{"MADOGUCHI_TEST_POSTGRES", "CI", "MADOGUCHI_MODELS"} {
				if v := os.Getenv(k); v != "" {
					env.Setenv(k, v)
				}
			}
			return nil
		},
		RequireExplicitExec: true,
	})
}

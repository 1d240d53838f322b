package main

import (
	"strings"
	"testing"
)

// TestServeOneProcessPerSQLite: a second serve on a SQLite database that a
// running server uses refuses to start, with an error that says why and
// what to do; once the first has stopped (or died: the lock is the
// process's), a new one starts. Several instances share PostgreSQL
// (TestScaleOut).
func TestServeOneProcessPerSQLite(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	code, _, errs := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--data", dir, "--models-install", "off")
	if code == 0 || !strings.Contains(errs, "another madoguchi serve is using the SQLite database") {
		t.Fatalf("second serve on the same database = exit %d, %q; want refused", code, errs)
	}
	srv.kill()
	if c := startServer(t, dir).stop(t); c != 0 {
		t.Fatalf("serve after the first died: exit %d", c)
	}
}

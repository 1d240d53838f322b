package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auditRun runs "madoguchi audit ..." in-process and returns the exit status.
func auditRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code = run(context.Background(), e, append([]string{"audit"}, args...))
	return code, out.String(), errb.String()
}

// TestAuditVerifyNamesTamperedEntry edits one entry's bytes in the SQLite
// file itself and checks that "audit verify" exits 1 naming that entry.
func TestAuditVerifyNamesTamperedEntry(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, []string{"migrate", "--data", dir}); code != 0 {
		t.Fatalf("migrate = %d: %s", code, errb.String())
	}
	if code, _, stderr := auditRun(t, "key", "--data", dir, "--create"); code != 0 {
		t.Fatalf("audit key --create = %d: %s", code, stderr)
	}
	for i := range 12 {
		obj := "bk-" + string(rune('a'+i)) + "-marker"
		if code, _, stderr := auditRun(t, "append", "--data", dir, "--action", "ops.backup", "--object", obj); code != 0 {
			t.Fatalf("audit append = %d: %s", code, stderr)
		}
	}
	if code, _, stderr := auditRun(t, "checkpoint", "--data", dir); code != 0 {
		t.Fatalf("audit checkpoint = %d: %s", code, stderr)
	}
	if code, stdout, stderr := auditRun(t, "verify", "--data", dir); code != 0 || !strings.HasPrefix(stdout, "ok: 12 entries") {
		t.Fatalf("audit verify (untouched) = %d, %q, %q; want 0, ok: 12 entries", code, stdout, stderr)
	}

	// Fold the WAL into the file, then change entry 7's object inside its
	// leaf (the copy after the u16 length), everywhere it occurs.
	db := filepath.Join(dir, "madoguchi.db")
	if code := run(context.Background(), e, []string{"migrate", "--data", dir, "--status"}); code != 0 {
		t.Fatalf("migrate --status = %d", code)
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db + "-wal"); err == nil {
		if w, err := os.ReadFile(db + "-wal"); err == nil && len(w) > 0 {
			t.Skip("WAL not checkpointed into the database file; cannot edit the file in place")
		}
	}
	pat := []byte("\x00\x0bbk-h-marker")
	if !bytes.Contains(b, pat) {
		t.Fatal("entry 7's leaf not found in the database file")
	}
	b = bytes.ReplaceAll(b, pat, []byte("\x00\x0bbk-x-marker"))
	if err := os.WriteFile(db, b, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := auditRun(t, "verify", "--data", dir)
	if code != 1 || !strings.Contains(stderr, "FAIL: audit: entry 7:") {
		t.Errorf("audit verify (entry 7 edited) = %d, %q, %q; want 1 and FAIL naming entry 7", code, stdout, stderr)
	}
}

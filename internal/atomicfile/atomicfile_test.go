package atomicfile

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k.json")
	for _, tt := range []struct {
		data []byte
		perm os.FileMode
	}{{[]byte("old"), 0o600}, {[]byte("new content"), 0o644}} {
		if err := Write(p, tt.data, tt.perm); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, tt.data) {
			t.Errorf("after Write(%q): %q, %v", tt.data, got, err)
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != tt.perm {
			t.Errorf("mode %v, want %v", st.Mode().Perm(), tt.perm)
		}
	}
	assertOnly(t, dir, "k.json")
}

func TestWriteFailsLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	// the target is a non-empty directory: the rename must fail
	p := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, []byte("x"), 0o600); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	assertOnly(t, dir, "d")
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
}

func TestWriteNewOneWinner(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "set.pem")
	const n = 8
	var wg sync.WaitGroup
	won := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			won[i], errs[i] = WriteNew(p, []byte{byte('a' + i)}, 0o600)
		}()
	}
	wg.Wait()
	winners := 0
	var want byte
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if won[i] {
			winners++
			want = byte('a' + i)
		}
	}
	got, _ := os.ReadFile(p)
	if winners != 1 || len(got) != 1 || got[0] != want {
		t.Errorf("%d winners, file %q, want exactly one winner whose content stays", winners, got)
	}
	assertOnly(t, dir, "set.pem")
}

// assertOnly fails if dir holds anything but the named entries (no
// temporary file may be left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(names) {
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		t.Errorf("directory holds %v, want only %v", got, names)
	}
}

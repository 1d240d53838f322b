package keyfiletest

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Race runs n calls of run at once against path, a missing file in a
// missing folder of a fresh temporary directory: none may fail, exactly one
// may report that it created the file, and all must return the same key
// bytes, which Race returns. The file is then 0600, its folder 0700 and
// holds nothing else (no temporary file left behind), and a later call
// returns the same key with created false.
func Race(t *testing.T, n int, run func(path string) (key []byte, created bool, err error)) (path string, key []byte) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "keys", "key")
	keys := make([][]byte, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			keys[i], created[i], errs[i] = run(path)
		}()
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start %d of %d at once: %v", i, n, errs[i])
		}
		if created[i] {
			winners++
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("start %d of %d at once got another key than start 0", i, n)
		}
	}
	if winners != 1 {
		t.Errorf("%d of %d starts at once report created, want 1", winners, n)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, want mode 0600", err)
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("key folder: %v, want mode 0700", err)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("key folder holds %d entries, want only the key", len(ents))
	}
	again, c, err := run(path)
	if err != nil || c || !bytes.Equal(again, keys[0]) {
		t.Errorf("second start = created %v, %v, same key %v", c, err, bytes.Equal(again, keys[0]))
	}
	return path, keys[0]
}

// CheckCreate runs Race with n calls of create, checks that load returns
// the one key they all returned, and that an existing file that fails to
// load is an error and is left as it is.
func CheckCreate(t *testing.T, n int, create Create, load Load) {
	t.Helper()
	path, key := Race(t, n, func(path string) ([]byte, bool, error) {
		pub, created, err := create(path)
		if err != nil {
			return nil, created, err
		}
		b, err := pub.Bytes()
		return b, created, err
	})
	onDisk, err := load(path)
	if err != nil {
		t.Fatalf("load after the first start: %v", err)
	}
	if b, _ := onDisk.Bytes(); !bytes.Equal(b, key) {
		t.Error("the key the first starts returned is not the one on disk")
	}

	bad := filepath.Join(t.TempDir(), "bad.pem")
	writeFile(t, bad, []byte("not a key\n"), 0o644)
	if _, c, err := create(bad); err == nil || c {
		t.Errorf("create(world-readable garbage) = created %v, %v; want an error", c, err)
	}
	if b, _ := os.ReadFile(bad); string(b) != "not a key\n" {
		t.Error("create replaced an existing file that does not load")
	}
}

func writeFile(t *testing.T, path string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // umask-proof
		t.Fatal(err)
	}
}

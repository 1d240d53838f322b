package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeyFileCreateAndPermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "keys", "kek.json")
	if _, err := OpenKeyFile(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenKeyFile(missing) = %v, want fs.ErrNotExist", err)
	}
	kf, created, err := OpenOrCreateDevKeyFile(path)
	if err != nil || !created {
		t.Fatalf("OpenOrCreateDevKeyFile(new) = created %v, %v", created, err)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]fs.FileMode{true: 0o700, false: 0o600}[st.IsDir()]; st.Mode().Perm() != want {
			t.Errorf("mode of %s = %04o, want %04o", filepath.Base(p), st.Mode().Perm(), want)
		}
	}
	if _, created, err := OpenOrCreateDevKeyFile(path); err != nil || created {
		t.Errorf("OpenOrCreateDevKeyFile(existing) = created %v, %v; want opened", created, err)
	}
	if _, err := CreateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateKeyFile(existing) = %v, want fs.ErrExist", err)
	}
	ctx := context.Background()
	if _, err := kf.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("mode after Rotate = %04o, want 0600", st.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 2 { // kek.json and kek.json.lock, no temp files
		t.Errorf("key folder holds %d entries after rotate, want 2 (no leftovers)", len(ents))
	}
	for _, mode := range []fs.FileMode{0o640, 0o604, 0o660, 0o644} {
		os.Chmod(path, mode)
		if _, err := OpenKeyFile(path); !errors.Is(err, ErrKeyFileMode) {
			t.Errorf("OpenKeyFile(mode %04o) = %v, want ErrKeyFileMode", mode, err)
		}
		if _, err := kf.Wrap(ctx, []byte("x")); err != nil && !errors.Is(err, ErrKeyFileMode) {
			t.Errorf("Wrap after chmod %04o = %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := OpenKeyFile(path); err != nil {
		t.Errorf("OpenKeyFile(mode 0400) = %v, want ok", err)
	}
}

func TestKeyFileWrapRefuses(t *testing.T) {
	ctx := context.Background()
	kf := newKeyFile(t)
	other := newKeyFile(t)
	w, err := kf.Wrap(ctx, []byte("a data key"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) WrappedKey {
		d := append([]byte(nil), w.Data...)
		d[i] ^= 1
		return WrappedKey{KEKVersion: w.KEKVersion, Data: d}
	}
	tests := map[string]WrappedKey{
		"flipped magic":       flip(0),
		"flipped version":     flip(7),
		"flipped nonce":       flip(8),
		"flipped tag":         flip(len(w.Data) - 1),
		"row version differs": {KEKVersion: 2, Data: w.Data},
		"short":               {KEKVersion: 1, Data: w.Data[:20]},
		"empty":               {KEKVersion: 1},
	}
	for name, bad := range tests {
		if got, err := kf.Unwrap(ctx, bad); err == nil {
			t.Errorf("Unwrap(%s) = %q, want an error", name, got)
		}
	}
	if got, err := other.Unwrap(ctx, w); err == nil {
		t.Errorf("Unwrap with another key file = %q, want an error", got)
	}
	if _, err := kf.Wrap(ctx, make([]byte, maxWrapInput+1)); err == nil {
		t.Error("Wrap(oversized) = nil error")
	}
}

func TestParseKeyFile(t *testing.T) {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	good := `{"format":"madoguchi-keyring-v1","current":2,"min_decrypt":1,"keys":[{"version":1,"created":"2026-01-01T00:00:00Z","key":"` + k + `"},{"version":2,"created":"2026-01-02T00:00:00Z","key":"` + k + `"}]}`
	if _, err := parseKeyFile([]byte(good)); err != nil {
		t.Fatalf("parseKeyFile(good) = %v", err)
	}
	bad := map[string]string{
		"empty":             ``,
		"not json":          `{`,
		"trailing":          good + `{}`,
		"unknown field":     strings.Replace(good, `"current"`, `"extra":1,"current"`, 1),
		"wrong format":      strings.Replace(good, "keyring-v1", "keyring-v9", 1),
		"current too high":  strings.Replace(good, `"current":2`, `"current":3`, 1),
		"min above current": strings.Replace(good, `"min_decrypt":1`, `"min_decrypt":3`, 1),
		"min zero":          strings.Replace(good, `"min_decrypt":1`, `"min_decrypt":0`, 1),
		"gap":               strings.Replace(good, `"version":2`, `"version":3`, 1),
		"short key":         strings.Replace(good, k+`"}]`, short+`"}]`, 1),
		"bad base64":        strings.Replace(good, k+`"}]`, `!!!"}]`, 1),
		"huge":              good + strings.Repeat(" ", MaxKeyFileSize),
	}
	for name, in := range bad {
		if _, err := parseKeyFile([]byte(in)); !errors.Is(err, ErrKeyFile) {
			t.Errorf("parseKeyFile(%s) = %v, want ErrKeyFile", name, err)
		}
	}
}

func FuzzParseKeyFile(f *testing.F) {
	k := base64.StdEncoding.EncodeToString(make([]byte, 32))
	f.Add([]byte(`{"format":"madoguchi-keyring-v1","current":1,"min_decrypt":1,"keys":[{"version":1,"created":"2026-01-01T00:00:00Z","key":"` + k + `"}]}`))
	f.Add([]byte(`{"format":"madoguchi-keyring-v1","current":1}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"keys":[{"version":-1}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := parseKeyFile(b)
		if err != nil {
			if !errors.Is(err, ErrKeyFile) {
				t.Fatalf("parseKeyFile error %v does not wrap ErrKeyFile", err)
			}
			return
		}
		if err := kf.validate(); err != nil {
			t.Fatalf("parseKeyFile accepted an invalid file: %v", err)
		}
		for _, kv := range kf.Keys {
			if _, err := newGCM(kv.Key); err != nil {
				t.Fatalf("accepted key version %d does not make a cipher: %v", kv.Version, err)
			}
		}
	})
}

package vault

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// Key file format (JSON, one object, at most MaxKeyFileSize bytes):
//
//	{"format": "madoguchi-keyring-v1",
//	 "current": 2, "min_decrypt": 1,
//	 "keys": [{"version": 1, "created": "2026-11-20T23:00:00Z", "key": "<base64 of 32 bytes>"}, ...]}
//
// keys holds exactly the versions min_decrypt..current in ascending order;
// retiring a version deletes its key material from the file. The file must
// not be readable or writable by group or others (0600); every change is
// written to a temporary file in the same folder, synced, renamed over the
// old one, and the folder synced, under an exclusive lock on "<path>.lock",
// so a crash leaves the old or the new file, never a torn one.
//
// A wrapped key is "MDW1" || version (uint32) || nonce (12) || AES-256-GCM
// ciphertext and tag, with the first 8 bytes as additional data.
const (
	keyFileFormat = "madoguchi-keyring-v1"
	// MaxKeyFileSize bounds the key file read from disk.
	MaxKeyFileSize = 1 << 20
	maxKEKVersions = 4096
	wrapMagic      = "MDW1"
	wrapPrefix     = 8
	maxWrapInput   = 128
)

// Errors of the local key file.
var (
	// ErrKeyFile: the key file is malformed or inconsistent.
	ErrKeyFile = errors.New("vault: invalid key file")
	// ErrKeyFileMode: the key file is readable or writable by group or others.
	ErrKeyFileMode = errors.New("vault: key file permissions too open")
)

type keyFileJSON struct {
	Format     string       `json:"format"`
	Current    int          `json:"current"`
	MinDecrypt int          `json:"min_decrypt"`
	Keys       []keyVersion `json:"keys"`
}

type keyVersion struct {
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"` // base64 in JSON
}

func (kf *keyFileJSON) clear() {
	for i := range kf.Keys {
		clear(kf.Keys[i].Key)
	}
}

// parseKeyFile decodes and validates key file bytes.
func parseKeyFile(b []byte) (*keyFileJSON, error) {
	if len(b) > MaxKeyFileSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrKeyFile, len(b), MaxKeyFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var kf keyFileJSON
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		kf.clear()
		return nil, fmt.Errorf("%w: trailing data after the object", ErrKeyFile)
	}
	if err := kf.validate(); err != nil {
		kf.clear()
		return nil, err
	}
	return &kf, nil
}

func (kf *keyFileJSON) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrKeyFile}, a...)...)
	}
	if kf.Format != keyFileFormat {
		return bad("format is not %q", keyFileFormat)
	}
	if kf.MinDecrypt < 1 || kf.Current < kf.MinDecrypt || kf.Current > maxKEKVersions {
		return bad("versions must satisfy 1 <= min_decrypt <= current <= %d", maxKEKVersions)
	}
	if len(kf.Keys) != kf.Current-kf.MinDecrypt+1 {
		return bad("keys must hold exactly versions %d..%d", kf.MinDecrypt, kf.Current)
	}
	for i, k := range kf.Keys {
		if k.Version != kf.MinDecrypt+i {
			return bad("key %d has version %d, want %d", i, k.Version, kf.MinDecrypt+i)
		}
		if len(k.Key) != 32 {
			return bad("key version %d is %d bytes, want 32", k.Version, len(k.Key))
		}
	}
	return nil
}

// KeyFile is the local key-file keyring: KEK versions in a JSON file
// (see the format above). It implements Keyring and KeyAdmin and notices
// changes made by another process (an operator's "madoguchi keys rotate"
// while the server runs): Wrap and KEKStatus re-read the file when it
// changed, Unwrap when it meets an unknown version.
type KeyFile struct {
	path string

	mu      sync.RWMutex
	current int
	min     int
	aeads   map[int]cipher.AEAD
	stat    os.FileInfo
}

var (
	_ Keyring  = (*KeyFile)(nil)
	_ KeyAdmin = (*KeyFile)(nil)
)

// OpenKeyFile opens an existing key file: the production path. A missing
// file is an error wrapping fs.ErrNotExist; a group- or world-accessible one
// is refused with ErrKeyFileMode.
func OpenKeyFile(path string) (*KeyFile, error) {
	kf := &KeyFile{path: path}
	if err := kf.load(); err != nil {
		return nil, err
	}
	return kf, nil
}

// CreateKeyFile creates a new key file with one fresh KEK (version 1), mode
// 0600, failing if the file exists. Missing folders are created (0700).
func CreateKeyFile(path string) (*KeyFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("vault: create key folder: %w", err)
	}
	err := withFileLock(path, func() error {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("vault: key file %s: %w", filepath.Base(path), fs.ErrExist)
		}
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return err
		}
		j := &keyFileJSON{Format: keyFileFormat, Current: 1, MinDecrypt: 1,
			Keys: []keyVersion{{Version: 1, Created: time.Now().UTC().Truncate(time.Second), Key: k}}}
		defer j.clear()
		return writeKeyFile(path, j)
	})
	if err != nil {
		return nil, err
	}
	return OpenKeyFile(path)
}

// OpenOrCreateDevKeyFile opens the key file at path, creating it (and its
// folder, 0700) if it does not exist; created reports that it did, so the
// caller can warn that these are development keys. Production configuration
// uses OpenKeyFile (or Transit) and fails on a missing key.
func OpenOrCreateDevKeyFile(path string) (kf *KeyFile, created bool, err error) {
	kf, err = OpenKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kf, false, err
	}
	kf, err = CreateKeyFile(path)
	if errors.Is(err, fs.ErrExist) { // another process won the race
		kf, err = OpenKeyFile(path)
		return kf, false, err
	}
	return kf, err == nil, err
}

// Path returns the key file's path.
func (k *KeyFile) Path() string { return k.path }

// LogValue shows the file and versions, never key material.
func (k *KeyFile) LogValue() slog.Value {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return slog.GroupValue(slog.String("keyring", "file"), slog.String("path", k.path),
		slog.Int("current", k.current), slog.Int("min_decrypt", k.min))
}

// readKeyFile reads and parses the file after checking its mode.
func readKeyFile(path string) (*keyFileJSON, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("vault: open key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("vault: key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", ErrKeyFile, filepath.Base(path))
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 it)", ErrKeyFileMode, filepath.Base(path), st.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("vault: read key file: %w", err)
	}
	defer clear(b)
	j, err := parseKeyFile(b)
	if err != nil {
		return nil, nil, err
	}
	return j, st, nil
}

// load (re)reads the file into memory.
func (k *KeyFile) load() error {
	j, st, err := readKeyFile(k.path)
	if err != nil {
		return err
	}
	defer j.clear()
	aeads := make(map[int]cipher.AEAD, len(j.Keys))
	for _, kv := range j.Keys {
		g, err := newGCM(kv.Key)
		if err != nil {
			return err
		}
		aeads[kv.Version] = g
	}
	k.mu.Lock()
	k.current, k.min, k.aeads, k.stat = j.Current, j.MinDecrypt, aeads, st
	k.mu.Unlock()
	return nil
}

// refresh reloads the file if it changed on disk since it was loaded.
func (k *KeyFile) refresh() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return fmt.Errorf("vault: key file: %w", err)
	}
	k.mu.RLock()
	same := k.stat != nil && os.SameFile(st, k.stat) && st.ModTime().Equal(k.stat.ModTime()) && st.Size() == k.stat.Size()
	k.mu.RUnlock()
	if same {
		return nil
	}
	return k.load()
}

// Wrap encrypts plaintext under the current KEK version.
func (k *KeyFile) Wrap(_ context.Context, plaintext []byte) (WrappedKey, error) {
	if len(plaintext) > maxWrapInput {
		return WrappedKey{}, fmt.Errorf("vault: wrap input is %d bytes, limit %d", len(plaintext), maxWrapInput)
	}
	if err := k.refresh(); err != nil {
		return WrappedKey{}, err
	}
	k.mu.RLock()
	ver, g := k.current, k.aeads[k.current]
	k.mu.RUnlock()
	out := make([]byte, 0, wrapPrefix+nonceLen+len(plaintext)+tagLen)
	out = append(out, wrapMagic...)
	out = binary.BigEndian.AppendUint32(out, uint32(ver))
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return WrappedKey{}, err
	}
	out = append(out, nonce...)
	out = g.Seal(out, nonce, plaintext, out[:wrapPrefix])
	return WrappedKey{KEKVersion: ver, Data: out}, nil
}

// Unwrap decrypts a key wrapped by Wrap under any version not retired.
func (k *KeyFile) Unwrap(_ context.Context, w WrappedKey) ([]byte, error) {
	d := w.Data
	if len(d) < wrapPrefix+nonceLen+tagLen || string(d[:4]) != wrapMagic {
		return nil, fmt.Errorf("%w: not a key-file wrapped key", ErrKeyFile)
	}
	ver := int(binary.BigEndian.Uint32(d[4:8]))
	if ver != w.KEKVersion {
		return nil, fmt.Errorf("%w: wrapped key says version %d, row says %d", ErrKeyFile, ver, w.KEKVersion)
	}
	k.mu.RLock()
	g, ok := k.aeads[ver]
	k.mu.RUnlock()
	if !ok {
		// Perhaps another process rotated; re-read once.
		if err := k.load(); err != nil {
			return nil, err
		}
		k.mu.RLock()
		g, ok = k.aeads[ver]
		k.mu.RUnlock()
		if !ok {
			return nil, fmt.Errorf("%w: KEK version %d is retired or unknown", ErrKeyFile, ver)
		}
	}
	pt, err := g.Open(nil, d[wrapPrefix:wrapPrefix+nonceLen], d[wrapPrefix+nonceLen:], d[:wrapPrefix])
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped key does not authenticate", ErrKeyFile)
	}
	return pt, nil
}

// Rewrap re-encrypts w under the current version.
func (k *KeyFile) Rewrap(ctx context.Context, w WrappedKey) (WrappedKey, error) {
	pt, err := k.Unwrap(ctx, w)
	if err != nil {
		return WrappedKey{}, err
	}
	defer clear(pt)
	return k.Wrap(ctx, pt)
}

// KEKStatus reports the versions in the file.
func (k *KeyFile) KEKStatus(context.Context) (KEKStatus, error) {
	if err := k.refresh(); err != nil {
		return KEKStatus{}, err
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	st := KEKStatus{Name: filepath.Base(k.path), Current: k.current, MinDecrypt: k.min}
	for v := range k.aeads {
		st.Versions = append(st.Versions, v)
	}
	slices.Sort(st.Versions)
	return st, nil
}

// Rotate adds a new KEK version and makes it current.
func (k *KeyFile) Rotate(context.Context) (int, error) {
	var ver int
	err := withFileLock(k.path, func() error {
		j, _, err := readKeyFile(k.path)
		if err != nil {
			return err
		}
		defer j.clear()
		if j.Current >= maxKEKVersions {
			return fmt.Errorf("%w: %d versions, limit %d", ErrKeyFile, j.Current, maxKEKVersions)
		}
		nk := make([]byte, 32)
		if _, err := rand.Read(nk); err != nil {
			return err
		}
		j.Current++
		j.Keys = append(j.Keys, keyVersion{Version: j.Current, Created: time.Now().UTC().Truncate(time.Second), Key: nk})
		ver = j.Current
		return writeKeyFile(k.path, j)
	})
	if err != nil {
		return 0, err
	}
	return ver, k.load()
}

// Retire deletes the key material of every version below minVersion.
func (k *KeyFile) Retire(_ context.Context, minVersion int) error {
	err := withFileLock(k.path, func() error {
		j, _, err := readKeyFile(k.path)
		if err != nil {
			return err
		}
		defer j.clear()
		if minVersion > j.Current {
			return fmt.Errorf("vault: cannot retire the current KEK version %d", j.Current)
		}
		if minVersion <= j.MinDecrypt {
			return nil
		}
		drop := minVersion - j.MinDecrypt
		for i := range drop {
			clear(j.Keys[i].Key)
		}
		j.Keys = j.Keys[drop:]
		j.MinDecrypt = minVersion
		return writeKeyFile(k.path, j)
	})
	if err != nil {
		return err
	}
	return k.load()
}

// writeKeyFile writes j to path atomically: temp file in the same folder
// (0600), fsync, rename, fsync the folder.
func writeKeyFile(path string, j *keyFileJSON) error {
	if err := j.validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	defer clear(b)
	b = append(b, '\n')
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("vault: write key file: %w", err)
	}
	return nil
}

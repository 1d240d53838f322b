package fraud

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// Key is the server secret that keys every digest this package stores
// (documents, identities, devices, networks): HMAC-SHA256, never a plain
// hash, so that a stolen database cannot be tested against guessed
// document numbers or names. 32 bytes; it redacts itself in logs. The
// server loads it from the eKYC chip-reuse key file (64 hex digits, mode
// 0600): one provisioned secret keys every reuse digest, each use under its
// own label (Digest's "madoguchi/fraud/<label>/v1", length-prefixed; eKYC's
// "madoguchi/chip-reuse/v1"), so no two uses' digests can collide.
type Key struct{ k [32]byte }

// NewKey wraps 32 secret bytes.
func NewKey(b []byte) (*Key, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("fraud: a digest key is 32 bytes, got %d", len(b))
	}
	k := &Key{}
	copy(k.k[:], b)
	return k, nil
}

// LogValue never shows the key.
func (k *Key) LogValue() slog.Value { return slog.StringValue("fraud-key:REDACTED") }

// String redacts like LogValue.
func (k *Key) String() string { return "fraud-key:REDACTED" }

// LoadKey reads a key file: 64 hex digits (a trailing newline allowed),
// mode 0600 or stricter.
func LoadKey(path string) (*Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("fraud: key %s is readable by group or others (mode %v); chmod 600", path, st.Mode().Perm())
	}
	if st.Size() > 256 {
		return nil, fmt.Errorf("fraud: key %s is not a 64-hex-digit key file", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("fraud: key %s is not hex", path)
	}
	return NewKey(raw)
}

// LoadOrCreateDevKey loads the key at path or, if there is none, creates
// one (0600). For development servers; production provisions it.
func LoadOrCreateDevKey(path string) (k *Key, created bool, err error) {
	k, err = LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	created, err = atomicfile.WriteNew(path, []byte(hex.EncodeToString(raw[:])+"\n"), 0o600)
	if err != nil {
		return nil, false, err
	}
	k, err = LoadKey(path) // another process may have won the race
	return k, created, err
}

// Digest is HMAC-SHA256 under k over "madoguchi/fraud/<label>/v1" and
// each part, every one length-prefixed (so no two part lists collide).
func (k *Key) Digest(label string, parts ...string) []byte {
	m := hmac.New(sha256.New, k.k[:])
	write := func(s string) {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	write("madoguchi/fraud/" + label + "/v1")
	for _, p := range parts {
		write(p)
	}
	return m.Sum(nil)
}

package fraud

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"log/slog"

	"github.com/madoguchi/madoguchi/internal/keyfile"
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
// a regular file of mode 0600 or stricter, at most keyfile.MaxHexSize
// bytes. A missing file is fs.ErrNotExist.
func LoadKey(path string) (*Key, error) {
	raw, err := keyfile.LoadHex(path, 32)
	if err != nil {
		return nil, fmt.Errorf("fraud: key: %w", err)
	}
	defer clear(raw)
	return NewKey(raw)
}

// LoadOrCreateDevKey loads the key at path or, if there is none, creates
// one (0600). For development servers; production provisions it. Of
// several processes starting at once, one creates the key and all use it.
func LoadOrCreateDevKey(path string) (k *Key, created bool, err error) {
	raw, created, err := keyfile.LoadOrCreateHex(path, 32)
	if err != nil {
		return nil, false, fmt.Errorf("fraud: key: %w", err)
	}
	defer clear(raw)
	k, err = NewKey(raw)
	return k, created && err == nil, err
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

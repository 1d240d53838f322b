package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// ErrKeyFile reports a signer key file that is missing, unreadable, malformed
// or readable by anyone but its owner.
var ErrKeyFile = errors.New("audit: signer key file")

// maxKeyFile bounds the size of a key file read from disk.
const maxKeyFile = 4 << 10

// Signer signs checkpoints with an Ed25519 key in the C2SP signed-note key
// format ("PRIVATE+KEY+<name>+<hash>+<key>"). Its key name is the origin of
// the log's checkpoints. It never prints the private key: LogValue and
// String show the name and key hash only.
type Signer struct {
	s    note.Signer
	vkey string
}

// ParseSigner parses a note private key ("PRIVATE+KEY+name+hash+key") and
// derives its verifier key. Only Ed25519 keys are accepted.
func ParseSigner(skey string) (*Signer, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("%w: not a note signer key", ErrKeyFile)
	}
	// Derive the verifier key from the private key; note does not export it.
	// skey = PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>.
	// base64 may itself contain '+', so split on the first four only.
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 {
		return nil, fmt.Errorf("%w: not a note signer key", ErrKeyFile)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, fmt.Errorf("%w: not an Ed25519 note key", ErrKeyFile)
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyFile, err)
	}
	return &Signer{s: s, vkey: vkey}, nil
}

// GenerateSigner makes a new Ed25519 signer named name (the log origin, for
// example "bank.example/madoguchi-audit"; no spaces or '+').
func GenerateSigner(rnd io.Reader, name string) (*Signer, string, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	skey, _, err := note.GenerateKey(rnd, name)
	if err != nil {
		return nil, "", fmt.Errorf("audit: generate key %q: %w", name, err)
	}
	s, err := ParseSigner(skey)
	if err != nil {
		return nil, "", err
	}
	return s, skey, nil
}

// LoadSigner reads a signer key file. The file must be a regular file not
// readable or writable by group or others (0600 or stricter) and at most
// 4 KiB. A missing file is an error (errors.Is(err, fs.ErrNotExist)): a
// production server refuses to start without its key.
func LoadSigner(path string) (*Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, filepath.Base(path), err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, filepath.Base(path), err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %s: not a regular file", ErrKeyFile, filepath.Base(path))
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w %s: permissions %04o, want 0600 (chmod 600 it)", ErrKeyFile, filepath.Base(path), perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrKeyFile, filepath.Base(path), err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%w %s: larger than %d bytes", ErrKeyFile, filepath.Base(path), maxKeyFile)
	}
	s, err := ParseSigner(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, filepath.Base(path))
	}
	return s, nil
}

// LoadOrCreateDevSigner loads the signer key file at path, or, if it does
// not exist, generates a development key named name, writes it with mode
// 0600 (creating the directory 0700) and reports created = true so the
// caller can warn that this is a development key. Production configurations
// call LoadSigner instead, which refuses a missing file.
func LoadOrCreateDevSigner(path, name string) (s *Signer, created bool, err error) {
	s, err = LoadSigner(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return s, false, err
	}
	s, skey, err := GenerateSigner(rand.Reader, name)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	// O_EXCL: if another process created it meanwhile, use theirs.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		s, err = LoadSigner(path)
		return s, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("%w: write: %w", ErrKeyFile, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("%w: sync: %w", ErrKeyFile, err)
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrKeyFile, err)
	}
	return s, true, nil
}

// Name returns the key name, which is the checkpoint origin.
func (s *Signer) Name() string { return s.s.Name() }

// VerifierKey returns the public verifier key, "name+hash+base64key", to
// give to anyone who checks checkpoints.
func (s *Signer) VerifierKey() string { return s.vkey }

// String describes the signer without its private key.
func (s *Signer) String() string {
	return fmt.Sprintf("audit signer %s+%08x", s.s.Name(), s.s.KeyHash())
}

// LogValue redacts the private key.
func (s *Signer) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", s.s.Name()), slog.String("key_hash", fmt.Sprintf("%08x", s.s.KeyHash())))
}

var _ slog.LogValuer = (*Signer)(nil)

// Package keyfile reads and, for development servers, creates the small
// secret files a server keeps under <data>/keys: PEM private keys (signing
// keys) and hex secrets (HMAC keys).
//
// Invariants:
//   - A key file is read only if it is a regular file that group and others
//     can neither read nor write (0600 or stricter), and only up to a size
//     cap; a larger file is refused, never truncated.
//   - Errors name the file and what is wrong with it (ErrMode, ErrFormat,
//     ErrKeyType, or the fs error, so a missing file is fs.ErrNotExist);
//     they never carry any byte of its content.
//   - LoadOrCreate* write a new file (mode 0600, directory 0700) only where
//     none exists, through atomicfile.WriteNew: of several processes or
//     goroutines starting at once exactly one creates it, and every one of
//     them returns the key that is on disk. An existing file is never
//     replaced, whatever is wrong with it.
//
// Callers wrap these errors with their own prefix and sentinels.
package keyfile

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/madoguchi/madoguchi/internal/atomicfile"
)

// Size caps: a PEM private key file (an RSA-4096 PKCS#8 key is about
// 3.3 KB; the EC and Ed25519 keys of this server are under 300 bytes), and
// a hex secret file.
const (
	MaxPEMSize = 16 << 10
	MaxHexSize = 256
)

var (
	// ErrMode: the file is not a regular file, or group or others can read
	// or write it.
	ErrMode = errors.New("keyfile: permissions too open or not a regular file")
	// ErrFormat: the file is larger than its cap or does not hold a key of
	// the expected encoding.
	ErrFormat = errors.New("keyfile: malformed key file")
	// ErrKeyType: the file holds a well-formed private key of another type.
	ErrKeyType = errors.New("keyfile: wrong key type")
)

// Read returns the content of the key file at path after checking that it
// is a regular file of mode 0600 or stricter and at most max bytes. The
// caller should clear the returned slice when done with it.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMode, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, want 0600 (chmod 600 it)", ErrMode, path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		clear(b)
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrFormat, path, max)
	}
	return b, nil
}

// ParsePrivateKey parses the first PEM block of b, a SEC 1 "EC PRIVATE KEY"
// or a PKCS#8 "PRIVATE KEY", as a private key of type K (for example
// *ecdsa.PrivateKey or ed25519.PrivateKey). Its errors never quote b.
func ParsePrivateKey[K crypto.Signer](b []byte) (K, error) {
	var zero K
	blk, _ := pem.Decode(b)
	if blk == nil {
		return zero, fmt.Errorf("%w: no PEM block", ErrFormat)
	}
	var k any
	var err error
	switch blk.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		// The type line is a label, not key material.
		return zero, fmt.Errorf("%w: PEM block %q is not a private key", ErrFormat, blk.Type)
	}
	if err != nil {
		// x509's errors describe the structure, never the bytes.
		return zero, fmt.Errorf("%w: %s: %w", ErrFormat, blk.Type, err)
	}
	kk, ok := k.(K)
	if !ok {
		return zero, fmt.Errorf("%w: %T, want %T", ErrKeyType, k, zero)
	}
	return kk, nil
}

// LoadPrivateKey reads the PEM private key file at path (see Read and
// ParsePrivateKey).
func LoadPrivateKey[K crypto.Signer](path string) (K, error) {
	b, err := Read(path, MaxPEMSize)
	if err != nil {
		var zero K
		return zero, err
	}
	defer clear(b)
	k, err := ParsePrivateKey[K](b)
	if err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreatePrivateKey loads the key at path or, if there is no file,
// writes a key from generate there as PKCS#8 PEM (development servers
// only). created reports whether this call wrote the file; when several
// start at once, all return the one key on disk.
func LoadOrCreatePrivateKey[K crypto.Signer](path string, generate func() (K, error)) (k K, created bool, err error) {
	load := func() (K, error) { return LoadPrivateKey[K](path) }
	return loadOrCreate(path, load, func() ([]byte, error) {
		k, err := generate()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		defer clear(der)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	})
}

// ParseHex decodes b, hex digits with surrounding white space, as a
// secret of exactly n bytes. Its errors never quote b.
func ParseHex(b []byte, n int) ([]byte, error) {
	s := strings.TrimSpace(string(b))
	if len(s) != 2*n {
		return nil, fmt.Errorf("%w: want %d hex digits, got %d characters", ErrFormat, 2*n, len(s))
	}
	raw, err := hex.DecodeString(s)
	if err != nil {
		// hex's error quotes the offending byte: keep it out.
		return nil, fmt.Errorf("%w: not hex", ErrFormat)
	}
	return raw, nil
}

// LoadHex reads the hex secret file of n bytes at path (see Read and
// ParseHex); the file is at most MaxHexSize bytes.
func LoadHex(path string, n int) ([]byte, error) {
	b, err := Read(path, MaxHexSize)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	raw, err := ParseHex(b, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return raw, nil
}

// LoadOrCreateHex loads the n-byte hex secret at path or, if there is no
// file, writes n random bytes there as hex and a newline (development
// servers only). created reports whether this call wrote the file; when
// several start at once, all return the one secret on disk.
func LoadOrCreateHex(path string, n int) (secret []byte, created bool, err error) {
	load := func() ([]byte, error) { return LoadHex(path, n) }
	return loadOrCreate(path, load, func() ([]byte, error) {
		raw := make([]byte, n)
		defer clear(raw)
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		return []byte(hex.EncodeToString(raw) + "\n"), nil
	})
}

// loadOrCreate is load, or, where the file does not exist, encode's bytes
// written with WriteNew and then load again: a process that lost the race
// to create the file returns the winner's key, never its own.
func loadOrCreate[T any](path string, load func() (T, error), encode func() ([]byte, error)) (v T, created bool, err error) {
	v, err = load()
	if !errors.Is(err, fs.ErrNotExist) {
		return v, false, err
	}
	data, err := encode()
	if err != nil {
		return v, false, err
	}
	defer clear(data)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return v, false, err
	}
	created, err = atomicfile.WriteNew(path, data, 0o600)
	if err != nil {
		return v, false, err
	}
	v, err = load()
	return v, created && err == nil, err
}

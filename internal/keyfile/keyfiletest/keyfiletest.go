// Package keyfiletest checks a package's ECDSA P-256 key file loading that
// is built on keyfile: the files it must load (SEC 1 and PKCS#8 PEM, so
// that keys already on disk keep loading), the ones it must refuse, and the
// first-start race of its development create. For tests only.
package keyfiletest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/internal/keyfile"
)

// Load reads the key file at path and returns its public key.
type Load func(path string) (*ecdsa.PublicKey, error)

// Create loads the key file at path or creates it; created reports
// whether this call wrote it.
type Create func(path string) (pub *ecdsa.PublicKey, created bool, err error)

// CheckLoad runs load against key files of every kind. A file that group
// or others can read or write, or that is not a regular file, must fail
// with modeErr; a key of another type with keyfile.ErrKeyType; an ECDSA
// key on another curve than P-256 with some error; every error must start
// with prefix and never quote the file's content.
func CheckLoad(t *testing.T, load Load, modeErr error, prefix string) {
	t.Helper()
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := encode(t, "EC PRIVATE KEY", must(x509.MarshalECPrivateKey(p256)))
	pkcs8 := encode(t, "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(p256)))
	anyErr := errors.New("any error")
	for _, tt := range []struct {
		name string
		data []byte // nil: a directory
		perm os.FileMode
		want error // nil: loads p256
	}{
		{"SEC 1 EC PRIVATE KEY", sec1, 0o600, nil},
		{"PKCS#8 PRIVATE KEY", pkcs8, 0o400, nil},
		{"missing", nil, 0, os.ErrNotExist},
		{"world-readable", pkcs8, 0o644, modeErr},
		{"group-writable", sec1, 0o620, modeErr},
		{"directory", nil, 0o700, modeErr},
		{"wrong key type Ed25519", encode(t, "PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ed))), 0o600, keyfile.ErrKeyType},
		{"wrong curve P-384", encode(t, "EC PRIVATE KEY", must(x509.MarshalECPrivateKey(p384))), 0o600, anyErr},
		{"public key block", encode(t, "PUBLIC KEY", must(x509.MarshalPKIXPublicKey(&p256.PublicKey))), 0o600, keyfile.ErrFormat},
		{"not PEM", pkcs8[len("-----BEGIN PRIVATE KEY-----\n"):], 0o600, keyfile.ErrFormat},
		{"oversize", []byte(string(pkcs8) + strings.Repeat("\n", keyfile.MaxPEMSize)), 0o600, keyfile.ErrFormat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "key.pem")
			switch {
			case tt.data == nil && tt.perm != 0:
				if err := os.Mkdir(path, tt.perm); err != nil {
					t.Fatal(err)
				}
			case tt.data != nil:
				writeFile(t, path, tt.data, tt.perm)
			}
			pub, err := load(path)
			if tt.want == nil {
				if err != nil || pub == nil || !pub.Equal(&p256.PublicKey) {
					t.Fatalf("load(%s) = %v, want the key in the file", tt.name, err)
				}
				return
			}
			if err == nil || (tt.want != anyErr && !errors.Is(err, tt.want)) {
				t.Fatalf("load(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("load(%s) error %q does not start with %q", tt.name, err, prefix)
			}
			body := string(tt.data) // past the first line: key material
			if i := strings.IndexByte(body, '\n'); i >= 0 {
				body = body[i+1:]
			}
			if len(body) >= 16 && strings.Contains(err.Error(), body[:16]) {
				t.Errorf("load(%s) error quotes the file's content", tt.name)
			}
		})
	}
}

func encode(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

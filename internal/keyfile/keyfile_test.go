package keyfile

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func genEC() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func genEd() (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	return k, err
}

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// write puts data at dir/name with mode perm (a nil data makes a directory).
func write(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if data == nil {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

func TestLoadPrivateKey(t *testing.T) {
	ec, _ := genEC()
	sec1, _ := x509.MarshalECPrivateKey(ec)
	pkcs8EC, _ := x509.MarshalPKCS8PrivateKey(ec)
	ed, _ := genEd()
	pkcs8Ed, _ := x509.MarshalPKCS8PrivateKey(ed)
	secret := "c2VjcmV0LWtleS1tYXRlcmlhbA" // must never appear in an error
	for _, tt := range []struct {
		name    string
		data    []byte // nil: a directory
		perm    os.FileMode
		missing bool
		want    error // nil: loads as *ecdsa.PrivateKey
	}{
		{name: "sec1", data: pemOf(t, "EC PRIVATE KEY", sec1), perm: 0o600},
		{name: "pkcs8", data: pemOf(t, "PRIVATE KEY", pkcs8EC), perm: 0o400},
		{name: "missing", missing: true, want: fs.ErrNotExist},
		{name: "world-readable", data: pemOf(t, "EC PRIVATE KEY", sec1), perm: 0o644, want: ErrMode},
		{name: "group-writable", data: pemOf(t, "EC PRIVATE KEY", sec1), perm: 0o620, want: ErrMode},
		{name: "directory", want: ErrMode},
		{name: "oversize", data: append(pemOf(t, "EC PRIVATE KEY", sec1), bytes.Repeat([]byte("\n"), MaxPEMSize)...), perm: 0o600, want: ErrFormat},
		{name: "not PEM", data: []byte(secret), perm: 0o600, want: ErrFormat},
		{name: "empty", data: []byte{}, perm: 0o600, want: ErrFormat},
		{name: "public key block", data: pemOf(t, "PUBLIC KEY", []byte(secret)), perm: 0o600, want: ErrFormat},
		{name: "corrupt DER", data: pemOf(t, "EC PRIVATE KEY", []byte(secret)), perm: 0o600, want: ErrFormat},
		{name: "wrong key type", data: pemOf(t, "PRIVATE KEY", pkcs8Ed), perm: 0o600, want: ErrKeyType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "key.pem")
			if !tt.missing {
				p = write(t, dir, "key.pem", tt.data, tt.perm)
			}
			k, err := LoadPrivateKey[*ecdsa.PrivateKey](p)
			if tt.want == nil {
				if err != nil || k == nil || !k.Equal(ec) {
					t.Fatalf("LoadPrivateKey(%s) = %v, %v, want the key", tt.name, k, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadPrivateKey(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("LoadPrivateKey(%s) error %q does not name the file", tt.name, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("LoadPrivateKey(%s) error quotes the file's content", tt.name)
			}
		})
	}
}

func TestLoadHex(t *testing.T) {
	key := bytes.Repeat([]byte{0xab}, 32)
	for _, tt := range []struct {
		name    string
		data    []byte
		perm    os.FileMode
		missing bool
		want    error
	}{
		{name: "hex", data: []byte(hex.EncodeToString(key)), perm: 0o600},
		{name: "hex newline", data: []byte(hex.EncodeToString(key) + "\n"), perm: 0o400},
		{name: "upper case", data: []byte(strings.ToUpper(hex.EncodeToString(key)) + "\r\n"), perm: 0o600},
		{name: "missing", missing: true, want: fs.ErrNotExist},
		{name: "world-readable", data: []byte(hex.EncodeToString(key)), perm: 0o604, want: ErrMode},
		{name: "directory", want: ErrMode},
		{name: "oversize", data: []byte(hex.EncodeToString(key) + strings.Repeat(" ", MaxHexSize)), perm: 0o600, want: ErrFormat},
		{name: "short", data: []byte(hex.EncodeToString(key[:31])), perm: 0o600, want: ErrFormat},
		{name: "long", data: []byte(hex.EncodeToString(append(key, 1))), perm: 0o600, want: ErrFormat},
		{name: "not hex", data: []byte("zz" + hex.EncodeToString(key[1:])), perm: 0o600, want: ErrFormat},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "hmac.key")
			if !tt.missing {
				p = write(t, dir, "hmac.key", tt.data, tt.perm)
			}
			got, err := LoadHex(p, 32)
			if tt.want == nil {
				if err != nil || !bytes.Equal(got, key) {
					t.Fatalf("LoadHex(%s) = %x, %v, want %x", tt.name, got, err, key)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadHex(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("LoadHex(%s) error %q does not name the file", tt.name, err)
			}
			if strings.Contains(err.Error(), "zz") || strings.Contains(err.Error(), "abab") {
				t.Errorf("LoadHex(%s) error %q quotes the file's content", tt.name, err)
			}
		})
	}
}

// TestLoadOrCreateKeepsBadFile: an existing file that fails to load is an
// error, never silently replaced by a new key.
func TestLoadOrCreateKeepsBadFile(t *testing.T) {
	dir := t.TempDir()
	rk, _ := rsa.GenerateKey(rand.Reader, 1024)
	der, _ := x509.MarshalPKCS8PrivateKey(rk)
	for _, tt := range []struct {
		name string
		data []byte
		perm os.FileMode
		want error
	}{
		{"world-readable", []byte(strings.Repeat("ab", 32)), 0o644, ErrMode},
		{"garbage", []byte("garbage"), 0o600, ErrFormat},
		{"rsa", pemOf(t, "PRIVATE KEY", der), 0o600, ErrKeyType},
	} {
		p := write(t, dir, tt.name, tt.data, tt.perm)
		before, _ := os.ReadFile(p)
		if _, created, err := LoadOrCreatePrivateKey(p, genEC); !errors.Is(err, tt.want) || created {
			t.Errorf("LoadOrCreatePrivateKey(%s) = created %v, %v, want %v", tt.name, created, err, tt.want)
		}
		if tt.name != "rsa" {
			if _, created, err := LoadOrCreateHex(p, 32); !errors.Is(err, tt.want) || created {
				t.Errorf("LoadOrCreateHex(%s) = created %v, %v, want %v", tt.name, created, err, tt.want)
			}
		}
		if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
			t.Errorf("%s: the file was rewritten", tt.name)
		}
	}
}

// FuzzParsePrivateKey: any input either parses to a key of the asked type
// or fails with ErrFormat or ErrKeyType, and the error never quotes it.
func FuzzParsePrivateKey(f *testing.F) {
	ec, _ := genEC()
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p8, _ := x509.MarshalPKCS8PrivateKey(ec)
	ed, _ := genEd()
	p8ed, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(pemOf(f, "EC PRIVATE KEY", sec1))
	f.Add(pemOf(f, "PRIVATE KEY", p8))
	f.Add(pemOf(f, "PRIVATE KEY", p8ed))
	f.Add(pemOf(f, "EC PRIVATE KEY", []byte("\x30\x03\x02\x01\x01")))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range []func([]byte) (any, error){
			func(b []byte) (any, error) { return ParsePrivateKey[*ecdsa.PrivateKey](b) },
			func(b []byte) (any, error) { return ParsePrivateKey[ed25519.PrivateKey](b) },
		} {
			k, err := parse(b)
			if err != nil {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrKeyType) {
					t.Fatalf("ParsePrivateKey = %v, want ErrFormat or ErrKeyType", err)
				}
				if blk, _ := pem.Decode(b); blk != nil && len(blk.Bytes) >= 8 && strings.Contains(err.Error(), string(blk.Bytes)) {
					t.Fatalf("ParsePrivateKey error quotes the key bytes")
				}
				continue
			}
			switch k := k.(type) {
			case *ecdsa.PrivateKey:
				if k == nil {
					t.Fatal("ParsePrivateKey returned a nil ECDSA key without error")
				}
				if b, err := k.Bytes(); err != nil || len(b) == 0 {
					t.Fatal("ParsePrivateKey returned an unusable ECDSA key without error")
				}
			case ed25519.PrivateKey:
				if len(k) != ed25519.PrivateKeySize {
					t.Fatalf("ParsePrivateKey returned an Ed25519 key of %d bytes", len(k))
				}
			}
		}
	})
}

// FuzzParseHex: any input either decodes to exactly n bytes that encode
// back to its trimmed text, or fails with ErrFormat without quoting it.
func FuzzParseHex(f *testing.F) {
	f.Add([]byte(strings.Repeat("ab", 32)+"\n"), 32)
	f.Add([]byte(strings.Repeat("AB", 16)), 16)
	f.Add([]byte("zz"), 1)
	f.Add([]byte(" \t\n"), 0)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 128 {
			return
		}
		raw, err := ParseHex(b, n)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("ParseHex = %v, want ErrFormat", err)
			}
			if s := strings.TrimSpace(string(b)); len(s) >= 4 && strings.Contains(err.Error(), s) {
				t.Fatalf("ParseHex error quotes its input")
			}
			return
		}
		if len(raw) != n || !strings.EqualFold(hex.EncodeToString(raw), strings.TrimSpace(string(b))) {
			t.Fatalf("ParseHex(%q, %d) = %x", b, n, raw)
		}
	})
}

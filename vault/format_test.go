package vault

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestParseHeader(t *testing.T) {
	body := make([]byte, tagLen)
	mk := func(prefix string, ver []byte) []byte {
		b := append([]byte(prefix), ver...)
		b = append(b, make([]byte, nonceLen)...)
		return append(b, body...)
	}
	tests := []struct {
		name string
		in   []byte
		ver  uint32
		err  error
	}{
		{"v1", mk("MDV\x01", []byte{0, 0, 0, 1}), 1, nil},
		{"max", mk("MDV\x01", []byte{0x7f, 0xff, 0xff, 0xff}), maxDEKVersion, nil},
		{"version zero", mk("MDV\x01", []byte{0, 0, 0, 0}), 0, ErrFormat},
		{"version too big", mk("MDV\x01", []byte{0x80, 0, 0, 0}), 0, ErrFormat},
		{"format 2", mk("MDV\x02", []byte{0, 0, 0, 1}), 0, ErrFormat},
		{"magic", mk("MDW\x01", []byte{0, 0, 0, 1}), 0, ErrFormat},
		{"short", mk("MDV\x01", []byte{0, 0, 0, 1})[:overhead-1], 0, ErrFormat},
	}
	for _, tt := range tests {
		h, rest, err := parseHeader(tt.in)
		if !errors.Is(err, tt.err) || h.dekVersion != tt.ver {
			t.Errorf("parseHeader(%s) = v%d, %v; want v%d, %v", tt.name, h.dekVersion, err, tt.ver, tt.err)
		}
		if err == nil && len(rest) != tagLen {
			t.Errorf("parseHeader(%s) body = %d bytes, want %d", tt.name, len(rest), tagLen)
		}
	}
}

// FuzzOpen feeds arbitrary bytes to Open: it must never panic, never return
// plaintext for anything but a ciphertext sealed for that subject and aad,
// and report only documented errors.
func FuzzOpen(f *testing.F) {
	db := storetest.SQLite(f)
	v, _ := newVault(f, newKeyFile(f), db)
	ct := seal(f, v, db, alice, []byte("aad"), []byte("plain"))
	f.Add(ct, []byte("aad"))
	f.Add(ct[:overhead], []byte("aad"))
	f.Add([]byte("MDV\x01\x00\x00\x00\x02"), []byte(nil))
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, in, aad []byte) {
		pt, err := v.Open(context.Background(), db, alice, aad, in)
		if err == nil {
			if !bytes.Equal(in, ct) || !bytes.Equal(aad, []byte("aad")) || string(pt) != "plain" {
				t.Fatalf("Open accepted a forged input: %q", pt)
			}
			return
		}
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrDecrypt) {
			t.Fatalf("Open error %v is neither ErrFormat nor ErrDecrypt", err)
		}
	})
}

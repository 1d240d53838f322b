package keyfile_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/madoguchi/madoguchi/internal/keyfile"
	"github.com/madoguchi/madoguchi/internal/keyfile/keyfiletest"
)

// TestLoadOrCreateRace: N goroutines starting at once against a missing
// file: exactly one creates it, every one returns the key on disk.
func TestLoadOrCreateRace(t *testing.T) {
	const n = 16
	t.Run("ecdsa", func(t *testing.T) {
		keyfiletest.Race(t, n, func(p string) ([]byte, bool, error) {
			k, c, err := keyfile.LoadOrCreatePrivateKey(p, func() (*ecdsa.PrivateKey, error) {
				return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			})
			if err != nil {
				return nil, c, err
			}
			b, err := k.PublicKey.Bytes()
			return b, c, err
		})
	})
	t.Run("ed25519", func(t *testing.T) {
		keyfiletest.Race(t, n, func(p string) ([]byte, bool, error) {
			k, c, err := keyfile.LoadOrCreatePrivateKey(p, func() (ed25519.PrivateKey, error) {
				_, k, err := ed25519.GenerateKey(rand.Reader)
				return k, err
			})
			if err != nil {
				return nil, c, err
			}
			return k.Public().(ed25519.PublicKey), c, nil
		})
	})
	t.Run("hex", func(t *testing.T) {
		keyfiletest.Race(t, n, func(p string) ([]byte, bool, error) { return keyfile.LoadOrCreateHex(p, 32) })
	})
}

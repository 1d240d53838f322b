package credential

import (
	"crypto/ecdsa"
	"testing"

	"github.com/madoguchi/madoguchi/internal/keyfile/keyfiletest"
)

// TestIssuerKeyFile: the issuer key loads from the PKCS#8 files earlier
// servers wrote (and SEC 1); a file others can read (ErrKeyFileMode) and a
// key of another type are refused; of several development servers
// starting at once one creates the key and all use it (the overwriting
// create let each keep its own).
func TestIssuerKeyFile(t *testing.T) {
	load := func(path string) (*ecdsa.PublicKey, error) {
		k, err := LoadIssuerKey(path)
		if err != nil {
			return nil, err
		}
		return k.Public(), nil
	}
	t.Run("load", func(t *testing.T) { keyfiletest.CheckLoad(t, load, ErrKeyFileMode, "credential: ") })
	t.Run("create", func(t *testing.T) {
		keyfiletest.CheckCreate(t, 16, func(path string) (*ecdsa.PublicKey, bool, error) {
			k, created, err := LoadOrCreateDevIssuerKey(path)
			if err != nil {
				return nil, created, err
			}
			return k.Public(), created, nil
		}, load)
	})
}

package oauth

import (
	"crypto/ecdsa"
	"testing"

	"github.com/madoguchi/madoguchi/internal/keyfile"
	"github.com/madoguchi/madoguchi/internal/keyfile/keyfiletest"
)

func signerPub(s *Signer, err error) (*ecdsa.PublicKey, error) {
	if err != nil {
		return nil, err
	}
	return &s.key.PublicKey, nil
}

// TestSignerKeyFile: the signing key loads from the SEC 1 files earlier
// development servers wrote and from PKCS#8; a file others can read, a key
// of another type and a missing file without create are refused; of
// several development servers starting at once one creates the key and all
// use it.
func TestSignerKeyFile(t *testing.T) {
	load := func(path string) (*ecdsa.PublicKey, error) {
		s, _, err := LoadOrCreateSigner(path, false)
		return signerPub(s, err)
	}
	t.Run("load", func(t *testing.T) { keyfiletest.CheckLoad(t, load, keyfile.ErrMode, "oauth: signing key") })
	t.Run("create", func(t *testing.T) {
		keyfiletest.CheckCreate(t, 16, func(path string) (*ecdsa.PublicKey, bool, error) {
			s, created, err := LoadOrCreateSigner(path, true)
			pub, err := signerPub(s, err)
			return pub, created, err
		}, load)
	})
}

//go:build cgo

package hsm_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/madoguchi/madoguchi/internal/hsm"
	"github.com/madoguchi/madoguchi/internal/hsm/hsmtest"
)

// BenchmarkSign: one signature by a key in memory (file) and by the same
// algorithm's key in SoftHSM2 through PKCS#11, in one run. SoftHSM2 is
// software, so the difference is the PKCS#11 path (cgo, session, the
// module's own crypto), not a hardware HSM's latency.
func BenchmarkSign(b *testing.B) {
	tk := hsmtest.New(b, "madoguchi-bench")
	h := sha256.Sum256([]byte("madoguchi"))
	fileP256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, fileEd, _ := ed25519.GenerateKey(rand.Reader)
	p256, err := hsm.OpenSigner(tk.Generate(b, "p256", hsm.ECDSAP256))
	if err != nil {
		b.Fatal(err)
	}
	defer p256.Close()
	ed, err := hsm.OpenSigner(tk.Generate(b, "ed", hsm.Ed25519))
	if err != nil {
		b.Fatal(err)
	}
	defer ed.Close()
	for _, bc := range []struct {
		name   string
		s      crypto.Signer
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"ES256/file", fileP256, h[:], crypto.SHA256},
		{"ES256/pkcs11", p256, h[:], crypto.SHA256},
		{"Ed25519/file", fileEd, h[:], crypto.Hash(0)},
		{"Ed25519/pkcs11", ed, h[:], crypto.Hash(0)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.s.Sign(rand.Reader, bc.digest, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHPKEOpen: opening a 32-byte HPKE message (what unwrapping a
// branch key is) with a key in memory and with the token's P-256 key.
func BenchmarkHPKEOpen(b *testing.B) {
	tk := hsmtest.New(b, "madoguchi-bench")
	x, err := hsm.OpenKeyExchanger(tk.Generate(b, "branch", hsm.ECDHP256))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	fileP256, _ := ecdh.P256().GenerateKey(rand.Reader)
	fileX25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	for _, bc := range []struct {
		name string
		k    ecdh.KeyExchanger
	}{
		{"X25519/file", fileX25519},
		{"P256/file", fileP256},
		{"P256/pkcs11", x},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pk, _ := hpke.NewDHKEMPublicKey(bc.k.PublicKey())
			sk, err := hpke.NewDHKEMPrivateKey(bc.k)
			if err != nil {
				b.Fatal(err)
			}
			ct, _ := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), []byte("info"), make([]byte, 32))
			for b.Loop() {
				if _, err := hpke.Open(sk, hpke.HKDFSHA256(), hpke.AES128GCM(), []byte("info"), ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package icao_test

import (
	"crypto"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"

	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/icao/icaotest"
	"github.com/madoguchi/madoguchi/document/trust"
)

func TestRSAActiveAuthHashes(t *testing.T) {
	setup(t) // rsaAA: a 1024-bit AA key
	spki, err := x509.MarshalPKIXPublicKey(&rsaAA.RSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pol := trust.DefaultPolicy()
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		k := &icaotest.AAKey{RSA: rsaAA.RSA, RSAHash: h}
		c := challenge(t)
		sig, err := k.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := icao.VerifyActiveAuth(spki, nil, icao.ActiveAuth{Challenge: c, Signature: sig}, pol); err != nil {
			t.Errorf("VerifyActiveAuth(ISO 9796-2 with %v) = %v, want nil", h, err)
		}
		if err := icao.VerifyActiveAuth(spki, nil, icao.ActiveAuth{Challenge: challenge(t), Signature: sig}, pol); !errors.Is(err, icao.ErrAA) {
			t.Errorf("VerifyActiveAuth(%v, other challenge) = %v, want ErrAA", h, err)
		}
	}
	// The signer may return the representative n − F (ISO/IEC 9796-2 §B):
	// s' = (n − F)^d. Build it from a normal response: F = s^e.
	c := challenge(t)
	sig, err := rsaAA.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	n := rsaAA.RSA.N
	f := new(big.Int).Exp(new(big.Int).SetBytes(sig), big.NewInt(int64(rsaAA.RSA.E)), n)
	alt := new(big.Int).Exp(new(big.Int).Sub(n, f), rsaAA.RSA.D, n)
	if err := icao.VerifyActiveAuth(spki, nil, icao.ActiveAuth{Challenge: c, Signature: alt.FillBytes(make([]byte, len(sig)))}, pol); err != nil {
		t.Errorf("VerifyActiveAuth(n − F representative) = %v, want nil", err)
	}
}

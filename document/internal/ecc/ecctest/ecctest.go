// Package ecctest signs with test keys on any ecc curve (brainpool, or a
// NIST curve through the generic arithmetic), so tests can build passports
// and certificates that crypto/ecdsa cannot. Test use only: it is
// variable-time.
package ecctest

import (
	"crypto/rand"
	"encoding/asn1"
	"math/big"

	"github.com/madoguchi/madoguchi/document/internal/ecc"
)

// Key is a test private key.
type Key struct {
	D   *big.Int
	Pub *ecc.PublicKey
}

// GenerateKey returns a random key on c.
func GenerateKey(c *ecc.Curve) (*Key, error) {
	for {
		d, err := rand.Int(rand.Reader, c.N)
		if err != nil {
			return nil, err
		}
		if d.Sign() == 0 {
			continue
		}
		x, y := c.ScalarBaseMult(d.Bytes())
		return &Key{D: d, Pub: &ecc.PublicKey{Curve: c, X: x, Y: y}}, nil
	}
}

func hashToInt(digest []byte, n *big.Int) *big.Int {
	bits := n.BitLen()
	size := (bits + 7) / 8
	if len(digest) > size {
		digest = digest[:size]
	}
	e := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - bits; excess > 0 {
		e.Rsh(e, uint(excess))
	}
	return e
}

// Sign returns an ECDSA signature (r, s) of digest.
func (k *Key) Sign(digest []byte) (*big.Int, *big.Int, error) {
	c := k.Pub.Curve
	e := hashToInt(digest, c.N)
	for {
		kk, err := rand.Int(rand.Reader, c.N)
		if err != nil {
			return nil, nil, err
		}
		if kk.Sign() == 0 {
			continue
		}
		x, _ := c.ScalarBaseMult(kk.Bytes())
		r := new(big.Int).Mod(x, c.N)
		if r.Sign() == 0 {
			continue
		}
		s := new(big.Int).Mul(r, k.D)
		s.Add(s, e)
		s.Mul(s, new(big.Int).ModInverse(kk, c.N))
		s.Mod(s, c.N)
		if s.Sign() == 0 {
			continue
		}
		return r, s, nil
	}
}

// SignASN1 returns a DER Ecdsa-Sig-Value.
func (k *Key) SignASN1(digest []byte) ([]byte, error) {
	r, s, err := k.Sign(digest)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct{ R, S *big.Int }{r, s})
}

// SignPlain returns r‖s padded to the size of n.
func (k *Key) SignPlain(digest []byte) ([]byte, error) {
	r, s, err := k.Sign(digest)
	if err != nil {
		return nil, err
	}
	size := (k.Pub.Curve.N.BitLen() + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out, nil
}

// ExplicitParameters encodes c as SpecifiedECDomain (version 1, prime
// field, uncompressed base point, cofactor), as Japan's CSCA certificates do.
func ExplicitParameters(c *ecc.Curve) ([]byte, error) {
	size := c.ByteSize()
	pad := func(n *big.Int) []byte { return n.FillBytes(make([]byte, size)) }
	base := append([]byte{4}, append(pad(c.Gx), pad(c.Gy)...)...)
	type fieldID struct {
		Type  asn1.ObjectIdentifier
		Prime *big.Int
	}
	type curve struct{ A, B []byte }
	return asn1.Marshal(struct {
		Version  int
		Field    fieldID
		Curve    curve
		Base     []byte
		Order    *big.Int
		Cofactor int
	}{1, fieldID{asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}, c.P}, curve{pad(c.A), pad(c.B)}, base, c.N, int(c.H)})
}

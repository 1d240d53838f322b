package ecc

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var oidPrimeField = asn1.ObjectIdentifier{1, 2, 840, 10045, 1, 1}

// maxParams bounds the DER size of ECParameters.
const maxParams = 4096

// ParseECParameters decodes the ECParameters of an id-ecPublicKey
// SubjectPublicKeyInfo (RFC 3279 / SEC 1): a namedCurve OID, or explicit
// SpecifiedECDomain parameters over a prime field, which are accepted only
// if they equal one of the named curves. implicitCA is refused.
func ParseECParameters(der []byte) (*Curve, error) {
	if len(der) > maxParams {
		return nil, fmt.Errorf("%w: %d bytes of parameters", ErrMalformed, len(der))
	}
	in := cryptobyte.String(der)
	if in.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER) {
		var oid asn1.ObjectIdentifier
		if !in.ReadASN1ObjectIdentifier(&oid) || !in.Empty() {
			return nil, fmt.Errorf("%w: namedCurve", ErrMalformed)
		}
		return CurveByOID(oid)
	}
	if !in.PeekASN1Tag(cbasn1.SEQUENCE) {
		return nil, fmt.Errorf("%w: implicitCA or unknown ECParameters choice", ErrUnknownCurve)
	}
	var s, field, curve, base cryptobyte.String
	var version int64
	var ft asn1.ObjectIdentifier
	p, n := new(big.Int), new(big.Int)
	var a, b []byte
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !in.Empty() ||
		!s.ReadASN1Int64WithTag(&version, cbasn1.INTEGER) ||
		!s.ReadASN1(&field, cbasn1.SEQUENCE) || !field.ReadASN1ObjectIdentifier(&ft) {
		return nil, fmt.Errorf("%w: SpecifiedECDomain", ErrMalformed)
	}
	if version < 1 || version > 3 {
		return nil, fmt.Errorf("%w: SpecifiedECDomain version %d", ErrMalformed, version)
	}
	if !ft.Equal(oidPrimeField) {
		return nil, fmt.Errorf("%w: field type %v (only prime fields)", ErrUnknownCurve, ft)
	}
	if !field.ReadASN1Integer(p) || !field.Empty() || p.Sign() <= 0 || p.BitLen() > 521 {
		return nil, fmt.Errorf("%w: prime", ErrMalformed)
	}
	if !s.ReadASN1(&curve, cbasn1.SEQUENCE) ||
		!curve.ReadASN1Bytes(&a, cbasn1.OCTET_STRING) || !curve.ReadASN1Bytes(&b, cbasn1.OCTET_STRING) {
		return nil, fmt.Errorf("%w: curve coefficients", ErrMalformed)
	}
	if !curve.Empty() && !curve.SkipASN1(cbasn1.BIT_STRING) || !curve.Empty() {
		return nil, fmt.Errorf("%w: curve seed", ErrMalformed)
	}
	if !s.ReadASN1(&base, cbasn1.OCTET_STRING) || !s.ReadASN1Integer(n) {
		return nil, fmt.Errorf("%w: base point or order", ErrMalformed)
	}
	var h int64
	if !s.Empty() && s.PeekASN1Tag(cbasn1.INTEGER) {
		if !s.ReadASN1Int64WithTag(&h, cbasn1.INTEGER) {
			return nil, fmt.Errorf("%w: cofactor", ErrMalformed)
		}
	}
	// An optional hash AlgorithmIdentifier (version 2/3) may follow; it does
	// not change the group.
	if len(a) > 66 || len(b) > 66 {
		return nil, fmt.Errorf("%w: coefficient too long", ErrMalformed)
	}
	// Only primes of the named curves are considered: arithmetic on an
	// arbitrary modulus (a square root modulo a composite) must never run.
	known := false
	for _, c := range table() {
		known = known || c.P.Cmp(p) == 0
	}
	if !known {
		return nil, fmt.Errorf("%w: explicit parameters over a %d-bit prime that is no named curve's", ErrUnknownCurve, p.BitLen())
	}
	cand := &Curve{Name: "explicit", P: p, A: new(big.Int).SetBytes(a), B: new(big.Int).SetBytes(b), N: n, H: h}
	gx, gy, err := cand.decodePoint(base)
	if err != nil {
		return nil, fmt.Errorf("base point: %w", err)
	}
	cand.Gx, cand.Gy = gx, gy
	for _, c := range table() {
		if c.equalDomain(cand) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: explicit parameters (%d-bit prime) match no named curve", ErrUnknownCurve, p.BitLen())
}

// decodePoint decodes an uncompressed (04‖X‖Y) or compressed (02/03‖X)
// SEC 1 point and checks it is on the curve.
func (c *Curve) decodePoint(b []byte) (*big.Int, *big.Int, error) {
	size := c.ByteSize()
	switch {
	case len(b) == 1+2*size && b[0] == 4:
		x := new(big.Int).SetBytes(b[1 : 1+size])
		y := new(big.Int).SetBytes(b[1+size:])
		if !c.IsOnCurve(x, y) {
			return nil, nil, fmt.Errorf("%w: not on %s", ErrInvalidPoint, c.Name)
		}
		return x, y, nil
	case len(b) == 1+size && (b[0] == 2 || b[0] == 3):
		x := new(big.Int).SetBytes(b[1:])
		if x.Cmp(c.P) >= 0 {
			return nil, nil, fmt.Errorf("%w: x out of range", ErrInvalidPoint)
		}
		y := new(big.Int).ModSqrt(c.rhs(x), c.P)
		if y == nil {
			return nil, nil, fmt.Errorf("%w: not on %s", ErrInvalidPoint, c.Name)
		}
		if y.Bit(0) != uint(b[0]&1) {
			y.Sub(c.P, y)
		}
		return x, y, nil
	}
	return nil, nil, fmt.Errorf("%w: %d-byte encoding for a %d-byte curve", ErrInvalidPoint, len(b), size)
}

// PublicKey is an ECDSA public key on a named curve.
type PublicKey struct {
	Curve *Curve
	X, Y  *big.Int
}

// ParsePublicKey decodes a SEC 1 point (the subjectPublicKey BIT STRING
// contents) on curve c and checks it is a valid public key: on the curve,
// not at infinity, of order n.
func ParsePublicKey(c *Curve, point []byte) (*PublicKey, error) {
	x, y, err := c.decodePoint(point)
	if err != nil {
		return nil, err
	}
	if c.H != 1 {
		if nx, _ := c.scalarMult(x, y, c.N.Bytes()); nx != nil {
			return nil, fmt.Errorf("%w: not in the prime-order subgroup", ErrInvalidPoint)
		}
	}
	return &PublicKey{Curve: c, X: x, Y: y}, nil
}

// Bytes returns the uncompressed SEC 1 encoding.
func (k *PublicKey) Bytes() []byte {
	size := k.Curve.ByteSize()
	out := make([]byte, 1+2*size)
	out[0] = 4
	k.X.FillBytes(out[1 : 1+size])
	k.Y.FillBytes(out[1+size:])
	return out
}

// hashToInt converts a digest to an integer per SEC 1 §4.1.4: the leftmost
// bitlen(n) bits.
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

// Verify reports whether (r, s) is a valid ECDSA signature of digest.
func (k *PublicKey) Verify(digest []byte, r, s *big.Int) bool {
	c := k.Curve
	if r == nil || s == nil || r.Sign() <= 0 || s.Sign() <= 0 || r.Cmp(c.N) >= 0 || s.Cmp(c.N) >= 0 {
		return false
	}
	if c.std != nil {
		pub, err := ecdsa.ParseUncompressedPublicKey(c.std, k.Bytes())
		if err != nil {
			return false
		}
		return ecdsa.Verify(pub, digest, r, s)
	}
	e := hashToInt(digest, c.N)
	w := new(big.Int).ModInverse(s, c.N)
	if w == nil {
		return false
	}
	u1 := new(big.Int).Mul(e, w)
	u1.Mod(u1, c.N)
	u2 := new(big.Int).Mul(r, w)
	u2.Mod(u2, c.N)
	x := c.combinedMult(k.X, k.Y, u1, u2)
	if x == nil {
		return false
	}
	return x.Mod(x, c.N).Cmp(r) == 0
}

// VerifyASN1 verifies a DER Ecdsa-Sig-Value (SEQUENCE { r, s }).
func (k *PublicKey) VerifyASN1(digest, sig []byte) bool {
	r, s, ok := parseSig(sig)
	return ok && k.Verify(digest, r, s)
}

// VerifyPlain verifies a plain signature r‖s, each padded to the byte size
// of n (BSI TR-03111 ecdsa-plain-*, ISO 7816 Active Authentication).
func (k *PublicKey) VerifyPlain(digest, sig []byte) bool {
	size := (k.Curve.N.BitLen() + 7) / 8
	if len(sig) != 2*size {
		return false
	}
	return k.Verify(digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
}

func parseSig(sig []byte) (*big.Int, *big.Int, bool) {
	r, s := new(big.Int), new(big.Int)
	in := cryptobyte.String(sig)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, cbasn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) || !inner.Empty() {
		return nil, nil, false
	}
	return r, s, true
}

// Package ecc verifies ECDSA signatures on short-Weierstrass curves over
// prime fields (y² = x³ + ax + b mod p) that crypto/ecdsa does not cover:
// the brainpool curves (RFC 5639) and keys whose certificates carry
// explicit curve parameters (SpecifiedECDomain, RFC 3279), as in Japan's
// and other states' passport CSCA certificates.
//
// It handles public data only (signatures, public keys, domain
// parameters): the arithmetic is math/big, variable-time, and there is no
// signing API. For the NIST curves verification is delegated to
// crypto/ecdsa.
//
// Invariants: a Curve returned by this package is one of the named curves
// in the table (explicit parameters are accepted only when they equal a
// named curve exactly — an attacker-chosen curve is never used); every
// table curve passes Validate (prime field, non-singular, base point on the
// curve, prime order n with n·G = O, cofactor within the Hasse bound); a
// PublicKey is a point on its curve, not the point at infinity, of order n.
package ecc

import (
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync"
)

// Errors.
var (
	ErrUnknownCurve = errors.New("ecc: unknown or unsupported curve")
	ErrInvalidCurve = errors.New("ecc: invalid curve parameters")
	ErrInvalidPoint = errors.New("ecc: invalid point")
	ErrMalformed    = errors.New("ecc: malformed parameters")
)

// Curve is a short-Weierstrass curve over GF(p) with a base point of
// prime order N and cofactor H.
type Curve struct {
	Name   string
	OID    asn1.ObjectIdentifier
	P, A   *big.Int
	B      *big.Int
	Gx, Gy *big.Int
	N      *big.Int
	H      int64
	std    elliptic.Curve // non-nil for the NIST curves
}

// BitSize is the size of the field in bits.
func (c *Curve) BitSize() int { return c.P.BitLen() }

// ByteSize is the size of one coordinate in bytes.
func (c *Curve) ByteSize() int { return (c.P.BitLen() + 7) / 8 }

func (c *Curve) String() string { return c.Name }

func hex(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("ecc: bad constant " + s) // constants below; a programming error
	}
	return n
}

func brainpool(name string, arc int, p, a, b, gx, gy, n string) *Curve {
	return &Curve{Name: name, OID: asn1.ObjectIdentifier{1, 3, 36, 3, 3, 2, 8, 1, 1, arc},
		P: hex(p), A: hex(a), B: hex(b), Gx: hex(gx), Gy: hex(gy), N: hex(n), H: 1}
}

func nist(c elliptic.Curve, oid asn1.ObjectIdentifier) *Curve {
	p := c.Params()
	return &Curve{Name: p.Name, OID: oid, P: p.P, A: new(big.Int).Sub(p.P, big.NewInt(3)), B: p.B,
		Gx: p.Gx, Gy: p.Gy, N: p.N, H: 1, std: c}
}

// table is built once and never modified.
var table = sync.OnceValue(func() []*Curve {
	return []*Curve{
		nist(elliptic.P224(), asn1.ObjectIdentifier{1, 3, 132, 0, 33}),
		nist(elliptic.P256(), asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}),
		nist(elliptic.P384(), asn1.ObjectIdentifier{1, 3, 132, 0, 34}),
		nist(elliptic.P521(), asn1.ObjectIdentifier{1, 3, 132, 0, 35}),
		brainpool("brainpoolP224r1", 5,
			"D7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF",
			"68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43",
			"2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B",
			"0D9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D",
			"58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD",
			"D7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F"),
		brainpool("brainpoolP256r1", 7,
			"A9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377",
			"7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9",
			"26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6",
			"8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262",
			"547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997",
			"A9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7"),
		brainpool("brainpoolP320r1", 9,
			"D35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27",
			"3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4",
			"520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6",
			"43BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E20611",
			"14FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1",
			"D35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311"),
		brainpool("brainpoolP384r1", 11,
			"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53",
			"7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826",
			"04A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11",
			"1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E",
			"8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315",
			"8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565"),
		brainpool("brainpoolP512r1", 13,
			"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3",
			"7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA",
			"3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723",
			"81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822",
			"7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892",
			"AADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069"),
	}
})

// Curves returns the supported named curves.
func Curves() []*Curve { return append([]*Curve(nil), table()...) }

// CurveByOID returns the named curve with the given OID.
func CurveByOID(oid asn1.ObjectIdentifier) (*Curve, error) {
	for _, c := range table() {
		if c.OID.Equal(oid) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: %v", ErrUnknownCurve, oid)
}

// CurveByName returns the named curve with the given name ("P-384",
// "brainpoolP256r1").
func CurveByName(name string) (*Curve, error) {
	for _, c := range table() {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownCurve, name)
}

// equalDomain reports whether c and d describe the same group.
func (c *Curve) equalDomain(d *Curve) bool {
	return c.P.Cmp(d.P) == 0 && c.A.Cmp(d.A) == 0 && c.B.Cmp(d.B) == 0 &&
		c.Gx.Cmp(d.Gx) == 0 && c.Gy.Cmp(d.Gy) == 0 && c.N.Cmp(d.N) == 0 && (d.H == 0 || c.H == d.H)
}

// Validate checks the domain parameters: p an odd prime of 192 to 521 bits,
// 0 ≤ a, b < p, 4a³ + 27b² ≠ 0, G on the curve, n prime and n·G = O, and
// h·n within the Hasse bound |h·n − (p+1)| ≤ 2√p with 1 ≤ h ≤ 4.
func (c *Curve) Validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s: %s", ErrInvalidCurve, c.Name, why) }
	if c.P == nil || c.A == nil || c.B == nil || c.Gx == nil || c.Gy == nil || c.N == nil {
		return bad("missing parameter")
	}
	if b := c.P.BitLen(); b < 192 || b > 521 || c.P.Bit(0) == 0 || !c.P.ProbablyPrime(20) {
		return bad("field size is not an odd prime of 192 to 521 bits")
	}
	if c.A.Sign() < 0 || c.A.Cmp(c.P) >= 0 || c.B.Sign() < 0 || c.B.Cmp(c.P) >= 0 {
		return bad("coefficient out of range")
	}
	d := new(big.Int).Exp(c.A, big.NewInt(3), c.P)
	d.Mul(d, big.NewInt(4))
	b2 := new(big.Int).Mul(c.B, c.B)
	b2.Mul(b2, big.NewInt(27))
	if d.Add(d, b2).Mod(d, c.P).Sign() == 0 {
		return bad("singular curve")
	}
	if !c.IsOnCurve(c.Gx, c.Gy) {
		return bad("base point not on curve")
	}
	if c.N.Sign() <= 0 || !c.N.ProbablyPrime(20) {
		return bad("order is not prime")
	}
	if c.H < 1 || c.H > 4 {
		return bad("cofactor out of range")
	}
	hn := new(big.Int).Mul(c.N, big.NewInt(c.H))
	diff := hn.Sub(hn, new(big.Int).Add(c.P, big.NewInt(1)))
	diff.Abs(diff)
	// |diff| ≤ 2√p  ⇔  diff² ≤ 4p
	if diff.Mul(diff, diff).Cmp(new(big.Int).Lsh(c.P, 2)) > 0 {
		return bad("order outside the Hasse bound")
	}
	if x, _ := c.scalarMult(c.Gx, c.Gy, c.N.Bytes()); x != nil {
		return bad("n·G is not the point at infinity")
	}
	return nil
}

// IsOnCurve reports whether (x, y) is a point on the curve with coordinates
// in [0, p).
func (c *Curve) IsOnCurve(x, y *big.Int) bool {
	if x == nil || y == nil || x.Sign() < 0 || y.Sign() < 0 || x.Cmp(c.P) >= 0 || y.Cmp(c.P) >= 0 {
		return false
	}
	return c.rhs(x).Cmp(new(big.Int).Exp(y, big.NewInt(2), c.P)) == 0
}

// rhs returns x³ + ax + b mod p.
func (c *Curve) rhs(x *big.Int) *big.Int {
	r := new(big.Int).Exp(x, big.NewInt(3), c.P)
	ax := new(big.Int).Mul(c.A, x)
	r.Add(r, ax).Add(r, c.B)
	return r.Mod(r, c.P)
}

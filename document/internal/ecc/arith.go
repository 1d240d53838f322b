package ecc

import "math/big"

// Jacobian coordinates: (X, Y, Z) represents (X/Z², Y/Z³); Z = 0 is the
// point at infinity. All values are reduced mod p.
type jac struct{ x, y, z *big.Int }

func (c *Curve) toJac(x, y *big.Int) jac {
	return jac{new(big.Int).Set(x), new(big.Int).Set(y), big.NewInt(1)}
}

func infinity() jac { return jac{big.NewInt(1), big.NewInt(1), new(big.Int)} }

func (c *Curve) mod(z *big.Int) *big.Int { return z.Mod(z, c.P) }

func (c *Curve) double(p jac) jac {
	if p.z.Sign() == 0 || p.y.Sign() == 0 {
		return infinity()
	}
	m := func(a, b *big.Int) *big.Int { return c.mod(new(big.Int).Mul(a, b)) }
	xx := m(p.x, p.x)
	yy := m(p.y, p.y)
	zz := m(p.z, p.z)
	s := m(big.NewInt(4), m(p.x, yy))
	// M = 3·XX + a·Z⁴
	mm := new(big.Int).Mul(xx, big.NewInt(3))
	mm.Add(mm, m(c.A, m(zz, zz)))
	c.mod(mm)
	x3 := new(big.Int).Sub(m(mm, mm), new(big.Int).Lsh(s, 1))
	c.mod(x3)
	y3 := new(big.Int).Sub(s, x3)
	y3 = m(mm, y3)
	y3.Sub(y3, m(big.NewInt(8), m(yy, yy)))
	c.mod(y3)
	z3 := m(big.NewInt(2), m(p.y, p.z))
	return jac{x3, y3, z3}
}

func (c *Curve) add(p, q jac) jac {
	if p.z.Sign() == 0 {
		return q
	}
	if q.z.Sign() == 0 {
		return p
	}
	m := func(a, b *big.Int) *big.Int { return c.mod(new(big.Int).Mul(a, b)) }
	z1z1 := m(p.z, p.z)
	z2z2 := m(q.z, q.z)
	u1 := m(p.x, z2z2)
	u2 := m(q.x, z1z1)
	s1 := m(p.y, m(q.z, z2z2))
	s2 := m(q.y, m(p.z, z1z1))
	if u1.Cmp(u2) == 0 {
		if s1.Cmp(s2) != 0 {
			return infinity()
		}
		return c.double(p)
	}
	h := c.mod(new(big.Int).Sub(u2, u1))
	r := c.mod(new(big.Int).Sub(s2, s1))
	hh := m(h, h)
	hhh := m(h, hh)
	v := m(u1, hh)
	x3 := new(big.Int).Sub(m(r, r), hhh)
	x3.Sub(x3, new(big.Int).Lsh(v, 1))
	c.mod(x3)
	y3 := m(r, c.mod(new(big.Int).Sub(v, x3)))
	y3.Sub(y3, m(s1, hhh))
	c.mod(y3)
	z3 := m(h, m(p.z, q.z))
	return jac{x3, y3, z3}
}

func (c *Curve) affine(p jac) (x, y *big.Int) {
	if p.z.Sign() == 0 {
		return nil, nil
	}
	zinv := new(big.Int).ModInverse(p.z, c.P)
	zinv2 := new(big.Int).Mul(zinv, zinv)
	x = c.mod(new(big.Int).Mul(p.x, zinv2))
	y = c.mod(new(big.Int).Mul(p.y, c.mod(zinv2.Mul(zinv2, zinv))))
	return x, y
}

func (c *Curve) mulJac(p jac, k []byte) jac {
	r := infinity()
	for _, b := range k {
		for i := 7; i >= 0; i-- {
			r = c.double(r)
			if b>>uint(i)&1 == 1 {
				r = c.add(r, p)
			}
		}
	}
	return r
}

// scalarMult returns k·(x, y) in affine coordinates, or nil, nil for the
// point at infinity. Variable time: public data only.
func (c *Curve) scalarMult(x, y *big.Int, k []byte) (*big.Int, *big.Int) {
	return c.affine(c.mulJac(c.toJac(x, y), k))
}

// ScalarMult returns k·(x, y), or nil, nil for the point at infinity. It is
// variable-time and meant for public values (tests build keys with it).
func (c *Curve) ScalarMult(x, y *big.Int, k []byte) (*big.Int, *big.Int) {
	return c.scalarMult(x, y, k)
}

// ScalarBaseMult returns k·G.
func (c *Curve) ScalarBaseMult(k []byte) (*big.Int, *big.Int) { return c.scalarMult(c.Gx, c.Gy, k) }

// combinedMult returns u1·G + u2·Q (Shamir's trick) as an affine x, or nil.
func (c *Curve) combinedMult(qx, qy *big.Int, u1, u2 *big.Int) *big.Int {
	g := c.toJac(c.Gx, c.Gy)
	q := c.toJac(qx, qy)
	gq := c.add(g, q)
	r := infinity()
	n := max(u1.BitLen(), u2.BitLen())
	for i := n - 1; i >= 0; i-- {
		r = c.double(r)
		switch {
		case u1.Bit(i) == 1 && u2.Bit(i) == 1:
			r = c.add(r, gq)
		case u1.Bit(i) == 1:
			r = c.add(r, g)
		case u2.Bit(i) == 1:
			r = c.add(r, q)
		}
	}
	x, _ := c.affine(r)
	return x
}

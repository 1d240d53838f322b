package imaging

import (
	"math"
	"sort"
)

// Quad is the card's outline in image pixels: four corners in clockwise
// order (y pointing down) such that side 0 (corner 0 to corner 1) and side 2
// are the long sides, corner 0 being the one nearer the image's top left of
// the two candidates.
type Quad [4]Point

// side returns the length of side i (corner i to corner i+1).
func (q Quad) side(i int) float64 { return dist(q[i], q[(i+1)%4]) }

// Area is the quadrilateral's area in square pixels.
func (q Quad) Area() float64 {
	var s float64
	for i := range 4 {
		s += q[i].cross(q[(i+1)%4])
	}
	return math.Abs(s) / 2
}

// Aspect is the mean long side over the mean short side. For a card seen
// head-on it approaches the card's true aspect (ID-1: 85.60/53.98 = 1.586).
func (q Quad) Aspect() float64 {
	s := q.side(1) + q.side(3)
	if s == 0 {
		return 0
	}
	return (q.side(0) + q.side(2)) / s
}

// Keystone is 1 - (shorter/longer) for the more unequal pair of opposite
// sides: 0 for a parallelogram, growing as the card is tilted towards or
// away from the camera. It does not change under in-plane rotation.
func (q Quad) Keystone() float64 {
	k := func(a, b float64) float64 {
		if max(a, b) == 0 {
			return 0
		}
		return 1 - min(a, b)/max(a, b)
	}
	return max(k(q.side(0), q.side(2)), k(q.side(1), q.side(3)))
}

// CornerSkew is the largest deviation of an interior angle from 90 degrees.
// It does not change under in-plane rotation.
func (q Quad) CornerSkew() float64 {
	var m float64
	for i := range 4 {
		a := q[(i+3)%4].sub(q[i])
		b := q[(i+1)%4].sub(q[i])
		ang := math.Atan2(math.Abs(a.cross(b)), a.dot(b)) * 180 / math.Pi
		m = max(m, math.Abs(ang-90))
	}
	return m
}

// WidthPx is the shorter of the two long sides: the pixels across the card
// where it is resolved worst.
func (q Quad) WidthPx() float64 { return min(q.side(0), q.side(2)) }

// HeightPx is the shorter of the two short sides.
func (q Quad) HeightPx() float64 { return min(q.side(1), q.side(3)) }

func (q Quad) centroid() Point {
	var c Point
	for _, p := range q {
		c = c.add(p)
	}
	return c.scale(0.25)
}

// contains reports whether p lies inside the (convex, clockwise) quad.
func (q Quad) contains(p Point) bool {
	for i := range 4 {
		if q[(i+1)%4].sub(q[i]).cross(p.sub(q[i])) < 0 {
			return false
		}
	}
	return true
}

// convex reports whether the corners form a convex, clockwise polygon with
// every interior angle in [minAng, 180-minAng] degrees.
func (q Quad) convex(minAng float64) bool {
	for i := range 4 {
		a := q[i].sub(q[(i+3)%4])
		b := q[(i+1)%4].sub(q[i])
		if a.cross(b) <= 0 {
			return false
		}
		ia := q[(i+3)%4].sub(q[i])
		ang := math.Atan2(math.Abs(ia.cross(b)), ia.dot(b)) * 180 / math.Pi
		if ang < minAng || ang > 180-minAng {
			return false
		}
	}
	return true
}

// normalize orders corners clockwise with a long side first (see Quad).
func normalize(c [4]Point) Quad {
	ctr := Point{}
	for _, p := range c {
		ctr = ctr.add(p)
	}
	ctr = ctr.scale(0.25)
	sort.Slice(c[:], func(i, j int) bool {
		return math.Atan2(c[i].Y-ctr.Y, c[i].X-ctr.X) < math.Atan2(c[j].Y-ctr.Y, c[j].X-ctr.X)
	})
	q := Quad(c) // increasing angle with y down is clockwise on screen
	if q.side(0)+q.side(2) < q.side(1)+q.side(3) {
		q = Quad{q[1], q[2], q[3], q[0]}
	}
	if alt := (Quad{q[2], q[3], q[0], q[1]}); alt[0].X+alt[0].Y < q[0].X+q[0].Y {
		q = alt
	}
	return q
}

func (q Quad) scaled(s float64) Quad {
	for i := range q {
		q[i] = q[i].scale(s)
	}
	return q
}

// shapeDistance is the full Procrustes distance between two quads: 0 when
// one is a rotated, scaled and shifted copy of the other, up to 1. Corner
// correspondence is the best of the four cyclic shifts.
func shapeDistance(a, b Quad) float64 {
	norm := func(q Quad) ([4]complex128, bool) {
		c := q.centroid()
		var z [4]complex128
		var n float64
		for i, p := range q {
			z[i] = complex(p.X-c.X, p.Y-c.Y)
			n += real(z[i])*real(z[i]) + imag(z[i])*imag(z[i])
		}
		if n == 0 || !finite(n) {
			return z, false
		}
		n = math.Sqrt(n)
		for i := range z {
			z[i] /= complex(n, 0)
		}
		return z, true
	}
	za, oka := norm(a)
	zb, okb := norm(b)
	if !oka || !okb {
		return 1
	}
	best := 1.0
	for s := range 4 {
		var c complex128
		for i := range 4 {
			c += complex(real(za[i]), -imag(za[i])) * zb[(i+s)%4]
		}
		m := real(c)*real(c) + imag(c)*imag(c)
		best = min(best, math.Sqrt(max(0, 1-m)))
	}
	return best
}

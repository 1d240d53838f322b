package imaging

import "math"

// Point is an image position in pixels (continuous coordinates: the centre
// of pixel (i, j) is (i+0.5, j+0.5)).
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

func (p Point) sub(q Point) Point      { return Point{p.X - q.X, p.Y - q.Y} }
func (p Point) add(q Point) Point      { return Point{p.X + q.X, p.Y + q.Y} }
func (p Point) scale(s float64) Point  { return Point{p.X * s, p.Y * s} }
func (p Point) dot(q Point) float64    { return p.X*q.X + p.Y*q.Y }
func (p Point) cross(q Point) float64  { return p.X*q.Y - p.Y*q.X }
func (p Point) norm() float64          { return math.Hypot(p.X, p.Y) }
func (p Point) finite() bool           { return finite(p.X) && finite(p.Y) }
func finite(f float64) bool            { return !math.IsNaN(f) && !math.IsInf(f, 0) }
func dist(p, q Point) float64          { return p.sub(q).norm() }
func lerp(p, q Point, t float64) Point { return p.add(q.sub(p).scale(t)) }
func mid(p, q Point) Point             { return lerp(p, q, 0.5) }

// homography maps (u, v) to ((h0 u + h1 v + h2)/w, (h3 u + h4 v + h5)/w) with
// w = h6 u + h7 v + 1.
type homography [8]float64

func (h *homography) apply(u, v float64) Point {
	w := h[6]*u + h[7]*v + 1
	return Point{(h[0]*u + h[1]*v + h[2]) / w, (h[3]*u + h[4]*v + h[5]) / w}
}

// rectToQuad returns the homography taking the rectangle [0,w]x[0,h] to the
// quadrilateral q (corner 0 = (0,0), then clockwise: (w,0), (w,h), (0,h)).
// ok is false for a degenerate quadrilateral.
func rectToQuad(w, h float64, q [4]Point) (homography, bool) {
	src := [4]Point{{0, 0}, {w, 0}, {w, h}, {0, h}}
	var a [8][9]float64
	for i := range 4 {
		u, v := src[i].X, src[i].Y
		x, y := q[i].X, q[i].Y
		a[2*i] = [9]float64{u, v, 1, 0, 0, 0, -u * x, -v * x, x}
		a[2*i+1] = [9]float64{0, 0, 0, u, v, 1, -u * y, -v * y, y}
	}
	var hm homography
	if !solve8(&a, &hm) {
		return hm, false
	}
	for _, f := range hm {
		if !finite(f) {
			return hm, false
		}
	}
	return hm, true
}

// solve8 solves the augmented 8x9 system by Gaussian elimination with
// partial pivoting.
func solve8(a *[8][9]float64, x *homography) bool {
	for c := range 8 {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return false
		}
		a[c], a[p] = a[p], a[c]
		for r := c + 1; r < 8; r++ {
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	for r := 7; r >= 0; r-- {
		s := a[r][8]
		for k := r + 1; k < 8; k++ {
			s -= a[r][k] * x[k]
		}
		x[r] = s / a[r][r]
	}
	return true
}

// rectify samples g inside quad q (corners in g's coordinates) onto a w x h
// plane, corner 0 at the top left.
func rectify(g *plane, q [4]Point, w, h int) (*plane, bool) {
	hm, ok := rectToQuad(float64(w), float64(h), q)
	if !ok {
		return nil, false
	}
	out := newPlane(w, h)
	for y := range h {
		for x := range w {
			p := hm.apply(float64(x)+0.5, float64(y)+0.5)
			out.p[y*w+x] = g.bilinear(p.X, p.Y)
		}
	}
	return out, true
}

// invert returns the inverse of a homography (normalised so h[8] = 1).
func invert(h homography) (homography, bool) {
	m := [9]float64{h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1}
	det := m[0]*(m[4]*m[8]-m[5]*m[7]) - m[1]*(m[3]*m[8]-m[5]*m[6]) + m[2]*(m[3]*m[7]-m[4]*m[6])
	if math.Abs(det) < 1e-12 {
		return homography{}, false
	}
	inv := [9]float64{
		m[4]*m[8] - m[5]*m[7], m[2]*m[7] - m[1]*m[8], m[1]*m[5] - m[2]*m[4],
		m[5]*m[6] - m[3]*m[8], m[0]*m[8] - m[2]*m[6], m[2]*m[3] - m[0]*m[5],
		m[3]*m[7] - m[4]*m[6], m[1]*m[6] - m[0]*m[7], m[0]*m[4] - m[1]*m[3],
	}
	var out homography
	for i := range 8 {
		out[i] = inv[i] / inv[8]
	}
	return out, true
}

package imaging

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQuadMetrics(t *testing.T) {
	rect := Quad{{0, 0}, {856, 0}, {856, 540}, {0, 540}}
	trap := Quad{{100, 0}, {756, 0}, {856, 540}, {0, 540}} // top 656, bottom 856
	tests := []struct {
		name                   string
		q                      Quad
		aspect, keystone, skew float64
		width, area            float64
	}{
		{"rectangle", rect, 856.0 / 540, 0, 0, 856, 856 * 540},
		{"trapezoid", trap, (656.0 + 856) / (2 * math.Hypot(100, 540)), 1 - 656.0/856, math.Atan2(100, 540) * 180 / math.Pi, 656, (656 + 856) / 2.0 * 540},
	}
	for _, tc := range tests {
		near := func(what string, got, want float64) {
			if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
				t.Errorf("%s(%s) = %g, want %g", what, tc.name, got, want)
			}
		}
		near("Aspect", tc.q.Aspect(), tc.aspect)
		near("Keystone", tc.q.Keystone(), tc.keystone)
		near("CornerSkew", tc.q.CornerSkew(), tc.skew)
		near("WidthPx", tc.q.WidthPx(), tc.width)
		near("Area", tc.q.Area(), tc.area)
	}
}

func TestNormalize(t *testing.T) {
	want := Quad{{10, 10}, {110, 10}, {110, 70}, {10, 70}}
	for _, in := range [][4]Point{
		{{110, 70}, {10, 10}, {10, 70}, {110, 10}},
		{{10, 70}, {110, 70}, {110, 10}, {10, 10}},
	} {
		if got := normalize(in); got != want {
			t.Errorf("normalize(%v) = %v, want %v", in, got, want)
		}
	}
	// Portrait-oriented card: the long side still comes first.
	got := normalize([4]Point{{0, 0}, {60, 0}, {60, 100}, {0, 100}})
	if got.side(0) != 100 || !got.convex(30) {
		t.Errorf("normalize(portrait) = %v, want a long side first, clockwise", got)
	}
}

func TestShapeDistance(t *testing.T) {
	q := Quad{{0, 0}, {856, 0}, {856, 540}, {0, 540}}
	similar := func(q Quad, ang, s float64, d Point) Quad {
		var o Quad
		for i, p := range q {
			o[i] = Point{s * (p.X*math.Cos(ang) - p.Y*math.Sin(ang)), s * (p.X*math.Sin(ang) + p.Y*math.Cos(ang))}.add(d)
		}
		return o
	}
	moved := similar(q, 0.3, 0.7, Point{40, -12})
	shifted := Quad{moved[2], moved[3], moved[0], moved[1]}
	if d := shapeDistance(q, shifted); d > 1e-9 {
		t.Errorf("shapeDistance(q, similar copy) = %g, want 0", d)
	}
	trap := Quad{{100, 0}, {756, 0}, {856, 540}, {0, 540}}
	if d := shapeDistance(q, trap); d < 0.05 {
		t.Errorf("shapeDistance(rectangle, trapezoid) = %g, want >= 0.05", d)
	}
	if d := shapeDistance(q, Quad{}); d != 1 {
		t.Errorf("shapeDistance(q, degenerate) = %g, want 1", d)
	}
}

func TestHomographyRoundTrip(t *testing.T) {
	q := [4]Point{{120, 80}, {700, 130}, {760, 520}, {60, 470}}
	h, ok := rectToQuad(856, 540, q)
	if !ok {
		t.Fatal("rectToQuad = not ok")
	}
	for i, uv := range []Point{{0, 0}, {856, 0}, {856, 540}, {0, 540}} {
		if p := h.apply(uv.X, uv.Y); dist(p, q[i]) > 1e-6 {
			t.Errorf("apply(%v) = %v, want %v", uv, p, q[i])
		}
	}
	inv, ok := invert(h)
	if !ok {
		t.Fatal("invert = not ok")
	}
	if uv := inv.apply(q[2].X, q[2].Y); dist(uv, Point{856, 540}) > 1e-6 {
		t.Errorf("inverse(%v) = %v, want (856, 540)", q[2], uv)
	}
	if _, ok := rectToQuad(10, 10, [4]Point{{1, 1}, {1, 1}, {1, 1}, {1, 1}}); ok {
		t.Error("rectToQuad(collapsed quad) = ok, want not ok")
	}
}

func noisePlane(w, h int, seed uint64) *plane {
	r := rand.New(rand.NewPCG(seed, 1))
	g := newPlane(w, h)
	for i := range g.p {
		g.p[i] = float32(r.IntN(256))
	}
	return g
}

func TestCreteBlur(t *testing.T) {
	g := noisePlane(128, 96, 1)
	sharp, d0 := creteBlur(g)
	prev := sharp
	for i := range 3 {
		g = blur3(g)
		b, _ := creteBlur(g)
		if b <= prev {
			t.Errorf("creteBlur(after %d blurs) = %.3f, want more than %.3f", i+1, b, prev)
		}
		prev = b
	}
	if sharp > 0.2 || d0 < 50 {
		t.Errorf("creteBlur(noise) = %.3f, detail %.1f; want < 0.2, > 50", sharp, d0)
	}
	if b, d := creteBlur(newPlane(64, 64)); b != 1 || d != 0 {
		t.Errorf("creteBlur(flat) = %g, %g; want 1, 0", b, d)
	}
}

func TestLargestBlob(t *testing.T) {
	g := newPlane(10, 10)
	set := func(x0, y0, x1, y1 int) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				g.p[y*10+x] = 255
			}
		}
	}
	set(0, 0, 3, 3)  // 9
	set(9, 0, 10, 5) // 5, touching the right edge: must not wrap to the next row
	set(5, 5, 9, 9)  // 16
	if got := largestBlob(g, 250); got != 0.16 {
		t.Errorf("largestBlob = %g, want 0.16", got)
	}
}

func TestNCC(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	tests := []struct {
		b    []float32
		want float64
	}{
		{[]float32{10, 20, 30, 40}, 1},
		{[]float32{4, 3, 2, 1}, -1},
		{[]float32{5, 5, 5, 5}, 0},
		{[]float32{1, 2}, 0},
	}
	for _, tc := range tests {
		if got := ncc(a, tc.b); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("ncc(%v, %v) = %g, want %g", a, tc.b, got, tc.want)
		}
	}
}

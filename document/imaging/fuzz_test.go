package imaging

import (
	"context"
	"image"
	"math"
	"testing"
)

// imageFrom builds a small gray image from fuzz bytes: two size bytes, then
// pixels (repeated cyclically). Returns nil if there is nothing to build.
func imageFrom(data []byte) *image.Gray {
	if len(data) < 3 {
		return nil
	}
	w, h := 1+int(data[0])%127, 1+int(data[1])%127
	img := image.NewGray(image.Rect(0, 0, w, h))
	px := data[2:]
	for i := range img.Pix {
		img.Pix[i] = px[i%len(px)]
	}
	return img
}

// seedRects returns fuzz seeds holding drawn quadrilaterals.
func seedRects() [][]byte {
	var out [][]byte
	for _, c := range [][4]Point{
		{{8, 6}, {40, 8}, {38, 28}, {7, 26}},
		{{16, 4}, {32, 4}, {44, 36}, {4, 36}},
	} {
		w, h := 48, 40
		b := make([]byte, 2+w*h)
		b[0], b[1] = byte(w-1), byte(h-1)
		q := Quad(c)
		for y := range h {
			for x := range w {
				v := byte(60)
				if q.contains(Point{float64(x) + 0.5, float64(y) + 0.5}) {
					v = 220
				}
				b[2+y*w+x] = v
			}
		}
		out = append(out, b)
	}
	return out
}

func FuzzFindQuad(f *testing.F) {
	for _, s := range seedRects() {
		f.Add(s)
	}
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{255, 255, 255, 0, 255, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		img := imageFrom(data)
		if img == nil {
			return
		}
		g := lumaDown(img, 1)
		q, cov, ok := findQuad(g)
		if !ok {
			return
		}
		w, h := float64(g.w), float64(g.h)
		for _, p := range q {
			if !p.finite() || p.X < -0.021*w || p.Y < -0.021*h || p.X > 1.021*w || p.Y > 1.021*h {
				t.Fatalf("findQuad corner %v outside the %vx%v image", p, w, h)
			}
		}
		if !q.convex(30) || cov < minCoverage || cov > 1 {
			t.Fatalf("findQuad = %v (coverage %v): not a convex quad backed by edges", q, cov)
		}
		if a := q.Aspect(); a < 1 || a > 3 || math.IsNaN(a) {
			t.Fatalf("findQuad aspect %v outside 1..3", a)
		}
	})
}

func FuzzCheckFrame(f *testing.F) {
	for _, s := range seedRects() {
		f.Add(s, uint8(0))
	}
	f.Add([]byte{7, 9, 1, 2, 3}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		img := imageFrom(data)
		if img == nil {
			return
		}
		cfg := DefaultConfig()
		cfg.MinSide = 1
		k := []FrameKind{Front, Back, Tilt}[int(kind)%3]
		c, err := New(cfg, &fixedFinder{boxes: []FaceBox{{X: 30, Y: 30, W: 20, H: 25, Score: 0.9}, {X: math.Inf(1), W: -1}}})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.CheckFrame(context.Background(), k, img)
		if err != nil {
			t.Fatalf("CheckFrame(%dx%d) = %v", img.Rect.Dx(), img.Rect.Dy(), err)
		}
		if r.Status != Pass && r.Status != Fail && r.Status != Refer {
			t.Fatalf("CheckFrame status %q", r.Status)
		}
		for _, ch := range r.Checks {
			if math.IsNaN(ch.Value) || ch.Reason == "" {
				t.Fatalf("CheckFrame check %+v: NaN value or no reason", ch)
			}
		}
		if _, err := c.CheckSet(context.Background(), Set{Front: img, Back: img, Tilt: img}); err != nil {
			t.Fatalf("CheckSet(same image x3) = %v", err)
		}
	})
}

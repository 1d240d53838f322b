package imaging

import (
	"image"
	"math"
)

// plane is a luminance image (Rec. 601 luma, 0..255) in row-major order.
// Continuous coordinates put pixel (i, j) at the square [i, i+1) x [j, j+1),
// so its centre is (i+0.5, j+0.5).
type plane struct {
	w, h int
	p    []float32
}

func newPlane(w, h int) *plane { return &plane{w: w, h: h, p: make([]float32, w*h)} }

// bilinear samples g at continuous coordinates (x, y), clamping at the border.
func (g *plane) bilinear(x, y float64) float32 {
	x -= 0.5
	y -= 0.5
	if !(x >= 0) { // also catches NaN
		x = 0
	}
	if !(y >= 0) {
		y = 0
	}
	x = math.Min(x, float64(g.w-1))
	y = math.Min(y, float64(g.h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	a := g.p[y0*g.w+x0]*(1-fx) + g.p[y0*g.w+x1]*fx
	b := g.p[y1*g.w+x0]*(1-fx) + g.p[y1*g.w+x1]*fx
	return a*(1-fy) + b*fy
}

// lumaDown converts img to luma, averaging k x k blocks (k >= 1). A partial
// block at the right or bottom edge is averaged over the pixels it has.
func lumaDown(img image.Image, k int) *plane {
	b := img.Bounds()
	w, h := (b.Dx()+k-1)/k, (b.Dy()+k-1)/k
	sum := make([]float32, w*h)
	cnt := make([]float32, w*h)
	row := make([]float32, b.Dx())
	for y := 0; y < b.Dy(); y++ {
		lumaRow(img, b.Min.X, b.Min.Y+y, row)
		o := (y / k) * w
		for x, v := range row {
			sum[o+x/k] += v
			cnt[o+x/k]++
		}
	}
	for i := range sum {
		sum[i] /= cnt[i]
	}
	return &plane{w: w, h: h, p: sum}
}

// lumaRow writes the luma of row y of img, starting at x0, into dst.
func lumaRow(img image.Image, x0, y int, dst []float32) {
	switch m := img.(type) {
	case *image.RGBA:
		o := m.PixOffset(x0, y)
		for i := range dst {
			p := m.Pix[o+4*i : o+4*i+3 : o+4*i+3]
			dst[i] = 0.299*float32(p[0]) + 0.587*float32(p[1]) + 0.114*float32(p[2])
		}
	case *image.NRGBA: // colour channels as stored; alpha ignored, like imageio
		o := m.PixOffset(x0, y)
		for i := range dst {
			p := m.Pix[o+4*i : o+4*i+3 : o+4*i+3]
			dst[i] = 0.299*float32(p[0]) + 0.587*float32(p[1]) + 0.114*float32(p[2])
		}
	case *image.Gray:
		o := m.PixOffset(x0, y)
		for i := range dst {
			dst[i] = float32(m.Pix[o+i])
		}
	case *image.YCbCr:
		for i := range dst {
			dst[i] = float32(m.Y[m.YOffset(x0+i, y)])
		}
	default:
		for i := range dst {
			r, g, bl, _ := img.At(x0+i, y).RGBA()
			dst[i] = (0.299*float32(r) + 0.587*float32(g) + 0.114*float32(bl)) / 257
		}
	}
}

// blur3 returns g smoothed by the separable kernel [1 2 1]/4 in x and y.
func blur3(g *plane) *plane {
	t := newPlane(g.w, g.h)
	for y := 0; y < g.h; y++ {
		r := g.p[y*g.w : (y+1)*g.w]
		o := t.p[y*g.w : (y+1)*g.w]
		for x := range r {
			l, c, rr := r[max(x-1, 0)], r[x], r[min(x+1, g.w-1)]
			o[x] = (l + 2*c + rr) / 4
		}
	}
	out := newPlane(g.w, g.h)
	for y := 0; y < g.h; y++ {
		u, c, d := t.p[max(y-1, 0)*g.w:], t.p[y*g.w:], t.p[min(y+1, g.h-1)*g.w:]
		o := out.p[y*g.w : (y+1)*g.w]
		for x := range o {
			o[x] = (u[x] + 2*c[x] + d[x]) / 4
		}
	}
	return out
}

// quantile returns the q-quantile (0..1) of the non-negative values v to
// within 1/1024 of their maximum, by histogram (linear time).
func quantile(v []float32, q float64) float32 {
	var hi float32
	for _, x := range v {
		hi = max(hi, x)
	}
	if len(v) == 0 || !(hi > 0) {
		return 0
	}
	const bins = 1024
	var h [bins + 1]int
	for _, x := range v {
		h[int(max(x, 0)/hi*bins)]++
	}
	want := int(q * float64(len(v)-1))
	n := 0
	for i, c := range h {
		n += c
		if n > want {
			return float32(i) * hi / bins
		}
	}
	return hi
}

// ncc is the normalised cross-correlation of two equally sized vectors:
// 1 for identical patterns up to gain and offset, 0 for unrelated ones. A
// flat vector correlates with nothing (0).
func ncc(a, b []float32) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var ma, mb float64
	for i := range a {
		ma += float64(a[i])
		mb += float64(b[i])
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := float64(a[i])-ma, float64(b[i])-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa < 1e-9 || sbb < 1e-9 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}

package imaging

import (
	"errors"
	"image"
	"math"
)

// Card sizes for Rectify: ID-1 (85.60 x 53.98 mm, ISO/IEC 7810) at 10 px/mm.
const (
	CardWidth  = 856
	CardHeight = 540
)

// ErrQuad reports a card outline that cannot be rectified.
var ErrQuad = errors.New("imaging: degenerate card outline")

// Rectify samples img inside the card outline q (FrameReport.Outline:
// pixels relative to img.Bounds().Min, corner 0 at the card's top left,
// then clockwise) onto a w x h colour image with bilinear interpolation:
// the card as if photographed straight on, for a reviewer to read. It
// returns ErrQuad for a degenerate outline; w and h are capped at 4x the
// ID-1 size.
func Rectify(img image.Image, q Quad, w, h int) (*image.RGBA, error) {
	if w < 1 || h < 1 || w > 4*CardWidth || h > 4*CardHeight {
		return nil, errors.New("imaging: rectified size out of range")
	}
	for _, p := range q {
		if !p.finite() {
			return nil, ErrQuad
		}
	}
	hm, ok := rectToQuad(float64(w), float64(h), [4]Point(q))
	if !ok {
		return nil, ErrQuad
	}
	src := toRGBA(img)
	b := src.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			p := hm.apply(float64(x)+0.5, float64(y)+0.5)
			px := bilinearRGBA(src, b, p.X-0.5, p.Y-0.5)
			copy(out.Pix[out.PixOffset(x, y):], px[:])
		}
	}
	return out, nil
}

func toRGBA(img image.Image) *image.RGBA {
	if r, ok := img.(*image.RGBA); ok {
		return r
	}
	b := img.Bounds()
	r := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			r.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return r
}

// bilinearRGBA samples src at (x, y) relative to b.Min, clamping at the
// border.
func bilinearRGBA(src *image.RGBA, b image.Rectangle, x, y float64) [4]uint8 {
	w, h := b.Dx(), b.Dy()
	if !(x >= 0) {
		x = 0
	}
	if !(y >= 0) {
		y = 0
	}
	x, y = math.Min(x, float64(w-1)), math.Min(y, float64(h-1))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	at := func(px, py int) []uint8 {
		o := src.PixOffset(b.Min.X+px, b.Min.Y+py)
		return src.Pix[o : o+4]
	}
	var out [4]uint8
	a, bb, c, d := at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1)
	for i := range 4 {
		top := float64(a[i])*(1-fx) + float64(bb[i])*fx
		bot := float64(c[i])*(1-fx) + float64(d[i])*fx
		out[i] = uint8(math.Round(top*(1-fy) + bot*fy))
	}
	return out
}

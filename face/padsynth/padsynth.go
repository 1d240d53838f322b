// Package padsynth renders synthetic presentation attacks from bona fide
// face photographs: a printed photograph and a screen replay, each as a
// camera would see it when the print or the screen is held up to it.
//
// They exist to measure presentation-attack detection (ISO/IEC 30107-3
// APCER) where no attack samples of a species are at hand, and they are
// labelled synthetic wherever a figure computed on them is reported: a
// renderer models a few visible traits of the species (tone compression,
// halftone and paper for prints; bezel, pixel grid, moiré, gamma and glare
// for screens), not the optics of a real recapture. A PAD model that
// catches them is not thereby proven against real attacks, and one that
// misses them is weak against the traits rendered.
//
// Invariants: rendering is deterministic for a given image and seed; the
// output has the input's size; the input is not modified.
package padsynth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Species names a synthetic presentation-attack instrument species.
type Species string

// The species rendered.
const (
	Print  Species = "synthetic-print"
	Screen Species = "synthetic-screen"
)

// Render renders species from src with seed. ok is false for an unknown
// species or an image smaller than 16x16.
func Render(sp Species, src *image.RGBA, seed uint64) (*image.RGBA, bool) {
	if src.Rect.Dx() < 16 || src.Rect.Dy() < 16 {
		return nil, false
	}
	r := rand.New(rand.NewPCG(seed, uint64(len(sp))))
	switch sp {
	case Print:
		return renderPrint(src, r), true
	case Screen:
		return renderScreen(src, r), true
	}
	return nil, false
}

type fimg struct {
	w, h int
	p    []float64 // RGB
}

func newF(w, h int) *fimg { return &fimg{w, h, make([]float64, 3*w*h)} }

func fromRGBA(src *image.RGBA) *fimg {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	f := newF(w, h)
	for y := 0; y < h; y++ {
		row := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y):]
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				f.p[3*(y*w+x)+c] = float64(row[4*x+c])
			}
		}
	}
	return f
}

func (f *fimg) rgba() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, f.w, f.h))
	for i := 0; i < f.w*f.h; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[4*i+c] = uint8(math.Round(math.Min(255, math.Max(0, f.p[3*i+c]))))
		}
		out.Pix[4*i+3] = 255
	}
	return out
}

// sample reads f bilinearly at (x, y); outside it returns ok=false.
func (f *fimg) sample(x, y float64) ([3]float64, bool) {
	if x < 0 || y < 0 || x > float64(f.w-1) || y > float64(f.h-1) {
		return [3]float64{}, false
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, f.w-1), min(y0+1, f.h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	var out [3]float64
	for c := 0; c < 3; c++ {
		a := f.p[3*(y0*f.w+x0)+c]*(1-fx) + f.p[3*(y0*f.w+x1)+c]*fx
		b := f.p[3*(y1*f.w+x0)+c]*(1-fx) + f.p[3*(y1*f.w+x1)+c]*fx
		out[c] = a*(1-fy) + b*fy
	}
	return out, true
}

// place draws src into a w x h frame filled with bg, scaled by s, rotated
// by th about the frame centre; inside reports where the content is.
func place(src *fimg, w, h int, s, th float64, bg func(x, y int) [3]float64) (*fimg, []bool) {
	out := newF(w, h)
	inside := make([]bool, w*h)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	sx, sy := float64(src.w-1)/2, float64(src.h-1)/2
	cos, sin := math.Cos(th), math.Sin(th)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			u := (cos*dx+sin*dy)/s + sx
			v := (-sin*dx+cos*dy)/s + sy
			px, ok := src.sample(u, v)
			if !ok {
				px = bg(x, y)
			}
			inside[y*w+x] = ok
			copy(out.p[3*(y*w+x):], px[:])
		}
	}
	return out, inside
}

func blur3(f *fimg) *fimg {
	out := newF(f.w, f.h)
	for y := 0; y < f.h; y++ {
		for x := 0; x < f.w; x++ {
			for c := 0; c < 3; c++ {
				var s, n float64
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						xx, yy := x+dx, y+dy
						if xx >= 0 && yy >= 0 && xx < f.w && yy < f.h {
							s += f.p[3*(yy*f.w+xx)+c]
							n++
						}
					}
				}
				out.p[3*(y*f.w+x)+c] = s / n
			}
		}
	}
	return out
}

// recapture adds what the capturing camera adds: uneven illumination and
// sensor noise.
func recapture(f *fimg, r *rand.Rand) {
	gx, gy := r.Float64()*0.2-0.1, r.Float64()*0.2-0.1
	for y := 0; y < f.h; y++ {
		for x := 0; x < f.w; x++ {
			g := 1 + gx*(float64(x)/float64(f.w)-0.5)*2 + gy*(float64(y)/float64(f.h)-0.5)*2
			for c := 0; c < 3; c++ {
				i := 3*(y*f.w+x) + c
				f.p[i] = f.p[i]*g + (r.Float64()*6 - 3)
			}
		}
	}
}

// renderPrint: the photograph printed (lifted blacks, compressed range,
// less saturation, a warm cast, halftone dots), held up on its paper a
// little smaller than the original framing and slightly rotated, then
// recaptured.
func renderPrint(src *image.RGBA, r *rand.Rand) *image.RGBA {
	f := fromRGBA(src)
	for i := 0; i < f.w*f.h; i++ {
		px := f.p[3*i : 3*i+3]
		m := (px[0] + px[1] + px[2]) / 3
		for c := 0; c < 3; c++ {
			v := m + 0.8*(px[c]-m) // saturation
			px[c] = 22 + 0.8*v     // ink cannot reach black, paper limits white
		}
		px[0] *= 1.03
		px[2] *= 0.92
	}
	for y := 0; y < f.h; y++ {
		for x := 0; x < f.w; x++ {
			d := 1 - 0.06*math.Cos(2*math.Pi*float64(x)/3.5)*math.Cos(2*math.Pi*float64(y)/3.5)
			for c := 0; c < 3; c++ {
				f.p[3*(y*f.w+x)+c] *= d
			}
		}
	}
	paper := [3]float64{232, 226, 214}
	out, _ := place(f, f.w, f.h, 0.72+0.1*r.Float64(), (r.Float64()*8-4)*math.Pi/180, func(int, int) [3]float64 { return paper })
	out = blur3(out)
	recapture(out, r)
	return out.rgba()
}

// renderScreen: the photograph shown on a display (bezel, brighter gamma,
// lifted blacks, a blue cast, the pixel grid, moiré with the camera's
// sampling, a glare spot), then recaptured.
func renderScreen(src *image.RGBA, r *rand.Rand) *image.RGBA {
	f := fromRGBA(src)
	for i := range f.p {
		f.p[i] = 14 + 241*math.Pow(f.p[i]/255, 0.85)
	}
	for i := 0; i < f.w*f.h; i++ {
		f.p[3*i+2] *= 1.06
	}
	out, inside := place(f, f.w, f.h, 0.82+0.08*r.Float64(), (r.Float64()*4-2)*math.Pi/180, func(int, int) [3]float64 { return [3]float64{8, 8, 10} })
	fx, fy := 0.11+0.04*r.Float64(), 0.015+0.02*r.Float64()
	gx, gy := float64(out.w)*(0.3+0.4*r.Float64()), float64(out.h)*(0.2+0.3*r.Float64())
	gr := float64(min(out.w, out.h)) * 0.18
	for y := 0; y < out.h; y++ {
		for x := 0; x < out.w; x++ {
			if !inside[y*out.w+x] {
				continue
			}
			grid := 1.0
			if x%3 == 0 {
				grid *= 0.9
			}
			if y%3 == 0 {
				grid *= 0.92
			}
			moire := 1 + 0.07*math.Sin(2*math.Pi*(fx*float64(x)+fy*float64(y)))
			d2 := ((float64(x)-gx)*(float64(x)-gx) + (float64(y)-gy)*(float64(y)-gy)) / (gr * gr)
			glare := 70 * math.Exp(-d2)
			for c := 0; c < 3; c++ {
				i := 3*(y*out.w+x) + c
				out.p[i] = out.p[i]*grid*moire + glare
			}
		}
	}
	out = blur3(out)
	recapture(out, r)
	return out.rgba()
}

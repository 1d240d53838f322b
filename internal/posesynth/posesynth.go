// Package posesynth renders a still photograph "performing" eKYC's active
// liveness challenge, for tests that run the real face engine: a still
// photograph cannot turn its head or blink, so the frames are the
// photograph warped. A horizontal compression of one side of the face
// moves the nose against the jaw as a turn does (the engine measures yaw
// about ±0.39 on the astronaut portrait), and a vertical squeeze of the
// eye band narrows the eyes (an eye aspect ratio of about 0.23, not a real
// closed eye's ~0.1). A policy that accepts these frames is relaxed on
// purpose, and a test using them says so.
//
// The warps are deterministic; the frames are PNG.
package posesynth

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
)

// Analyzer finds faces with landmarks (*face.Engine).
type Analyzer interface {
	Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error)
}

// Poses renders who turned left, turned right and blinking. The first
// face eng finds in who places the warps: a turn is a horizontal warp
// about the nose, a blink squeezes the eye band.
func Poses(ctx context.Context, eng Analyzer, who *image.RGBA) (map[ekyc.Step]*image.RGBA, error) {
	fs, err := eng.Analyze(ctx, who)
	if err != nil {
		return nil, err
	}
	if len(fs) == 0 {
		return nil, errors.New("posesynth: no face in the photograph")
	}
	f := fs[0]
	nose := float64(f.Landmarks[30][0])
	eyeY := (float64(f.Landmarks[37][1]) + float64(f.Landmarks[44][1])) / 2
	band := float64(f.Box[3]) * 0.06
	return map[ekyc.Step]*image.RGBA{
		ekyc.TurnLeft:  Turn(who, nose, 1.5),
		ekyc.TurnRight: Turn(who, nose, 0.6),
		ekyc.Blink:     Blink(who, eyeY, band),
	}, nil
}

// Frames renders who performing steps as PNG frames: frontal twice, then
// each step's pose (Poses) followed by frontal.
func Frames(ctx context.Context, eng Analyzer, who *image.RGBA, steps []ekyc.Step) ([][]byte, error) {
	poses, err := Poses(ctx, eng, who)
	if err != nil {
		return nil, err
	}
	// Every frame is encoded with its own corner pixel, as a camera's
	// sensor noise makes each frame differ: eKYC refuses a frame whose
	// bytes it has seen before.
	n := 0
	encode := func(img *image.RGBA) ([]byte, error) {
		n++
		c := image.NewRGBA(img.Bounds())
		copy(c.Pix, img.Pix)
		c.SetRGBA(c.Rect.Min.X, c.Rect.Min.Y, color.RGBA{uint8(n), uint8(n >> 8), 0, 255})
		return PNG(c)
	}
	var out [][]byte
	for range 2 {
		b, err := encode(who)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	for _, s := range steps {
		posed, ok := poses[s]
		if !ok {
			return nil, errors.New("posesynth: unknown challenge step")
		}
		b, err := encode(posed)
		if err != nil {
			return nil, err
		}
		f, err := encode(who)
		if err != nil {
			return nil, err
		}
		out = append(out, b, f)
	}
	return out, nil
}

// CropLargest crops the largest of fs out of img with a margin of 0.8
// face widths on every side (clipped to img): one person of a group
// photograph, framed as a selfie. It also returns the face it cropped.
func CropLargest(img image.Image, fs []face.Face) (*image.RGBA, face.Face, error) {
	if len(fs) == 0 {
		return nil, face.Face{}, errors.New("posesynth: no face to crop")
	}
	best := fs[0]
	for _, f := range fs {
		if f.Box[2]*f.Box[3] > best.Box[2]*best.Box[3] {
			best = f
		}
	}
	bx := best.Box
	m := bx[2] * 0.8
	r := image.Rect(int(bx[0]-m), int(bx[1]-m), int(bx[0]+bx[2]+m), int(bx[1]+bx[3]+m)).Intersect(img.Bounds())
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		for x := range r.Dx() {
			out.Set(x, y, img.At(r.Min.X+x, r.Min.Y+y))
		}
	}
	return out, best, nil
}

// PNG encodes img.
func PNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Turn compresses (k > 1) or stretches (k < 1) the part of src left of
// column cx·k onto [0, cx·k) and the rest onto the remaining width.
func Turn(src *image.RGBA, cx, k float64) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(b)
	w := float64(b.Dx())
	c2 := cx * k
	for y := range b.Dy() {
		for x := range b.Dx() {
			u, sx := float64(x), 0.0
			if u < c2 {
				sx = u / k
			} else {
				sx = cx + (u-c2)*(w-cx)/(w-c2)
			}
			ix := int(math.Round(sx))
			if ix < 0 || ix >= b.Dx() {
				dst.Set(x, y, color.Black)
				continue
			}
			dst.Set(x, y, src.At(ix, y))
		}
	}
	return dst
}

// Blink squeezes the rows within band of eyeY to 30% of their height.
func Blink(src *image.RGBA, eyeY, band float64) *image.RGBA {
	b := src.Bounds()
	dst := image.NewRGBA(b)
	for y := range b.Dy() {
		sy := float64(y)
		if d := sy - eyeY; math.Abs(d) < band {
			if d < 0 {
				sy = eyeY - band - (band+d)*0.3
			} else {
				sy = eyeY + band + (band-d)*0.3
			}
		}
		for x := range b.Dx() {
			dst.Set(x, y, src.At(x, int(sy)))
		}
	}
	return dst
}

// Package faceadapt lets the face engine serve as document/imaging's
// FaceFinder. It lives apart from document/imaging so that the image checks
// do not depend on the face engine; the wiring (cmd/madoguchi, ekyc) makes
// one call: imaging.New(cfg, faceadapt.New(engine)).
//
// Invariants: the image is copied into an opaque *image.RGBA with its
// origin at (0, 0) (alpha dropped, as package face/imageio does), so boxes
// are relative to the input's Bounds().Min; embeddings and landmarks that
// the engine computes are discarded here and never leave the call.
package faceadapt

import (
	"context"
	"image"
	"image/draw"

	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/face"
)

// Analyzer is what the adapter needs from the face engine; *face.Engine
// satisfies it.
type Analyzer interface {
	Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error)
}

var _ Analyzer = (*face.Engine)(nil)

// Finder adapts an Analyzer to imaging.FaceFinder.
type Finder struct{ a Analyzer }

var _ imaging.FaceFinder = (*Finder)(nil)

// New returns a Finder over a. A nil a makes imaging.New fail, so pass the
// loaded engine.
func New(a Analyzer) *Finder { return &Finder{a: a} }

// FindFaces runs the engine and returns each face's detector box and score.
func (f *Finder) FindFaces(ctx context.Context, img image.Image) ([]imaging.FaceBox, error) {
	faces, err := f.a.Analyze(ctx, opaque(img))
	if err != nil {
		return nil, err
	}
	out := make([]imaging.FaceBox, 0, len(faces))
	for _, fc := range faces {
		b := fc.Box
		out = append(out, imaging.FaceBox{X: float64(b[0]), Y: float64(b[1]), W: float64(b[2]), H: float64(b[3]), Score: float64(fc.Score), Weak: fc.Fallback})
	}
	return out, nil
}

// opaque copies img into an *image.RGBA at the origin with A = 255.
func opaque(img image.Image) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch m := img.(type) {
	case *image.NRGBA: // keep stored colour channels, drop alpha
		for y := range b.Dy() {
			copy(out.Pix[y*out.Stride:y*out.Stride+4*b.Dx()], m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	default:
		draw.Draw(out, out.Rect, img, b.Min, draw.Src)
	}
	for i := 3; i < len(out.Pix); i += 4 {
		out.Pix[i] = 255
	}
	return out
}

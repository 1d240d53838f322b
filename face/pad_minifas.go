package face

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"

	"github.com/madoguchi/madoguchi/face/nn"
	"github.com/madoguchi/madoguchi/face/nn/onnx"
)

// miniFAS runs the faceplugin liveness model (fr_liveness.onnx, a
// MiniFASNet-style network): the face box enlarged 2.7 times about its
// centre (less if the image is smaller), moved inside the image, resized
// to 128x128 with OpenCV's bilinear rule, raw RGB 0..255, NCHW; three
// logits. The package's own code reports softmax[0]; on the NUAA
// photograph-imposter set class 0 is the bona fide class
// (docs/face-accuracy.md), so the score is softmax[0], 1 = bona fide.
type miniFAS struct {
	g     *nn.Graph
	input string
}

const (
	miniFASSide  = 128
	miniFASScale = 2.7
)

func loadMiniFAS(dir string) (*miniFAS, error) {
	g, err := onnx.Load(filepath.Join(dir, "faceplugin", "fr_liveness.onnx"))
	if err != nil {
		return nil, fmt.Errorf("%w: liveness (faceplugin): %v", ErrModels, err)
	}
	if len(g.Inputs()) != 1 || len(g.Outputs()) != 1 {
		return nil, fmt.Errorf("%w: liveness (faceplugin): %d inputs, %d outputs", ErrModels, len(g.Inputs()), len(g.Outputs()))
	}
	return &miniFAS{g: g, input: g.Inputs()[0]}, nil
}

// miniFASCrop is faceplugin's alignLivenessImage: the integer rectangle
// the model sees for face box b in a w x h image.
func miniFASCrop(b Box, w, h int) image.Rectangle {
	bw, bh := float64(b[2]), float64(b[3])
	if !(bw > 0 && bh > 0) {
		return image.Rectangle{}
	}
	s := math.Min(math.Min(float64(h-1)/bh, float64(w-1)/bw), miniFASScale)
	nw, nh := bw*s, bh*s
	cx, cy := float64(b[0])+bw/2, float64(b[1])+bh/2
	x0, y0, x1, y1 := cx-nw/2, cy-nh/2, cx+nw/2, cy+nh/2
	if x0 < 0 {
		x1 -= x0
		x0 = 0
	}
	if y0 < 0 {
		y1 -= y0
		y0 = 0
	}
	if x1 > float64(w-1) {
		x0 -= x1 - float64(w-1)
		x1 = float64(w - 1)
	}
	if y1 > float64(h-1) {
		y0 -= y1 - float64(h-1)
		y1 = float64(h - 1)
	}
	rx, ry := max(int(x0), 0), max(int(y0), 0)
	rw, rh := min(int(x1-x0), w-1), min(int(y1-y0), h-1)
	r := image.Rect(rx, ry, rx+rw, ry+rh).Intersect(image.Rect(0, 0, w, h))
	return r
}

// Score returns the bona fide probability for the face in box b.
func (m *miniFAS) Score(ctx context.Context, img *image.RGBA, b Box) (float32, error) {
	r := miniFASCrop(b, img.Rect.Dx(), img.Rect.Dy())
	if r.Dx() < 2 || r.Dy() < 2 {
		return 0, fmt.Errorf("%w: liveness crop %v", ErrNoFace, r)
	}
	x := resizeLinearCV(img, r, miniFASSide, miniFASSide)
	out, err := m.g.Run(ctx, map[string]*nn.Tensor{m.input: x})
	if err != nil {
		return 0, err
	}
	p := append([]float32(nil), out[0].Data...)
	if len(p) != 3 {
		return 0, fmt.Errorf("%w: liveness model gave %d values", ErrModels, len(p))
	}
	nn.SoftmaxInPlace(&nn.Tensor{Shape: []int{1, 3}, Data: p})
	return p[0], nil
}

// resizeLinearCV resizes the region r of img to ow x oh like OpenCV's
// INTER_LINEAR (half-pixel centres, edge clamped), into an NHWC float
// tensor of raw 0..255 RGB values.
func resizeLinearCV(img *image.RGBA, r image.Rectangle, ow, oh int) *nn.Tensor {
	x := nn.NewTensor(1, oh, ow, 3)
	sx, sy := float64(r.Dx())/float64(ow), float64(r.Dy())/float64(oh)
	coord := func(d int, s float64, n int) (int, int, float64) {
		f := (float64(d)+0.5)*s - 0.5
		f = math.Max(f, 0)
		i0 := int(math.Floor(f))
		if i0 >= n-1 {
			return n - 1, n - 1, 0
		}
		return i0, i0 + 1, f - float64(i0)
	}
	for yy := 0; yy < oh; yy++ {
		y0, y1, fy := coord(yy, sy, r.Dy())
		p0 := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y0):]
		p1 := img.Pix[img.PixOffset(r.Min.X, r.Min.Y+y1):]
		for xx := 0; xx < ow; xx++ {
			x0, x1, fx := coord(xx, sx, r.Dx())
			o := (yy*ow + xx) * 3
			for c := 0; c < 3; c++ {
				top := float64(p0[4*x0+c])*(1-fx) + float64(p0[4*x1+c])*fx
				bot := float64(p1[4*x0+c])*(1-fx) + float64(p1[4*x1+c])*fx
				x.Data[o+c] = float32(math.Round(top*(1-fy) + bot*fy)) // cv.resize of a uint8 image
			}
		}
	}
	return x
}

// Package faceapi runs the pretrained networks of @vladmandic/face-api@1.7.15
// (SsdMobilenetv1, FaceLandmark68Net, FaceRecognitionNet) on the nn runtime,
// reproducing face-api's own preprocessing and decoding so that results agree
// with the JavaScript library (see face/testdata/golden).
//
// Invariants:
//   - A loaded model is immutable and safe for concurrent use.
//   - Loading validates every weight's name, shape and byte count; a missing
//     or mismatched model file is an error wrapping nn.ErrFormat or
//     nn.ErrMissing, never a silent fallback.
//   - Inputs are *image.RGBA; alpha is ignored. Images larger than
//     MaxImagePixels are refused before any work.
//   - Coordinates are image pixels, boxes are [x, y, w, h].
package faceapi

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"

	"github.com/madoguchi/madoguchi/face/nn"
)

// MaxImagePixels bounds the images the models accept (64 megapixels).
const MaxImagePixels = 64 << 20

// ErrInput means an image or box given to a model is unusable.
var ErrInput = errors.New("faceapi: bad input")

// meanRGB is what the landmark and recognition nets subtract before /255.
var meanRGB = [3]float32{122.782, 117.001, 104.298}

func modelFS(dir string) fs.FS { return os.DirFS(dir) }

// loadManifest loads face-api's <name>-weights_manifest.json from dir.
// loadModel loads the weights of model name from dir and builds it.
func loadModel[T any](dir, name string, build func(*nn.Weights) (T, error)) (T, error) {
	var zero T
	w, err := loadManifest(dir, name)
	if err != nil {
		return zero, err
	}
	m, err := build(w)
	if err != nil {
		return zero, fmt.Errorf("faceapi: %s: %w", name, err)
	}
	return m, nil
}

// biasedConv builds a k x k convolution from the weights named wName
// ([k k cin cout]) and bName ([cout]).
func biasedConv(w *nn.Weights, wName, bName string, k, cin, cout, stride int, pad nn.Padding, act nn.Activation) (*nn.Conv2D, error) {
	f, err := w.Get(wName, k, k, cin, cout)
	if err != nil {
		return nil, err
	}
	b, err := w.Get(bName, cout)
	if err != nil {
		return nil, err
	}
	return nn.NewConv2D(f, b.Data, stride, stride, pad, act)
}

func loadManifest(dir, name string) (*nn.Weights, error) {
	w, err := nn.LoadManifest(modelFS(dir), name+"-weights_manifest.json")
	if err != nil {
		return nil, fmt.Errorf("faceapi: load %s: %w", name, err)
	}
	return w, nil
}

func checkImage(img *image.RGBA) error {
	if img == nil {
		return fmt.Errorf("%w: nil image", ErrInput)
	}
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return fmt.Errorf("%w: empty image", ErrInput)
	}
	if b.Dx() > MaxImagePixels/b.Dy() {
		return fmt.Errorf("%w: image %dx%d larger than %d pixels", ErrInput, b.Dx(), b.Dy(), MaxImagePixels)
	}
	if img.Stride < 4*b.Dx() || len(img.Pix) < (b.Dy()-1)*img.Stride+4*b.Dx() {
		return fmt.Errorf("%w: image buffer too small for %dx%d", ErrInput, b.Dx(), b.Dy())
	}
	return nil
}

// normalize subtracts meanRGB and divides by 255, in place.
func normalize(t *nn.Tensor) {
	for i := 0; i < len(t.Data); i += 3 {
		t.Data[i] = (t.Data[i] - meanRGB[0]) / 255
		t.Data[i+1] = (t.Data[i+1] - meanRGB[1]) / 255
		t.Data[i+2] = (t.Data[i+2] - meanRGB[2]) / 255
	}
}

// clipBox is face-api's Box.clipAtImageBorders followed by floor().
func clipBox(box [4]float32, imgW, imgH int) (x, y, w, h int, err error) {
	bx, by, bw, bh := float64(box[0]), float64(box[1]), float64(box[2]), float64(box[3])
	for _, v := range box {
		if v != v || v > 1e7 || v < -1e7 {
			return 0, 0, 0, 0, fmt.Errorf("%w: box %v", ErrInput, box)
		}
	}
	cx, cy := max(bx, 0), max(by, 0)
	cw := min(bx+bw-cx, float64(imgW)-cx)
	ch := min(by+bh-cy, float64(imgH)-cy)
	x, y, w, h = floor(cx), floor(cy), floor(cw), floor(ch)
	if w <= 0 || h <= 0 || x >= imgW || y >= imgH {
		return 0, 0, 0, 0, fmt.Errorf("%w: box %v outside the %dx%d image", ErrInput, box, imgW, imgH)
	}
	w, h = min(w, imgW-x), min(h, imgH-y)
	return x, y, w, h, nil
}

func floor(v float64) int {
	i := int(v)
	if float64(i) > v {
		i--
	}
	return i
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("faceapi: %w", err)
	}
	return nil
}

// batchFromImage is cropTensor followed by toBatch, without materialising
// the float crop or the padded square: region [x0,x0+w) x [y0,y0+h) of img,
// zero-padded to a square as padToSquare does, resized to size x size with
// TF's legacy bilinear rule (identity when the square is already size). It
// reads only the source pixels the resize samples, so a large photo costs
// O(size²) memory, not O(w·h). Results are bit-identical to the two-step path.
func batchFromImage(img *image.RGBA, x0, y0, w, h, size int, center bool) *nn.Tensor {
	side := max(w, h)
	padX, padY := 0, 0 // zeros before the region inside the square
	if center && w != h {
		diff := side - min(w, h)
		before := diff - (diff+1)/2
		if h > w {
			padX = before
		} else {
			padY = before
		}
	}
	out := nn.NewTensor(1, size, size, 3)
	scale := float32(side) / float32(size)
	type tap struct {
		i0, i1 int // crop-relative coordinates, may be outside [0, w) / [0, h)
		f      float32
	}
	xs := make([]tap, size)
	for j := range xs {
		src := float32(j) * scale
		s0 := int(src)
		xs[j] = tap{s0 - padX, min(s0+1, side-1) - padX, src - float32(s0)}
	}
	px := func(y, x, c int) float32 {
		if y < 0 || y >= h || x < 0 || x >= w {
			return 0
		}
		return float32(img.Pix[(y0+y)*img.Stride+(x0+x)*4+c])
	}
	for i := 0; i < size; i++ {
		src := float32(i) * scale
		s0 := int(src)
		r0, r1 := s0-padY, min(s0+1, side-1)-padY
		fy := src - float32(s0)
		o := out.Data[i*size*3:]
		for j, t := range xs {
			for c := 0; c < 3; c++ {
				tl, tr := px(r0, t.i0, c), px(r0, t.i1, c)
				bl, br := px(r1, t.i0, c), px(r1, t.i1, c)
				top := tl + (tr-tl)*t.f
				bot := bl + (br-bl)*t.f
				o[j*3+c] = top + (bot-top)*fy
			}
		}
	}
	return out
}

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

// cropTensor returns pixels [x0,x0+w) x [y0,y0+h) of img (relative to its
// bounds) as a [1,h,w,3] tensor of values 0..255. The caller clips the box.
func cropTensor(img *image.RGBA, x0, y0, w, h int) *nn.Tensor {
	t := nn.NewTensor(1, h, w, 3)
	for y := 0; y < h; y++ {
		row := img.Pix[(y0+y)*img.Stride+x0*4:]
		o := t.Data[y*w*3:]
		for x := 0; x < w; x++ {
			o[3*x] = float32(row[4*x])
			o[3*x+1] = float32(row[4*x+1])
			o[3*x+2] = float32(row[4*x+2])
		}
	}
	return t
}

// padToSquare is face-api's padToSquare: zeros along the shorter axis, all
// after (center=false) or round(diff/2) after and the rest before.
func padToSquare(t *nn.Tensor, center bool) (*nn.Tensor, error) {
	h, w := t.Shape[1], t.Shape[2]
	if h == w {
		return t, nil
	}
	diff := h - w
	if diff < 0 {
		diff = -diff
	}
	after := diff
	if center {
		after = (diff + 1) / 2 // Math.round(diff*0.5) rounds .5 up
	}
	before := diff - after
	if h > w {
		return nn.PadSpatial(t, 0, 0, before, after)
	}
	return nn.PadSpatial(t, before, after, 0, 0)
}

// toBatch is face-api's NetInput.toBatchTensor for one image.
func toBatch(t *nn.Tensor, size int, center bool) (*nn.Tensor, error) {
	t, err := padToSquare(t, center)
	if err != nil {
		return nil, err
	}
	if t.Shape[1] != size || t.Shape[2] != size {
		return nn.ResizeBilinear(t, size, size)
	}
	return t, nil
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

// cropFace clips box to img and returns the crop as a tensor.
func cropFace(img *image.RGBA, box [4]float32) (*nn.Tensor, error) {
	if err := checkImage(img); err != nil {
		return nil, err
	}
	b := img.Bounds()
	x, y, w, h, err := clipBox(box, b.Dx(), b.Dy())
	if err != nil {
		return nil, err
	}
	return cropTensor(img, x, y, w, h), nil
}

func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("faceapi: %w", err)
	}
	return nil
}

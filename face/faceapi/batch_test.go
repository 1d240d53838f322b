package faceapi

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/face/nn"
)

// TestBatchFromImageMatchesTwoStep checks that the streaming crop+pad+resize
// is bit-identical to cropTensor followed by toBatch.
func TestBatchFromImageMatchesTwoStep(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 2))
	img := image.NewRGBA(image.Rect(0, 0, 97, 61))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	tests := []struct {
		x0, y0, w, h, size int
		center             bool
	}{
		{0, 0, 97, 61, 512, false}, {0, 0, 97, 61, 416, false}, {0, 0, 97, 61, 64, false},
		{10, 5, 40, 40, 112, true}, {10, 5, 33, 50, 112, true}, {3, 1, 50, 33, 150, true},
		{0, 0, 1, 1, 150, true}, {20, 20, 150 - 100, 150 - 110, 150, true}, {5, 5, 31, 30, 31, true},
	}
	for _, tc := range tests {
		want, err := toBatch(cropTensor(img, tc.x0, tc.y0, tc.w, tc.h), tc.size, tc.center)
		if err != nil {
			t.Fatal(err)
		}
		got := batchFromImage(img, tc.x0, tc.y0, tc.w, tc.h, tc.size, tc.center)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batchFromImage%+v differs from cropTensor+toBatch:\n%.300s", tc, diff)
		}
	}
}

// cropTensor, padToSquare and toBatch are the two-step reference path
// (face-api's extractFaceTensors + toBatchTensor) that batchFromImage fuses.
func cropTensor(img *image.RGBA, x0, y0, w, h int) *nn.Tensor {
	t := nn.NewTensor(1, h, w, 3)
	for y := 0; y < h; y++ {
		row := img.Pix[(y0+y)*img.Stride+x0*4:]
		o := t.Data[y*w*3:]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
		}
	}
	return t
}

func padToSquare(t *nn.Tensor, center bool) (*nn.Tensor, error) {
	h, w := t.Shape[1], t.Shape[2]
	if h == w {
		return t, nil
	}
	diff := max(h, w) - min(h, w)
	after := diff
	if center {
		after = (diff + 1) / 2 // Math.round(diff*0.5)
	}
	before := diff - after
	if h > w {
		return nn.PadSpatial(t, 0, 0, before, after)
	}
	return nn.PadSpatial(t, before, after, 0, 0)
}

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

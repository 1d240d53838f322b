package human

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/face/nn"
)

func imageTensor(img *image.RGBA) *nn.Tensor {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	t := nn.NewTensor(1, h, w, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				t.Data[(y*w+x)*3+c] = float32(img.Pix[y*img.Stride+4*x+c])
			}
		}
	}
	return t
}

// TestStreamingMatchesTensorPath checks resizeImage and cropImage against
// nn.ResizeBilinear and nn.CropAndResize on the float image.
func TestStreamingMatchesTensorPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	img := image.NewRGBA(image.Rect(0, 0, 83, 57))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
	}
	full := imageTensor(img)
	for _, s := range [][2]int{{256, 256}, {32, 32}, {57, 83}, {1, 1}} {
		want, err := nn.ResizeBilinear(full, s[0], s[1])
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, resizeImage(img, s[0], s[1])); diff != "" {
			t.Errorf("resizeImage(%v) differs:\n%.300s", s, diff)
		}
	}
	for _, box := range [][4]float32{{0, 0, 1, 1}, {-0.2, 0.1, 0.9, 1.3}, {0.3, 0.3, 0.31, 0.5}, {1.5, 1.5, 2, 2}} {
		for _, size := range []int{192, 7, 1} {
			want, err := nn.CropAndResize(full, box, size, size)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want.Data {
				want.Data[i] /= 255
			}
			if diff := cmp.Diff(want, cropImage(img, box, size)); diff != "" {
				t.Errorf("cropImage(%v, %d) differs:\n%.300s", box, size, diff)
			}
		}
	}
}

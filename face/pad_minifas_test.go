package face

import (
	"image"
	"testing"
)

// TestMiniFASCrop follows faceplugin's alignLivenessImage: 2.7x the box
// about its centre, moved back inside the image, the scale limited by the
// image's size.
func TestMiniFASCrop(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Box
		w, h int
		want image.Rectangle
	}{
		{"centre", Box{270, 190, 100, 100}, 640, 480, image.Rect(185, 105, 185+270, 105+270)},
		{"near the left edge: shifted inside", Box{10, 190, 100, 100}, 640, 480, image.Rect(0, 105, 270, 105+270)},
		{"large face: scale limited by the height", Box{200, 100, 200, 200}, 640, 480, image.Rect(60, 0, 60+479, 479)},
		{"empty box", Box{10, 10, 0, 5}, 640, 480, image.Rectangle{}},
	} {
		if got := miniFASCrop(tc.b, tc.w, tc.h); got != tc.want {
			t.Errorf("miniFASCrop(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestLivenessMin(t *testing.T) {
	l := Liveness{Available: true, Real: 0.7, Live: 0.9, MiniFAS: 0.2}
	if got := l.Min(); got != 0.7 {
		t.Errorf("Min without MiniFAS = %v, want 0.7 (the MiniFAS value is not valid)", got)
	}
	l.HasMiniFAS = true
	if got := l.Min(); got != 0.2 {
		t.Errorf("Min with MiniFAS = %v, want 0.2", got)
	}
}

// TestResizeLinearCV: OpenCV's half-pixel bilinear rule keeps a constant
// image constant and samples a 2x downscale at the 2x2 block means.
func TestResizeLinearCV(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for y := 0; y < 8; y++ {
		for x := 0; x < 8; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2] = uint8(10*x), 77, uint8(10*y)
		}
	}
	x := resizeLinearCV(img, image.Rect(0, 0, 8, 8), 4, 4)
	for yy := 0; yy < 4; yy++ {
		for xx := 0; xx < 4; xx++ {
			o := (yy*4 + xx) * 3
			// centre of output pixel xx is input 2xx+0.5: mean of 10*2xx and 10*(2xx+1)
			if r, g, b := x.Data[o], x.Data[o+1], x.Data[o+2]; r != float32(20*xx+5) || g != 77 || b != float32(20*yy+5) {
				t.Fatalf("resize(%d,%d) = %v %v %v, want %d 77 %d", xx, yy, r, g, b, 20*xx+5, 20*yy+5)
			}
		}
	}
}

package imaging

import (
	"errors"
	"image"
	"image/color"
	"testing"
)

// TestRectify: a card drawn as a known quadrilateral (a perspective view of
// a red-and-blue rectangle) comes back as the rectangle: the left half
// red, the right half blue.
func TestRectify(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	q := Quad{{60, 40}, {340, 70}, {330, 250}, {50, 230}}
	hm, ok := rectToQuad(100, 60, [4]Point(q))
	if !ok {
		t.Fatal("rectToQuad failed")
	}
	inv, ok := invert(hm)
	if !ok {
		t.Fatal("invert failed")
	}
	for y := range 300 {
		for x := range 400 {
			p := inv.apply(float64(x)+0.5, float64(y)+0.5)
			switch {
			case p.X < 0 || p.X > 100 || p.Y < 0 || p.Y > 60:
				img.Set(x, y, color.RGBA{255, 255, 255, 255})
			case p.X < 50:
				img.Set(x, y, color.RGBA{200, 0, 0, 255})
			default:
				img.Set(x, y, color.RGBA{0, 0, 200, 255})
			}
		}
	}
	out, err := Rectify(img, q, 200, 120)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		x, y int
		want color.RGBA
	}{{20, 60, color.RGBA{200, 0, 0, 255}}, {90, 10, color.RGBA{200, 0, 0, 255}}, {110, 110, color.RGBA{0, 0, 200, 255}}, {180, 60, color.RGBA{0, 0, 200, 255}}} {
		if got := out.RGBAAt(tc.x, tc.y); got != tc.want {
			t.Errorf("Rectify at (%d,%d) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	if _, err := Rectify(img, Quad{{0, 0}, {0, 0}, {0, 0}, {0, 0}}, 100, 60); !errors.Is(err, ErrQuad) {
		t.Errorf("Rectify(degenerate) = %v, want ErrQuad", err)
	}
	if _, err := Rectify(img, q, 0, 60); err == nil {
		t.Error("Rectify(zero width) = nil error")
	}
}

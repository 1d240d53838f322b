package padsynth

import (
	"image"
	"testing"
)

func testFace() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(4*x), uint8(5*y), uint8(x*y), 255
		}
	}
	return img
}

// TestRender: each species changes the image, keeps its size, is
// deterministic for a seed, differs between seeds and leaves the input
// alone; the species' traits are there (a print has no deep blacks, a
// screen keeps its dark bezel at the border).
func TestRender(t *testing.T) {
	src := testFace()
	orig := append([]uint8(nil), src.Pix...)
	for _, sp := range []Species{Print, Screen} {
		a, ok := Render(sp, src, 1)
		if !ok || a.Rect != src.Rect {
			t.Fatalf("Render(%s) = %v, %v", sp, a.Rect, ok)
		}
		b, _ := Render(sp, src, 1)
		c, _ := Render(sp, src, 2)
		if string(a.Pix) != string(b.Pix) {
			t.Errorf("Render(%s) is not deterministic", sp)
		}
		if string(a.Pix) == string(c.Pix) || string(a.Pix) == string(src.Pix) {
			t.Errorf("Render(%s): seeds or the source not reflected", sp)
		}
		minLuma := 255
		for i := 0; i < len(a.Pix); i += 4 {
			minLuma = min(minLuma, (int(a.Pix[i])+int(a.Pix[i+1])+int(a.Pix[i+2]))/3)
		}
		switch sp {
		case Print:
			if minLuma < 10 {
				t.Errorf("print: darkest pixel %d, want lifted blacks", minLuma)
			}
		case Screen:
			if o := a.PixOffset(0, 0); a.Pix[o] > 30 {
				t.Errorf("screen: corner %d, want the dark bezel", a.Pix[o])
			}
		}
	}
	if string(src.Pix) != string(orig) {
		t.Error("Render modified its input")
	}
	if _, ok := Render("mask", src, 1); ok {
		t.Error("Render(unknown species) ok")
	}
	if _, ok := Render(Print, image.NewRGBA(image.Rect(0, 0, 8, 8)), 1); ok {
		t.Error("Render(8x8) ok")
	}
}

package devissuer

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"

	"github.com/madoguchi/madoguchi/face/imageio/jpeg2000"
)

// TestEncodeJ2KLossless: the repository's JPEG 2000 decoder reads back
// exactly the pixels encoded, for block-aligned and ragged sizes, flat,
// noisy and smooth images.
func TestEncodeJ2KLossless(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		w, h int
		pix  func(x, y int) uint8
	}{
		{"flat mid-grey", 64, 64, func(x, y int) uint8 { return 128 }},
		{"all black", 10, 7, func(x, y int) uint8 { return 0 }},
		{"all white", 65, 3, func(x, y int) uint8 { return 255 }},
		{"one pixel", 1, 1, func(x, y int) uint8 { return 77 }},
		{"gradient", 130, 97, func(x, y int) uint8 { return uint8((x + 2*y) % 256) }},
		{"noise", 100, 140, func(x, y int) uint8 { return uint8(rng.IntN(256)) }},
		{"sparse dots", 70, 70, func(x, y int) uint8 {
			if (x*7+y*13)%29 == 0 {
				return 255
			}
			return 128
		}},
		{"checkerboard", 33, 17, func(x, y int) uint8 { return uint8(255 * ((x + y) % 2)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := image.NewGray(image.Rect(0, 0, tt.w, tt.h))
			for y := range tt.h {
				for x := range tt.w {
					img.Pix[y*img.Stride+x] = tt.pix(x, y)
				}
			}
			cs, err := encodeJ2K(img, j2kOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !isJ2K(cs) || !bytes.HasSuffix(cs, []byte{0xFF, 0xD9}) {
				t.Fatalf("encodeJ2K(%s) does not start with SOC/SIZ and end with EOC", tt.name)
			}
			got, err := jpeg2000.Decode(bytes.NewReader(cs))
			if err != nil {
				t.Fatalf("jpeg2000.Decode(encodeJ2K(%s)) = %v", tt.name, err)
			}
			if got.Bounds() != img.Bounds() {
				t.Fatalf("decoded bounds %v, want %v", got.Bounds(), img.Bounds())
			}
			for y := range tt.h {
				for x := range tt.w {
					g, _, _, _ := got.At(x, y).RGBA()
					if want := img.Pix[y*img.Stride+x]; uint8(g>>8) != want {
						t.Fatalf("pixel (%d,%d) = %d, want %d", x, y, g>>8, want)
					}
				}
			}
		})
	}
}

func grayImage(w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 31)
	}
	return img
}

// BenchmarkEncodeJ2K encodes a 300×400 portrait-sized image losslessly.
func BenchmarkEncodeJ2K(b *testing.B) {
	img := grayImage(300, 400)
	for i := range img.Pix {
		x, y := i%300, i/300
		img.Pix[i] = uint8((x*x + y*y/3) / 97 % 256)
	}
	b.SetBytes(int64(len(img.Pix)))
	for b.Loop() {
		if _, err := encodeJ2K(img, j2kOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeJ2KColorAndQuantized: colour through the RCT is lossless; a
// quantization step Δ loses less than Δ per sample (decoders reconstruct
// the midpoint of a bin, and the bin of zero is twice as wide), and less
// than 3Δ per channel in colour (the inverse ICT multiplies chroma errors
// by up to 1.772).
func TestEncodeJ2KColorAndQuantized(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const w, h = 90, 70
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x * 255 / w), G: uint8(y * 255 / h), B: uint8(rng.IntN(256)), A: 255})
		}
	}
	gray := image.NewGray(img.Bounds())
	draw.Draw(gray, gray.Bounds(), img, image.Point{}, draw.Src)
	tests := []struct {
		name string
		src  image.Image
		o    j2kOptions
		tol  int // per channel
	}{
		{"colour lossless (RCT)", img, j2kOptions{Color: true}, 0},
		{"gray step 2", gray, j2kOptions{Shift: 1}, 1},
		{"gray step 8", gray, j2kOptions{Shift: 3}, 7},
		{"colour step 4 (ICT)", img, j2kOptions{Color: true, Shift: 2}, 12},
		{"colour step 8 (ICT)", img, j2kOptions{Color: true, Shift: 3}, 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := encodeJ2K(tt.src, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := jpeg2000.Decode(bytes.NewReader(cs))
			if err != nil {
				t.Fatalf("jpeg2000.Decode(encodeJ2K(%s)) = %v", tt.name, err)
			}
			worst := 0
			for y := range h {
				for x := range w {
					wr, wg, wb, _ := tt.src.At(x, y).RGBA()
					gr, gg, gb, _ := got.At(x, y).RGBA()
					for _, d := range []int{int(wr>>8) - int(gr>>8), int(wg>>8) - int(gg>>8), int(wb>>8) - int(gb>>8)} {
						worst = max(worst, max(d, -d))
					}
				}
			}
			if worst > tt.tol {
				t.Errorf("encodeJ2K(%s): worst channel error %d, want at most %d", tt.name, worst, tt.tol)
			}
			t.Logf("%s: %d bytes, worst error %d", tt.name, len(cs), worst)
		})
	}
	if _, err := encodeJ2K(img, j2kOptions{Shift: maxJ2KShift + 1}); err == nil {
		t.Error("encodeJ2K(shift out of range) succeeded")
	}
}

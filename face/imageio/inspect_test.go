package imageio

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"testing"
)

func TestInspect(t *testing.T) {
	r := image.Rect(0, 0, 40, 30)
	pal := image.NewPaletted(r, color.Palette{color.Black, color.White})
	var jc, jg bytes.Buffer
	if err := jpeg.Encode(&jc, image.NewRGBA(r), nil); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jg, image.NewGray(r), nil); err != nil {
		t.Fatal(err)
	}
	opaque := image.NewRGBA(r)
	for i := 3; i < len(opaque.Pix); i += 4 {
		opaque.Pix[i] = 255
	}
	tests := []struct {
		name     string
		b        []byte
		format   string
		ch, bps  int
		wantSize int64 // DecodedBytes
	}{
		{"gray8 png", encodePNG(t, image.NewGray(r)), "png", 1, 1, 1200 * 5},
		{"gray16 png", encodePNG(t, image.NewGray16(r)), "png", 1, 2, 1200 * 6},
		{"rgb8 png", encodePNG(t, opaque), "png", 4, 1, 1200 * 8},
		{"rgba8 png", encodePNG(t, image.NewNRGBA(r)), "png", 4, 1, 1200 * 8},
		{"rgba16 png", encodePNG(t, image.NewNRGBA64(r)), "png", 4, 2, 1200 * 12},
		{"paletted png", encodePNG(t, pal), "png", 1, 1, 1200 * 5},
		{"colour jpeg", jc.Bytes(), "jpeg", 3, 1, 1200 * 7},
		{"gray jpeg", jg.Bytes(), "jpeg", 1, 1, 1200 * 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Inspect(tc.b, DefaultLimits())
			if err != nil {
				t.Fatalf("Inspect = %v, want nil", err)
			}
			if h.Format != tc.format || h.Width != 40 || h.Height != 30 || h.Channels != tc.ch || h.BytesPerSample != tc.bps || h.DecodedBytes != tc.wantSize {
				t.Errorf("Inspect = %+v, want %s 40x30 %d ch x %d B, %d decoded bytes", h, tc.format, tc.ch, tc.bps, tc.wantSize)
			}
			if _, _, err := Decode(tc.b, DefaultLimits()); err != nil {
				t.Errorf("Decode = %v, want nil for an image Inspect accepts", err)
			}
			// Every cut is refused; a cut at the end of the data is truncated.
			for cut := 1; cut < len(tc.b); cut += max(1, len(tc.b)/97) {
				if _, err := Inspect(tc.b[:cut], DefaultLimits()); err == nil {
					t.Fatalf("Inspect(first %d of %d bytes) = nil, want an error", cut, len(tc.b))
				}
			}
			if _, err := Inspect(tc.b[:len(tc.b)-2], DefaultLimits()); !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("Inspect(without its last 2 bytes) = %v, want ErrTruncated or ErrCorrupt", err)
			}
		})
	}
}

// TestInspectAttacks: the review's 4096x4096 16-bit all-zero PNG (a few
// hundred KB that decodes to 192 MiB) is measured from its header; a PNG
// cut inside its image data is truncated; a flipped byte fails the CRC;
// data after IEND is refused.
func TestInspectAttacks(t *testing.T) {
	big := attackPNG(t)
	h, err := Inspect(big, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(4096 * 4096 * 12); h.DecodedBytes != want || len(big) > 1<<20 {
		t.Errorf("4096x4096 16-bit PNG (%d bytes): DecodedBytes = %d, want %d", len(big), h.DecodedBytes, want)
	}

	small := encodePNG(t, image.NewGray(image.Rect(0, 0, 64, 64)))
	// Cut the IDAT chunk's payload short but keep a well-formed chunk
	// stream: rebuild IDAT with half its data, then IEND.
	idat := bytes.Index(small, []byte("IDAT"))
	n := int(uint32(small[idat-4])<<24 | uint32(small[idat-3])<<16 | uint32(small[idat-2])<<8 | uint32(small[idat-1]))
	cut := append(append([]byte{}, small[:idat-4]...), pngChunk("IDAT", small[idat+4:idat+4+n/2])...)
	cut = append(cut, pngChunk("IEND", nil)...)
	if _, err := Inspect(cut, DefaultLimits()); !errors.Is(err, ErrTruncated) {
		t.Errorf("Inspect(PNG with half its image data) = %v, want ErrTruncated", err)
	}
	flipped := bytes.Clone(small)
	flipped[idat+6] ^= 0x40
	if _, err := Inspect(flipped, DefaultLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Inspect(PNG with a flipped byte) = %v, want ErrCorrupt", err)
	}
	if _, err := Inspect(append(bytes.Clone(small), "tail"...), DefaultLimits()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Inspect(PNG with data after IEND) = %v, want ErrCorrupt", err)
	}
	if _, err := Inspect([]byte("GIF89a"), DefaultLimits()); !errors.Is(err, ErrFormat) {
		t.Errorf("Inspect(GIF) = %v, want ErrFormat", err)
	}
	lim := DefaultLimits()
	lim.MaxSide = 1000
	if _, err := Inspect(big, lim); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Inspect(4096 px over a 1000 px limit) = %v, want ErrTooLarge", err)
	}
}

// attackPNGFile is the review's image: 4096x4096 RGBA 16-bit, all zero,
// as image/png encodes it at BestCompression (138 KB; 192 MiB decoded).
// Tests read it instead of encoding 128 MiB of pixels each time (minutes
// under the race detector); TestAttackPNGFile proves it is that image.
const attackPNGFile = "testdata/zeros-4096x4096-rgba16.png"

func attackPNG(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(attackPNGFile)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAttackPNGFile(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes 128 MiB of pixels")
	}
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&b, image.NewNRGBA64(image.Rect(0, 0, 4096, 4096))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), attackPNG(t)) {
		t.Errorf("%s is not image/png's encoding of a zero 4096x4096 NRGBA64 image", attackPNGFile)
	}
}

// FuzzInspect: never panics; whatever Inspect accepts has the size Decode
// finds, and needs at least the RGBA result's bytes.
func FuzzInspect(f *testing.F) {
	f.Add(encodePNG(f, image.NewGray(image.Rect(0, 0, 5, 3))))
	f.Add(encodePNG(f, image.NewNRGBA64(image.Rect(0, 0, 3, 2))))
	var j bytes.Buffer
	_ = jpeg.Encode(&j, image.NewRGBA(image.Rect(0, 0, 9, 7)), nil)
	f.Add(j.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 2048}
		h, err := Inspect(b, lim)
		if err != nil {
			return
		}
		if h.DecodedBytes < int64(h.Width)*int64(h.Height)*4 {
			t.Fatalf("DecodedBytes %d below the RGBA result for %dx%d", h.DecodedBytes, h.Width, h.Height)
		}
		img, _, err := Decode(b, lim)
		if err == nil && img.Rect.Dx()*img.Rect.Dy() != h.Width*h.Height {
			t.Fatalf("Decode gives %v, Inspect said %dx%d", img.Rect, h.Width, h.Height)
		}
	})
}

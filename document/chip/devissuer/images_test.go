package devissuer

import (
	"bytes"
	"image/jpeg"
	"testing"
)

func TestDecodePGM(t *testing.T) {
	tests := []struct {
		in      string
		ok      bool
		w, h    int
		first   uint8
		comment string
	}{
		{"P2\n2 2\n255\n0 64\n128 255\n", true, 2, 2, 0, "ASCII"},
		{"P2\n# a comment\n2 1\n15\n15 0\n", true, 2, 1, 255, "maxval 15 scaled"},
		{"P5\n2 1\n255\n\x10\x20", true, 2, 1, 16, "binary"},
		{"P2\n2 2\n255\n0 64 128\n", false, 0, 0, 0, "short"},
		{"P2\n2 2\n255\n0 64 128 256\n", false, 0, 0, 0, "over maxval"},
		{"P2\n0 2\n255\n", false, 0, 0, 0, "zero width"},
		{"P2\n100000 100000\n255\n0\n", false, 0, 0, 0, "huge"},
		{"P5\n4 4\n255\n\x00", false, 0, 0, 0, "binary short"},
	}
	for _, tt := range tests {
		img, err := decodePGM([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("decodePGM(%s) = %v, want ok %v", tt.comment, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		b := img.Bounds()
		if b.Dx() != tt.w || b.Dy() != tt.h {
			t.Errorf("decodePGM(%s) = %v, want %d×%d", tt.comment, b, tt.w, tt.h)
		}
		if r, _, _, _ := img.At(0, 0).RGBA(); uint8(r>>8) != tt.first {
			t.Errorf("decodePGM(%s) first pixel = %d, want %d", tt.comment, r>>8, tt.first)
		}
	}
}

func FuzzDecodePhoto(f *testing.F) {
	f.Add([]byte("P2\n2 2\n255\n0 64\n128 255\n"))
	f.Add([]byte("P5\n2 1\n255\n\x10\x20"))
	f.Add([]byte("P2\n# c\n3 1\n7\n1 2 3"))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE0})
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := decodePhoto(b)
		if err != nil {
			return
		}
		// Whatever decodes can be put on every chip.
		if _, err := j2kPhoto(b, 3000); err != nil {
			t.Fatalf("j2kPhoto of a decodable %v image = %v", img.Bounds(), err)
		}
		if _, _, _, err := jpegPhoto(b); err != nil {
			t.Fatalf("jpegPhoto of a decodable image = %v", err)
		}
	})
}

func TestFrontTIFF(t *testing.T) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, grayImage(40, 50), nil); err != nil {
		t.Fatal(err)
	}
	tf, err := frontTIFF(buf.Bytes(), 7000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(tf, []byte{'I', 'I', 42, 0}) || len(tf) > 7000 || len(tf) < 96*60 {
		t.Errorf("frontTIFF = %d bytes starting %x, want a TIFF of 96×60 within 7000 bytes", len(tf), tf[:4])
	}
	if _, err := frontTIFF(buf.Bytes(), 1000); err == nil {
		t.Error("frontTIFF(limit 1000) succeeded, want a size error")
	}
}

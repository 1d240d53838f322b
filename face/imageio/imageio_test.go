package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// letters is a 3x2 image whose pixels are 'a'..'f' in the red channel:
//
//	a b c
//	d e f
func letters() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i, c := range "abcdef" {
		img.Set(i%3, i/3, color.NRGBA{uint8(c), 0, 0, 255})
	}
	return img
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

// tiffWithOrientation builds a minimal EXIF TIFF block holding tag 0x0112.
func tiffWithOrientation(bo binary.ByteOrder, o uint16) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	binary.Write(&b, bo, uint16(42))
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(2)) // two entries
	// an unrelated tag first (ImageDescription, ASCII, 4 bytes inline)
	binary.Write(&b, bo, uint16(0x010E))
	binary.Write(&b, bo, uint16(2))
	binary.Write(&b, bo, uint32(4))
	b.WriteString("abc\x00")
	binary.Write(&b, bo, uint16(tagOrientation))
	binary.Write(&b, bo, uint16(3))
	binary.Write(&b, bo, uint32(1))
	binary.Write(&b, bo, o)
	binary.Write(&b, bo, uint16(0))
	binary.Write(&b, bo, uint32(0)) // next IFD
	return b.Bytes()
}

// withPNGExif inserts an eXIf chunk right after IHDR.
func withPNGExif(t *testing.T, p []byte, tiff []byte) []byte {
	t.Helper()
	const ihdrEnd = 8 + 8 + 13 + 4
	out := append([]byte(nil), p[:ihdrEnd]...)
	out = append(out, pngChunk("eXIf", tiff)...)
	return append(out, p[ihdrEnd:]...)
}

// withJPEGExif inserts an APP1 Exif segment right after SOI.
func withJPEGExif(j []byte, tiff []byte) []byte {
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xFF, 0xD8, 0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)}
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func redRows(img *image.RGBA) string {
	var rows []string
	for y := 0; y < img.Rect.Dy(); y++ {
		var s []byte
		for x := 0; x < img.Rect.Dx(); x++ {
			s = append(s, img.Pix[y*img.Stride+4*x])
		}
		rows = append(rows, string(s))
	}
	return strings.Join(rows, "/")
}

func TestOrientationPNG(t *testing.T) {
	// Expected upright pictures per EXIF orientation (CIPA DC-008 tag 0x0112).
	want := map[uint16]string{
		1: "abc/def", 2: "cba/fed", 3: "fed/cba", 4: "def/abc",
		5: "ad/be/cf", 6: "da/eb/fc", 7: "fc/eb/da", 8: "cf/be/ad",
		0: "abc/def", 9: "abc/def", // invalid values are ignored
	}
	base := encodePNG(t, letters())
	for o, w := range want {
		for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			img, info, err := Decode(withPNGExif(t, base, tiffWithOrientation(bo, o)), DefaultLimits())
			if err != nil {
				t.Fatalf("Decode(orientation %d) error %v", o, err)
			}
			if got := redRows(img); got != w {
				t.Errorf("Decode(orientation %d, %v) = %s, want %s", o, bo, got, w)
			}
			if info.Width != img.Rect.Dx() || info.Height != img.Rect.Dy() {
				t.Errorf("Decode(orientation %d) info %dx%d, image %v", o, info.Width, info.Height, img.Rect)
			}
		}
	}
}

func TestOrientationJPEG(t *testing.T) {
	// 32x16: left half white, right half black. Orientation 6 (rotate 90
	// CW) makes it 16x32 with white on top.
	src := image.NewGray(image.Rect(0, 0, 32, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			src.SetGray(x, y, color.Gray{255})
		}
	}
	j := withJPEGExif(encodeJPEG(t, src), tiffWithOrientation(binary.BigEndian, 6))
	img, info, err := Decode(j, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if info.Orientation != 6 || img.Rect.Dx() != 16 || img.Rect.Dy() != 32 {
		t.Fatalf("Decode(jpeg o=6) = %v orientation %d, want 16x32 orientation 6", img.Rect, info.Orientation)
	}
	top, bottom := img.RGBAAt(8, 4), img.RGBAAt(8, 28)
	if top.R < 200 || bottom.R > 50 {
		t.Errorf("Decode(jpeg o=6) top %v bottom %v, want white over black", top, bottom)
	}
}

func TestConversions(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 2, 1), color.Palette{color.RGBA{10, 20, 30, 255}, color.RGBA{40, 50, 60, 255}})
	pal.SetColorIndex(1, 0, 1)
	gray := image.NewGray(image.Rect(0, 0, 2, 1))
	gray.SetGray(0, 0, color.Gray{77})
	cmyk := image.NewCMYK(image.Rect(0, 0, 2, 1))
	cmyk.SetCMYK(0, 0, color.CMYK{0, 255, 255, 0}) // red
	nrgba := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	nrgba.SetNRGBA(0, 0, color.NRGBA{200, 100, 50, 0}) // transparent: colour kept, alpha dropped
	g16 := image.NewGray16(image.Rect(0, 0, 2, 1))
	g16.SetGray16(0, 0, color.Gray16{0xFFFF})
	tests := []struct {
		name string
		in   image.Image
		want [2][4]uint8
	}{
		{"paletted", pal, [2][4]uint8{{10, 20, 30, 255}, {40, 50, 60, 255}}},
		{"gray", gray, [2][4]uint8{{77, 77, 77, 255}, {0, 0, 0, 255}}},
		{"cmyk", cmyk, [2][4]uint8{{255, 0, 0, 255}, {255, 255, 255, 255}}},
		{"nrgba", nrgba, [2][4]uint8{{200, 100, 50, 255}, {0, 0, 0, 255}}},
		{"gray16", g16, [2][4]uint8{{255, 255, 255, 255}, {0, 0, 0, 255}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := toRGBA(tt.in)
			var got [2][4]uint8
			copy(got[0][:], out.Pix[0:4])
			copy(got[1][:], out.Pix[4:8])
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("toRGBA(%s) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
	// Through the decoder: a gray PNG comes out as opaque RGBA.
	img, _, err := Decode(encodePNG(t, gray), DefaultLimits())
	if err != nil || img.Pix[0] != 77 || img.Pix[3] != 255 {
		t.Errorf("Decode(gray png) = %v, %v", img.Pix[:4], err)
	}
}

// hugePNG is a PNG signature and an IHDR declaring w x h pixels, nothing more.
func hugePNG(w, h uint32) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	return append(append([]byte(nil), magicPNG...), pngChunk("IHDR", ihdr)...)
}

// hugeJPEG is SOI and a baseline SOF0 declaring w x h pixels.
func hugeJPEG(w, h uint16) []byte {
	return []byte{0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1}
}

func TestDecodeRefuses(t *testing.T) {
	good := encodeJPEG(t, letters())
	goodPNG := encodePNG(t, letters())
	badCRC := bytes.Clone(goodPNG)
	badCRC[8+8+13] ^= 0xFF // IHDR CRC
	small := Limits{MaxBytes: 100, MaxPixels: 1 << 20, MaxSide: 1 << 12}
	tests := []struct {
		name string
		in   []byte
		lim  Limits
		want error
	}{
		{"png 50000x50000", hugePNG(50000, 50000), DefaultLimits(), ErrTooLarge},
		{"jpeg 50000x50000", hugeJPEG(50000, 50000), DefaultLimits(), ErrTooLarge},
		{"png one long side", hugePNG(20000, 10), DefaultLimits(), ErrTooLarge},
		{"png 2^31 wide", hugePNG(1<<31-1, 1<<31-1), DefaultLimits(), ErrTooLarge},
		{"bytes over limit", good, small, ErrTooLarge},
		{"empty", nil, DefaultLimits(), ErrTruncated},
		{"jpeg prefix", good[:3], DefaultLimits(), ErrTruncated},
		{"jpeg cut", good[:len(good)/2], DefaultLimits(), ErrTruncated},
		{"png cut", goodPNG[:len(goodPNG)-20], DefaultLimits(), ErrTruncated},
		{"png bad crc", badCRC, DefaultLimits(), ErrCorrupt},
		{"gif", []byte("GIF89a\x01\x00\x01\x00"), DefaultLimits(), ErrFormat},
		{"text", []byte("hello, world"), DefaultLimits(), ErrFormat},
		{"jp2 truncated", []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A, 0, 0}, DefaultLimits(), ErrTruncated},
		{"j2k codestream bad SIZ", []byte{0xFF, 0x4F, 0xFF, 0x51, 0, 0}, DefaultLimits(), ErrCorrupt},
		{"png zero width", hugePNG(0, 10), DefaultLimits(), ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, _, err := Decode(tt.in, tt.lim)
			if !errors.Is(err, tt.want) || img != nil {
				t.Fatalf("Decode(%s) = %v, %v; want nil, %v", tt.name, img, err, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	img, info, err := Read(bytes.NewReader(encodePNG(t, letters())), DefaultLimits())
	if err != nil || info.Format != "png" || redRows(img) != "abc/def" {
		t.Fatalf("Read(png) = %s, %+v, %v", redRows(img), info, err)
	}
	_, _, err = Read(bytes.NewReader(make([]byte, 200)), Limits{MaxBytes: 100, MaxPixels: 1, MaxSide: 1})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read(200 bytes, limit 100) = %v, want ErrTooLarge", err)
	}
}

// TestGoldenImages decodes the committed reference test images.
func TestGoldenImages(t *testing.T) {
	files, _ := filepath.Glob("../testdata/golden/images/*.png")
	if len(files) == 0 {
		t.Skip("no golden images")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		img, info, err := Decode(b, DefaultLimits())
		if err != nil {
			t.Errorf("Decode(%s) = %v", filepath.Base(f), err)
			continue
		}
		cfg, _ := png.DecodeConfig(bytes.NewReader(b))
		if info.Width != cfg.Width || info.Height != cfg.Height || img.Rect.Min != (image.Point{}) {
			t.Errorf("Decode(%s) = %v, want %dx%d at origin", filepath.Base(f), img.Rect, cfg.Width, cfg.Height)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJPEG(f, letters()))
	f.Add(encodePNG(f, letters()))
	f.Add(withJPEGExif(encodeJPEG(f, letters()), tiffWithOrientation(binary.LittleEndian, 8)))
	f.Add(hugePNG(50000, 50000))
	f.Add(hugeJPEG(50000, 50000))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xE1, 0, 8, 'E', 'x', 'i', 'f', 0, 0})
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20, MaxSide: 4096}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, info, err := Decode(b, lim)
		if err != nil {
			if img != nil {
				t.Fatalf("Decode = %v with a non-nil image", err)
			}
			for _, s := range []error{ErrTooLarge, ErrFormat, ErrTruncated, ErrCorrupt} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Decode error %v wraps no sentinel", err)
		}
		if int64(info.Width)*int64(info.Height) > lim.MaxPixels || img.Rect.Dx() != info.Width {
			t.Fatalf("Decode = %v, info %+v beyond limits", img.Rect, info)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 255 {
				t.Fatalf("Decode produced alpha %d", img.Pix[i])
			}
		}
	})
}

func FuzzTIFFOrientation(f *testing.F) {
	f.Add(tiffWithOrientation(binary.LittleEndian, 6))
	f.Add(tiffWithOrientation(binary.BigEndian, 3))
	f.Add([]byte("MM\x00*\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := tiffOrientation(b); o < 1 || o > 8 {
			t.Fatalf("tiffOrientation = %d, want 1..8", o)
		}
	})
}

// TestJPEG2000 decodes the chip-style test faces of face/imageio/jpeg2000
// and compares them with their PNG renderings.
func TestJPEG2000(t *testing.T) {
	for _, name := range []string{"face_53", "face_97", "facegray_97"} {
		j, err := os.ReadFile(filepath.Join("jpeg2000", "testdata", name+".jp2"))
		if err != nil {
			t.Skipf("no JPEG 2000 test data: %v", err)
		}
		p, err := os.ReadFile(filepath.Join("jpeg2000", "testdata", name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		got, info, err := Decode(j, DefaultLimits())
		if err != nil || info.Format != "jpeg2000" {
			t.Fatalf("Decode(%s.jp2) = %+v, %v", name, info, err)
		}
		want, _, err := Decode(p, DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		if got.Rect != want.Rect {
			t.Fatalf("Decode(%s.jp2) = %v, want %v", name, got.Rect, want.Rect)
		}
		var maxDiff int
		for i := range got.Pix {
			d := int(got.Pix[i]) - int(want.Pix[i])
			maxDiff = max(maxDiff, d, -d)
		}
		if maxDiff > 2 {
			t.Errorf("Decode(%s.jp2) differs from the reference rendering by up to %d levels", name, maxDiff)
		}
	}
	small := Limits{MaxBytes: 1 << 20, MaxPixels: 100, MaxSide: 100}
	j, _ := os.ReadFile(filepath.Join("jpeg2000", "testdata", "face_97.jp2"))
	if _, _, err := Decode(j, small); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode(jp2 over the pixel limit) = %v, want ErrTooLarge", err)
	}
}

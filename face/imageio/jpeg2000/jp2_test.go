package jpeg2000

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"testing"
)

func mkbox(typ string, payload ...[]byte) []byte {
	n := 8
	for _, p := range payload {
		n += len(p)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	b = append(b, typ...)
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// wrapJP2 puts codestream cs into a JP2 file with the given colour space
// and optional extra jp2h boxes.
func wrapJP2(cs []byte, w, h uint32, nc int, enumcs uint32, extra ...[]byte) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, h)
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint16(ihdr, uint16(nc))
	ihdr = append(ihdr, 7, 7, 0, 0)
	colr := binary.BigEndian.AppendUint32([]byte{1, 0, 0}, enumcs)
	hdr := append([][]byte{mkbox("ihdr", ihdr), mkbox("colr", colr)}, extra...)
	out := bytes.Clone(jp2Signature)
	out = append(out, mkbox("ftyp", []byte("jp2 \x00\x00\x00\x00jp2 "))...)
	out = append(out, mkbox("jp2h", hdr...)...)
	return append(out, mkbox("jp2c", cs)...)
}

func cdef(entries ...[3]uint16) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(len(entries)))
	for _, e := range entries {
		for _, v := range e {
			p = binary.BigEndian.AppendUint16(p, v)
		}
	}
	return mkbox("cdef", p)
}

func TestJP2ColourBoxes(t *testing.T) {
	cs := mustRead(t, "testdata/rgb_nomct.j2k")
	g := readGolden(t, "testdata/rgb_nomct.png")
	at := func(c, x, y int) uint32 { return uint32(g.planes[c][y*g.w+x]) }
	tests := []struct {
		name string
		in   []byte
		want func(x, y int) [3]uint32
	}{
		{"sRGB", wrapJP2(cs, 96, 80, 3, csSRGB), func(x, y int) [3]uint32 {
			return [3]uint32{at(0, x, y), at(1, x, y), at(2, x, y)}
		}},
		{"cdef reversed", wrapJP2(cs, 96, 80, 3, csSRGB, cdef([3]uint16{0, 0, 3}, [3]uint16{1, 0, 2}, [3]uint16{2, 0, 1})), func(x, y int) [3]uint32 {
			return [3]uint32{at(2, x, y), at(1, x, y), at(0, x, y)}
		}},
		{"sYCC", wrapJP2(cs, 96, 80, 3, csSYCC), func(x, y int) [3]uint32 {
			r, gg, b := syccToRGB(at(0, x, y), at(1, x, y), at(2, x, y), 8)
			return [3]uint32{r, gg, b}
		}},
	}
	for _, tt := range tests {
		img, err := Decode(bytes.NewReader(tt.in))
		if err != nil {
			t.Fatalf("Decode(%s) = %v", tt.name, err)
		}
		m := img.(*image.RGBA)
		for y := 0; y < 80; y++ {
			for x := 0; x < 96; x++ {
				p := m.RGBAAt(x, y)
				if got, want := [3]uint32{uint32(p.R), uint32(p.G), uint32(p.B)}, tt.want(x, y); got != want {
					t.Fatalf("Decode(%s) at (%d,%d) = %v, want %v", tt.name, x, y, got, want)
				}
			}
		}
	}
}

func TestSYCCToRGB(t *testing.T) {
	tests := []struct {
		y, cb, cr uint32
		want      [3]uint32
	}{
		{128, 128, 128, [3]uint32{128, 128, 128}},
		{0, 128, 128, [3]uint32{0, 0, 0}},
		{255, 128, 128, [3]uint32{255, 255, 255}},
		{76, 85, 255, [3]uint32{254, 0, 0}},  // red, to rounding
		{100, 0, 255, [3]uint32{255, 53, 0}}, // clamped
	}
	for _, tt := range tests {
		r, g, b := syccToRGB(tt.y, tt.cb, tt.cr, 8)
		if got := [3]uint32{r, g, b}; got != tt.want {
			t.Errorf("syccToRGB(%d, %d, %d) = %v, want %v", tt.y, tt.cb, tt.cr, got, tt.want)
		}
	}
}

func TestJP2HeaderErrors(t *testing.T) {
	cs := mustRead(t, "testdata/rgb_nomct.j2k")
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"size mismatch", wrapJP2(cs, 95, 80, 3, csSRGB), ErrFormat},
		{"component mismatch", wrapJP2(cs, 96, 80, 1, csGray), ErrFormat},
		{"JPX colour space", wrapJP2(cs, 96, 80, 3, 20), ErrUnsupported},
		{"cdef duplicate", wrapJP2(cs, 96, 80, 3, csSRGB, cdef([3]uint16{0, 0, 1}, [3]uint16{1, 0, 1}, [3]uint16{2, 0, 2})), ErrFormat},
		{"cdef short", wrapJP2(cs, 96, 80, 3, csSRGB, cdef([3]uint16{0, 0, 1}, [3]uint16{1, 0, 2})), ErrFormat},
		{"cdef channel", wrapJP2(cs, 96, 80, 3, csSRGB, cdef([3]uint16{0, 0, 1}, [3]uint16{1, 0, 2}, [3]uint16{7, 0, 3})), ErrFormat},
	}
	for _, tt := range tests {
		if _, err := Decode(bytes.NewReader(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("Decode(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestCdefWholeImage(t *testing.T) {
	// Grey + alpha as PNG converters write it: the grey channel associated
	// with the whole image (0), the alpha with it too.
	cs := mustRead(t, "testdata/conformance/p1_07.j2k") // 2 components
	in := wrapJP2(cs, 8, 12, 2, csGray, cdef([3]uint16{0, 0, 0}, [3]uint16{1, 1, 0}))
	img, err := Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("Decode(grey+alpha cdef) = %v", err)
	}
	if _, ok := img.(*image.NRGBA); !ok {
		t.Errorf("Decode(grey+alpha cdef) = %T, want *image.NRGBA", img)
	}
}

func pclr(entries int, cols ...func(int) uint16) []byte {
	p := binary.BigEndian.AppendUint16(nil, uint16(entries))
	p = append(p, byte(len(cols)))
	for range cols {
		p = append(p, 7) // 8 bits, unsigned
	}
	for e := 0; e < entries; e++ {
		for _, f := range cols {
			p = append(p, byte(f(e)))
		}
	}
	return mkbox("pclr", p)
}

func cmapBox(entries ...[3]int) []byte {
	var p []byte
	for _, e := range entries {
		p = binary.BigEndian.AppendUint16(p, uint16(e[0]))
		p = append(p, byte(e[1]), byte(e[2]))
	}
	return mkbox("cmap", p)
}

func TestPalette(t *testing.T) {
	cs := mustRead(t, "testdata/gray_53.j2k") // 67x45, one 8-bit component
	g := readGolden(t, "testdata/gray_53.png")
	red := func(v int) uint16 { return uint16(v) }
	green := func(v int) uint16 { return uint16(255 - v) }
	blue := func(v int) uint16 { return uint16(v / 2) }
	in := wrapJP2(cs, 67, 45, 1, csSRGB, pclr(256, red, green, blue), cmapBox([3]int{0, 1, 0}, [3]int{0, 1, 1}, [3]int{0, 1, 2}))
	cfg, err := DecodeConfig(bytes.NewReader(in))
	if err != nil || cfg.ColorModel != color.RGBAModel || cfg.Width != 67 {
		t.Fatalf("DecodeConfig(palette) = %+v, %v; want 67x45 RGBA", cfg, err)
	}
	img, err := Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatalf("Decode(palette) = %v", err)
	}
	m, ok := img.(*image.RGBA)
	if !ok {
		t.Fatalf("Decode(palette) = %T, want *image.RGBA", img)
	}
	for y := 0; y < 45; y++ {
		for x := 0; x < 67; x++ {
			v := int(g.planes[0][y*67+x])
			want := color.RGBA{uint8(red(v)), uint8(green(v)), uint8(blue(v)), 255}
			if got := m.RGBAAt(x, y); got != want {
				t.Fatalf("Decode(palette) at (%d,%d) = %v, want %v (index %d)", x, y, got, want, v)
			}
		}
	}
	// A palette shorter than the index range clamps to its last entry.
	short := wrapJP2(cs, 67, 45, 1, csSRGB, pclr(2, red), cmapBox([3]int{0, 1, 0}))
	img, err = Decode(bytes.NewReader(short))
	if err != nil {
		t.Fatalf("Decode(2-entry palette) = %v", err)
	}
	for i, v := range img.(*image.Gray).Pix {
		if want := min(g.planes[0][i], 1); uint16(v) != want {
			t.Fatalf("Decode(2-entry palette) pixel %d = %d, want %d", i, v, want)
		}
	}

	bad := []struct {
		name string
		in   []byte
		want error
	}{
		{"pclr without cmap", wrapJP2(cs, 67, 45, 1, csSRGB, pclr(4, red)), ErrFormat},
		{"cmap component", wrapJP2(cs, 67, 45, 1, csSRGB, pclr(4, red), cmapBox([3]int{1, 1, 0})), ErrFormat},
		{"cmap column", wrapJP2(cs, 67, 45, 1, csSRGB, pclr(4, red), cmapBox([3]int{0, 1, 3})), ErrFormat},
		{"cmap type", wrapJP2(cs, 67, 45, 1, csSRGB, pclr(4, red), cmapBox([3]int{0, 2, 0})), ErrFormat},
		{"17-bit palette", wrapJP2(cs, 67, 45, 1, csSRGB, mkbox("pclr", []byte{0, 1, 1, 16, 0, 0, 0}), cmapBox([3]int{0, 1, 0})), ErrUnsupported},
	}
	for _, tt := range bad {
		if _, err := Decode(bytes.NewReader(tt.in)); !errors.Is(err, tt.want) {
			t.Errorf("Decode(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

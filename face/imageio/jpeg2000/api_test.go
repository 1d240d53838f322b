package jpeg2000

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"testing"
)

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeOutput(t *testing.T) {
	tests := []struct {
		file   string
		golden string
		model  color.Model
		w, h   int
	}{
		{"gray_53.j2k", "gray_53.png", color.GrayModel, 67, 45},
		{"gray_53.jp2", "gray_53.png", color.GrayModel, 67, 45},
		{"rgb_53.jp2", "rgb_53.png", color.RGBAModel, 96, 80},
		{"face_53.jp2", "face_53.png", color.RGBAModel, 160, 200},
		{"gray12_53.j2k", "gray12_53.pgm", color.Gray16Model, 50, 40},
		{"gray_sub.j2k", "gray_sub.png", color.GrayModel, 133, 89}, // 2x2 subsampled, upsampled
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := mustRead(t, "testdata/"+tt.file)
			cfg, err := DecodeConfig(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("DecodeConfig(%s) = %v", tt.file, err)
			}
			if cfg.ColorModel != tt.model || cfg.Width != tt.w || cfg.Height != tt.h {
				t.Errorf("DecodeConfig(%s) = %dx%d %v, want %dx%d %v", tt.file, cfg.Width, cfg.Height, cfg.ColorModel, tt.w, tt.h, tt.model)
			}
			img, err := Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Decode(%s) = %v", tt.file, err)
			}
			if got := img.Bounds(); got != image.Rect(0, 0, tt.w, tt.h) {
				t.Fatalf("Decode(%s).Bounds() = %v, want %dx%d", tt.file, got, tt.w, tt.h)
			}
			if img.ColorModel() != tt.model {
				t.Errorf("Decode(%s).ColorModel() = %v, want %v", tt.file, img.ColorModel(), tt.model)
			}
			g := readGolden(t, "testdata/"+tt.golden)
			// Golden planes may be subsampled: sample (x*g.w/w, y*g.h/h).
			for y := 0; y < tt.h; y++ {
				for x := 0; x < tt.w; x++ {
					sx, sy := (tt.w+g.w-1)/g.w, (tt.h+g.h-1)/g.h
					gx, gy := x/sx, y/sy
					i := gy*g.w + gx
					var want [3]uint32
					for c := range g.planes {
						want[c] = uint32(g.planes[c][i])
					}
					var got [3]uint32
					switch m := img.(type) {
					case *image.Gray:
						got[0] = uint32(m.GrayAt(x, y).Y)
					case *image.Gray16:
						got[0] = uint32(m.Gray16At(x, y).Y)
						want[0] = (want[0]*65535 + 4095/2) / 4095
					case *image.RGBA:
						p := m.RGBAAt(x, y)
						got = [3]uint32{uint32(p.R), uint32(p.G), uint32(p.B)}
						if p.A != 0xFF {
							t.Fatalf("Decode(%s) alpha at (%d,%d) = %d, want 255", tt.file, x, y, p.A)
						}
					default:
						t.Fatalf("Decode(%s) = %T", tt.file, img)
					}
					if len(g.planes) == 1 {
						got[1], got[2], want[1], want[2] = 0, 0, 0, 0
					}
					if got != want {
						t.Fatalf("Decode(%s) at (%d,%d) = %v, want %v", tt.file, x, y, got, want)
					}
				}
			}
		})
	}
}

// cs builds a minimal codestream: one tile, no decomposition, one layer,
// 64x64 code-blocks, no quantization, every packet empty.
type csOpts struct {
	w, h, tw, th uint32
	x0, y0       uint32 // image offset (w, h are then the far edge minus it)
	levels       int
	nc           int
	prec         int // bits
	signed       bool
	extraMain    []byte // marker segments added to the main header
	skipEOC      bool
}

func seg(m uint16, payload ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, m)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)+2))
	return append(b, payload...)
}

func buildCS(o csOpts) []byte {
	if o.tw == 0 {
		o.tw, o.th = o.w, o.h
	}
	b := []byte{0xFF, 0x4F}
	var siz []byte
	siz = binary.BigEndian.AppendUint16(siz, 0)
	for _, v := range []uint32{o.x0 + o.w, o.y0 + o.h, o.x0, o.y0, o.tw, o.th, o.x0, o.y0} {
		siz = binary.BigEndian.AppendUint32(siz, v)
	}
	siz = binary.BigEndian.AppendUint16(siz, uint16(o.nc))
	for i := 0; i < o.nc; i++ {
		s := byte(o.prec - 1)
		if o.signed {
			s |= 0x80
		}
		siz = append(siz, s, 1, 1)
	}
	b = append(b, seg(mSIZ, siz...)...)
	b = append(b, seg(mCOD, 0, 0, 0, 1, 0, byte(o.levels), 4, 4, 0, 1)...)
	qcd := []byte{0x40}
	for i := 0; i < 3*o.levels+1; i++ {
		qcd = append(qcd, byte((o.prec+2)<<3))
	}
	b = append(b, seg(mQCD, qcd...)...)
	b = append(b, o.extraMain...)
	ntx := (o.w + o.tw - 1) / o.tw
	nty := (o.h + o.th - 1) / o.th
	for t := uint32(0); t < ntx*nty; t++ {
		body := make([]byte, o.nc*(o.levels+1)) // one empty packet per component and resolution
		sot := binary.BigEndian.AppendUint16(nil, uint16(t))
		sot = binary.BigEndian.AppendUint32(sot, uint32(12+2+len(body)))
		sot = append(sot, 0, 1)
		b = append(b, seg(mSOT, sot...)...)
		b = append(b, 0xFF, 0x93)
		b = append(b, body...)
	}
	if !o.skipEOC {
		b = append(b, 0xFF, 0xD9)
	}
	return b
}

// TestEmptyPackets is a known answer built by hand: with every packet
// empty all coefficients are zero, so each sample is the DC level shift.
func TestEmptyPackets(t *testing.T) {
	tests := []struct {
		o    csOpts
		want uint32 // 16-bit grey everywhere
	}{
		{csOpts{w: 5, h: 3, nc: 1, prec: 8}, 0x8080},
		{csOpts{w: 70, h: 9, tw: 32, th: 4, nc: 1, prec: 8}, 0x8080},
		{csOpts{w: 4, h: 4, nc: 1, prec: 12}, 0x8008}, // 2048 scaled to 16 bits
		{csOpts{w: 4, h: 4, nc: 1, prec: 8, signed: true}, 0x8080},
		{csOpts{w: 4, h: 4, nc: 3, prec: 8}, 0x8080},
		// Offsets near the top of the reference grid, many levels.
		{csOpts{w: 7, h: 5, x0: 1<<32 - 8, y0: 1<<32 - 6, nc: 1, prec: 8, levels: 5}, 0x8080},
		{csOpts{w: 3, h: 2, x0: 1<<31 + 1, y0: 3, nc: 1, prec: 8, levels: 32}, 0x8080},
		{csOpts{w: 1, h: 1, x0: 1, y0: 1, nc: 1, prec: 16, levels: 32}, 0x8000},
		{csOpts{w: 40, h: 3, tw: 7, th: 2, x0: 5, y0: 1, nc: 3, prec: 8, levels: 3}, 0x8080},
	}
	for _, tt := range tests {
		b := buildCS(tt.o)
		img, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("Decode(%+v) = %v, want success", tt.o, err)
		}
		if got := img.Bounds(); got.Dx() != int(tt.o.w) || got.Dy() != int(tt.o.h) {
			t.Fatalf("Decode(%+v).Bounds() = %v", tt.o, got)
		}
		for y := 0; y < int(tt.o.h); y++ {
			for x := 0; x < int(tt.o.w); x++ {
				r, g, bl, a := img.At(x, y).RGBA()
				if r != tt.want || g != tt.want || bl != tt.want || a != 0xFFFF {
					t.Fatalf("Decode(%+v).At(%d,%d) = %04x %04x %04x %04x, want %04x", tt.o, x, y, r, g, bl, a, tt.want)
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	gray := mustRead(t, "testdata/gray_53.j2k")
	jp2 := mustRead(t, "testdata/gray_53.jp2")
	valid := buildCS(csOpts{w: 8, h: 8, nc: 1, prec: 8})
	withSIZ := func(mut func(siz []byte)) []byte {
		b := bytes.Clone(valid)
		mut(b[6:]) // after SOC, marker and length: Rsiz...
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"text", []byte("GIF89a not a jpeg 2000 file"), ErrFormat},
		{"jp2 signature cut", jp2[:7], ErrTruncated},
		{"jp2 no codestream", jp2[:40], ErrTruncated},
		{"codestream half", gray[:len(gray)/2], ErrTruncated},
		{"SOC only", []byte{0xFF, 0x4F}, ErrTruncated},
		{"SOC then COD", append([]byte{0xFF, 0x4F}, seg(mCOD, 0, 0, 0, 1, 0, 0, 4, 4, 0, 1)...), ErrFormat},
		{"five components", buildCS(csOpts{w: 8, h: 8, nc: 5, prec: 8}), ErrUnsupported},
		{"17-bit samples", buildCS(csOpts{w: 8, h: 8, nc: 1, prec: 17}), ErrUnsupported},
		{"50000x50000", buildCS(csOpts{w: 50000, h: 50000, tw: 1024, th: 1024, nc: 1, prec: 8}), ErrTooLarge},
		{"one-pixel tiles", buildCS(csOpts{w: 100, h: 100, tw: 1, th: 1, nc: 1, prec: 8}), ErrTooLarge},
		{"PPM too short", buildCS(csOpts{w: 8, h: 8, nc: 1, prec: 8, extraMain: seg(mPPM, 0, 0, 0, 0, 9, 0)}), ErrTruncated},
		{"PPM index gap", buildCS(csOpts{w: 8, h: 8, nc: 1, prec: 8, extraMain: seg(mPPM, 1, 0, 0, 0, 1, 0)}), ErrFormat},
		{"last packet cut", gray[:len(gray)-3], ErrTruncated},
		{"stray byte after the last tile-part", append(bytes.Clone(gray[:len(gray)-2]), 0xFF), ErrTruncated},
		{"Part 2 capabilities", withSIZ(func(s []byte) { s[0] = 0x80 }), ErrUnsupported},
		{"zero width", withSIZ(func(s []byte) { copy(s[2:6], []byte{0, 0, 0, 0}) }), ErrFormat},
		{"zero subsampling", withSIZ(func(s []byte) { s[38] = 0 }), ErrFormat},
		{"tile index", func() []byte {
			b := bytes.Clone(valid)
			i := bytes.Index(b, []byte{0xFF, 0x90})
			b[i+5] = 9
			return b
		}(), ErrFormat},
		{"bad box length", func() []byte {
			b := bytes.Clone(jp2)
			binary.BigEndian.PutUint32(b[12:], 3)
			return b
		}(), ErrFormat},
		{"empty palette", func() []byte {
			// Rebuild a JP2 whose header has an empty pclr box.
			var out []byte
			out = append(out, jp2Signature...)
			out = append(out, 0, 0, 0, 20, 'f', 't', 'y', 'p', 'j', 'p', '2', ' ', 0, 0, 0, 0, 'j', 'p', '2', ' ')
			ihdr := []byte{0, 0, 0, 22, 'i', 'h', 'd', 'r', 0, 0, 0, 8, 0, 0, 0, 8, 0, 1, 7, 7, 0, 0}
			pclr := []byte{0, 0, 0, 8, 'p', 'c', 'l', 'r'}
			jp2h := append([]byte{0, 0, 0, byte(8 + len(ihdr) + len(pclr)), 'j', 'p', '2', 'h'}, ihdr...)
			jp2h = append(jp2h, pclr...)
			out = append(out, jp2h...)
			out = binary.BigEndian.AppendUint32(out, uint32(8+len(valid)))
			out = append(out, "jp2c"...)
			return append(out, valid...)
		}(), ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(bytes.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Errorf("Decode(%s) = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	b := mustRead(t, "testdata/rgb_prec_LRCP.j2k")
	tests := []struct {
		name string
		l    Limits
		want error
	}{
		{"defaults", Limits{}, nil},
		{"bytes", Limits{MaxBytes: int64(len(b)) - 1}, ErrTooLarge},
		{"bytes exact", Limits{MaxBytes: int64(len(b))}, nil},
		{"pixels", Limits{MaxPixels: 96*80 - 1}, ErrTooLarge},
		{"code-blocks", Limits{MaxCodeBlocks: 100}, ErrTooLarge},
	}
	for _, tt := range tests {
		_, err := tt.l.Decode(bytes.NewReader(b))
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("Limits{%s}.Decode() = %v, want %v", tt.name, err, tt.want)
		}
	}
	tiles := mustRead(t, "testdata/rgb_tiles.j2k") // 3x3 tiles
	if _, err := (Limits{MaxTiles: 8}).DecodeConfig(bytes.NewReader(tiles)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Limits{MaxTiles: 8}.DecodeConfig(9 tiles) = %v, want %v", err, ErrTooLarge)
	}
}

func isSentinel(err error) bool {
	return errors.Is(err, ErrFormat) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrTruncated)
}

// TestTruncated cuts every test file at many lengths: each prefix must be
// refused with a sentinel error, never decoded or panicking.
func TestTruncated(t *testing.T) {
	for _, f := range testFiles(t) {
		b := mustRead(t, f)
		step := 1 + len(b)/150
		if testing.Short() {
			step = 1 + len(b)/20
		}
		for n := 0; n < len(b)-1; n += step {
			_, err := Decode(bytes.NewReader(b[:n]))
			if err == nil && n == len(b)-2 && bytes.HasPrefix(b, []byte{0xFF, 0x4F}) {
				continue // only EOC is missing: tolerated, see TestMissingEOC
			}
			if err == nil || !isSentinel(err) {
				t.Fatalf("Decode(%s[:%d]) = %v, want a sentinel error", f, n, err)
			}
		}
	}
}

// TestMissingEOC: a codestream complete but for its EOC marker, as some
// writers produce, decodes to the same image.
func TestMissingEOC(t *testing.T) {
	for _, f := range []string{"testdata/gray_53.j2k", "testdata/rgb_tiles.j2k", "testdata/gray_97.j2k"} {
		b := mustRead(t, f)
		want, err := Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(bytes.NewReader(b[:len(b)-2]))
		if err != nil {
			t.Fatalf("Decode(%s without EOC) = %v, want success", f, err)
		}
		if !bytes.Equal(pixels(got), pixels(want)) {
			t.Errorf("Decode(%s without EOC) differs from Decode(%s)", f, f)
		}
	}
	o := csOpts{w: 8, h: 8, nc: 1, prec: 8, skipEOC: true}
	if _, err := Decode(bytes.NewReader(buildCS(o))); err != nil {
		t.Errorf("Decode(%+v) = %v, want success", o, err)
	}
}

func pixels(m image.Image) []byte {
	switch m := m.(type) {
	case *image.Gray:
		return m.Pix
	case *image.RGBA:
		return m.Pix
	}
	return nil
}

// TestCorrupted flips random bytes: the result is an image or a sentinel
// error, never a panic. The pixel limit keeps a corrupted size field from
// making the test slow; it is checked like any other limit.
func TestCorrupted(t *testing.T) {
	lim := Limits{MaxPixels: 1 << 18}
	rng := rand.New(rand.NewPCG(7, 9))
	rounds := 15
	if testing.Short() {
		rounds = 3
	}
	for _, f := range testFiles(t) {
		orig := mustRead(t, f)
		for r := 0; r < rounds; r++ {
			b := bytes.Clone(orig)
			for k := 0; k < 1+rng.IntN(4); k++ {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			if _, err := lim.Decode(bytes.NewReader(b)); err != nil && !isSentinel(err) {
				t.Fatalf("Decode(corrupted %s) = %v, want a sentinel error", f, err)
			}
		}
	}
}

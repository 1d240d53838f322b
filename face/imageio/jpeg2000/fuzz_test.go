package jpeg2000

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that no input panics, that every error wraps a
// sentinel, and that a decoded image agrees with DecodeConfig.
func FuzzDecode(f *testing.F) {
	conf, err := filepath.Glob("testdata/conformance/*.j2[kc]")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range append(testFiles(f), conf...) {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) <= 8<<10 {
			f.Add(b)
		}
	}
	f.Add(buildCS(csOpts{w: 5, h: 3, nc: 1, prec: 8}))
	f.Add(buildCS(csOpts{w: 70, h: 9, tw: 32, th: 4, nc: 3, prec: 12}))
	small := buildCS(csOpts{w: 5, h: 3, nc: 1, prec: 8})
	f.Add(wrapJP2(small, 5, 3, 1, csSRGB,
		pclr(3, func(v int) uint16 { return uint16(v * 9) }, func(v int) uint16 { return uint16(v) }),
		cmapBox([3]int{0, 1, 0}, [3]int{0, 1, 1}),
		cdef([3]uint16{0, 0, 0}, [3]uint16{1, 1, 0})))
	f.Add(wrapJP2(buildCS(csOpts{w: 4, h: 4, nc: 3, prec: 8}), 4, 4, 3, csSYCC))
	f.Add([]byte{})
	f.Add(jp2Signature)
	lim := Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 16, MaxTiles: 64, MaxCodeBlocks: 1 << 12}
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, cerr := lim.DecodeConfig(bytes.NewReader(b))
		if cerr != nil && !isSentinel(cerr) {
			t.Fatalf("DecodeConfig() = %v, want a sentinel error", cerr)
		}
		img, err := lim.Decode(bytes.NewReader(b))
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Decode() = %v, want a sentinel error", err)
			}
			return
		}
		if cerr != nil {
			t.Fatalf("Decode() succeeded but DecodeConfig() = %v", cerr)
		}
		if r := img.Bounds(); r.Dx() != cfg.Width || r.Dy() != cfg.Height || img.ColorModel() != cfg.ColorModel {
			t.Fatalf("Decode() = %v %v, DecodeConfig() = %dx%d %v", r, img.ColorModel(), cfg.Width, cfg.Height, cfg.ColorModel)
		}
	})
}

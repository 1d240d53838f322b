package jpeg2000

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readPGX reads a PGX reference component ("PG ML +|- depth w h\n" and
// big-endian samples) and returns it offset to unsigned, as the decoder's
// planes store it.
func readPGX(b []byte) (w, h int, samples []uint16, err error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return 0, 0, nil, errors.New("PGX header")
	}
	var endian, sign string
	var depth int
	if _, err := fmt.Sscanf(string(b[:nl]), "PG %s %s %d %d %d", &endian, &sign, &depth, &w, &h); err != nil {
		return 0, 0, nil, fmt.Errorf("PGX header %q: %w", b[:nl], err)
	}
	if endian != "ML" {
		return 0, 0, nil, fmt.Errorf("PGX byte order %q", endian)
	}
	data := b[nl+1:]
	bps := 1
	if depth > 8 {
		bps = 2
	}
	if len(data) != w*h*bps {
		return 0, 0, nil, fmt.Errorf("PGX: %d bytes, want %d", len(data), w*h*bps)
	}
	samples = make([]uint16, w*h)
	for i := range samples {
		var v int
		if bps == 2 {
			v = int(data[2*i])<<8 | int(data[2*i+1])
			if sign == "-" {
				v = int(int16(v))
			}
		} else {
			v = int(data[i])
			if sign == "-" {
				v = int(int8(v))
			}
		}
		if sign == "-" {
			v += 1 << (depth - 1)
		}
		samples[i] = uint16(v)
	}
	return w, h, samples, nil
}

func gunzip(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pgx renders component c as OpenJPEG writes it to a PGX file.
func (d *decoder) pgx(c int) []byte {
	cs := d.siz.comps[c]
	sign := '+'
	if cs.signed {
		sign = '-'
	}
	b := fmt.Appendf(nil, "PG ML %c %d %d %d\n", sign, cs.prec, d.pw[c], d.ph[c])
	for _, v := range d.planes[c] {
		s := int(v)
		if cs.signed {
			s -= 1 << (cs.prec - 1)
		}
		if cs.prec > 8 {
			b = append(b, byte(s>>8), byte(s))
		} else {
			b = append(b, byte(s))
		}
	}
	return b
}

// TestConformance decodes codestreams of the ISO/IEC 15444-4 conformance
// suite (testdata/conformance, see its README) and compares each component
// with OpenJPEG's decode: exactly for reversible streams, within ±1 for
// irreversible ones. Streams using features this decoder refuses must fail
// with ErrUnsupported.
func TestConformance(t *testing.T) {
	files, err := filepath.Glob("testdata/conformance/*.j2[kc]")
	if err != nil || len(files) == 0 {
		t.Fatalf("no conformance files: %v", err)
	}
	unsupportedFiles := map[string]bool{
		"p0_13.j2k": true, // 257 components
	}
	sums := map[string]string{}
	for _, line := range strings.Split(string(mustRead(t, "testdata/conformance/SHA256SUMS")), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			sums[f[1]] = f[0]
		}
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b := mustRead(t, f)
			d, err := decodePlanes(b)
			if unsupportedFiles[name] {
				if !errors.Is(err, ErrUnsupported) {
					t.Fatalf("decode(%s) = %v, want %v", name, err, ErrUnsupported)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode(%s) = %v, want success", name, err)
			}
			base := strings.TrimSuffix(name, filepath.Ext(name))
			for c := range d.planes {
				pgx := fmt.Sprintf("%s_%d.pgx", base, c)
				if want, ok := sums[pgx]; ok {
					if d.irrev[c] {
						t.Fatalf("%s: component %d is irreversible but has an exact reference", name, c)
					}
					if got := sha256.Sum256(d.pgx(c)); hex.EncodeToString(got[:]) != want {
						t.Errorf("decode(%s) component %d: SHA-256 of PGX = %x, want %s", name, c, got, want)
					}
					continue
				}
				w, h, want, err := readPGX(gunzip(t, "testdata/conformance/"+pgx+".gz"))
				if err != nil {
					t.Fatal(err)
				}
				if w != d.pw[c] || h != d.ph[c] {
					t.Fatalf("decode(%s) component %d is %dx%d, want %dx%d", name, c, d.pw[c], d.ph[c], w, h)
				}
				bad, worst := 0, 0
				for i := range want {
					diff := int(d.planes[c][i]) - int(want[i])
					diff = max(diff, -diff)
					if diff > 1 {
						bad++
					}
					worst = max(worst, diff)
				}
				if bad > 0 {
					t.Errorf("decode(%s) component %d: %d of %d samples differ by more than 1 (max %d)", name, c, bad, len(want), worst)
				}
			}
		})
	}
}

// TestConformanceImages checks the image types Decode builds for unusual
// component layouts, and the scaling of samples to 8 or 16 bits.
func TestConformanceImages(t *testing.T) {
	tests := []struct {
		file  string
		typ   string
		w, h  int
		check func(t *testing.T, img image.Image, d *decoder)
	}{
		// 4-bit grey: v*255/15.
		{"p0_03.j2k", "*image.Gray", 256, 256, func(t *testing.T, img image.Image, d *decoder) {
			m := img.(*image.Gray)
			for i, v := range d.planes[0] {
				if got, want := m.Pix[i], uint8((uint32(v)*255+7)/15); got != want {
					t.Fatalf("pixel %d = %d, want %d", i, got, want)
				}
			}
		}},
		// Four 12-bit components, three subsampled, as RGB + alpha.
		{"p0_06.j2k", "*image.NRGBA64", 513, 129, func(t *testing.T, img image.Image, d *decoder) {
			m := img.(*image.NRGBA64)
			c := m.NRGBA64At(5, 7) // component 1 is 2x1, 2 is 1x2, 3 is 2x2 subsampled
			want := [4]uint16{
				scale16(d.planes[0][7*d.pw[0]+5], 12), scale16(d.planes[1][7*d.pw[1]+2], 12),
				scale16(d.planes[2][3*d.pw[2]+5], 12), scale16(d.planes[3][3*d.pw[3]+2], 12),
			}
			if got := [4]uint16{c.R, c.G, c.B, c.A}; got != want {
				t.Fatalf("At(5,7) = %v, want %v", got, want)
			}
		}},
		// Grey + alpha, the alpha 4x1 subsampled.
		{"p1_07.j2k", "*image.NRGBA", 8, 12, nil},
		// Three components, each 4x4 subsampled, upsampled to the image.
		{"p0_10.j2k", "*image.RGBA", 256, 256, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b := mustRead(t, "testdata/conformance/"+tt.file)
			img, err := Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("Decode(%s) = %v", tt.file, err)
			}
			if got := fmt.Sprintf("%T", img); got != tt.typ || img.Bounds() != image.Rect(0, 0, tt.w, tt.h) {
				t.Fatalf("Decode(%s) = %s %v, want %s %dx%d", tt.file, got, img.Bounds(), tt.typ, tt.w, tt.h)
			}
			if tt.check != nil {
				d, err := decodePlanes(b)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, img, d)
			}
		})
	}
}

func scale16(v uint16, prec int) uint16 {
	maxIn := uint32(1)<<prec - 1
	return uint16((uint32(v)*65535 + maxIn/2) / maxIn)
}

package jpeg2000

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// golden is a reference decode: per-component sample planes.
type golden struct {
	w, h   int
	planes [][]uint16
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".pgm") {
		return readPNM(t, b)
	}
	m, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("golden %s: %v", path, err)
	}
	r := m.Bounds()
	g := golden{w: r.Dx(), h: r.Dy()}
	switch m := m.(type) {
	case *image.Gray:
		p := make([]uint16, g.w*g.h)
		for i := range p {
			p[i] = uint16(m.Pix[(i/g.w)*m.Stride+i%g.w])
		}
		g.planes = [][]uint16{p}
	case *image.RGBA, *image.NRGBA:
		var pix []byte
		var stride int
		if rgba, ok := m.(*image.RGBA); ok {
			pix, stride = rgba.Pix, rgba.Stride
		} else {
			n := m.(*image.NRGBA)
			pix, stride = n.Pix, n.Stride
		}
		g.planes = make([][]uint16, 3)
		for c := range g.planes {
			p := make([]uint16, g.w*g.h)
			for i := range p {
				p[i] = uint16(pix[(i/g.w)*stride+4*(i%g.w)+c])
			}
			g.planes[c] = p
		}
	default:
		t.Fatalf("golden %s: unexpected %T", path, m)
	}
	return g
}

func readPNM(t *testing.T, b []byte) golden {
	t.Helper()
	// Header fields separated by whitespace, with # comments.
	var fields []int
	var magic string
	i := 0
	for len(fields) < 3 && i < len(b) {
		switch c := b[i]; {
		case c == '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\n' || c == '\r' || c == '\t':
			i++
		default:
			j := i
			for j < len(b) && b[j] > ' ' {
				j++
			}
			tok := string(b[i:j])
			i = j
			if magic == "" {
				magic = tok
				continue
			}
			var v int
			if _, err := fmt.Sscan(tok, &v); err != nil {
				t.Fatalf("PGM header field %q: %v", tok, err)
			}
			fields = append(fields, v)
		}
	}
	if magic != "P5" || len(fields) != 3 {
		t.Fatalf("PGM header: magic %q, fields %v", magic, fields)
	}
	w, h, maxv := fields[0], fields[1], fields[2]
	i++ // the single whitespace after maxval
	bps := 1
	if maxv > 255 {
		bps = 2
	}
	if len(b)-i != w*h*bps {
		t.Fatalf("PGM: %d data bytes, want %d", len(b)-i, w*h*bps)
	}
	p := make([]uint16, w*h)
	for k := range p {
		if bps == 2 {
			p[k] = uint16(b[i+2*k])<<8 | uint16(b[i+2*k+1])
		} else {
			p[k] = uint16(b[i+k])
		}
	}
	return golden{w: w, h: h, planes: [][]uint16{p}}
}

// decodePlanes runs the decoder and returns its component planes.
func decodePlanes(b []byte) (*decoder, error) {
	l := Limits{}.withDefaults()
	cs, info, err := unwrap(b)
	if err != nil {
		return nil, err
	}
	d := &decoder{lim: l, data: cs}
	if err := d.readMainHeader(); err != nil {
		return nil, err
	}
	if err := info.check(&d.siz); err != nil {
		return nil, err
	}
	if err := d.readTiles(); err != nil {
		return nil, err
	}
	return d, nil
}

func testFiles(t testing.TB) []string {
	var out []string
	for _, pat := range []string{"testdata/*.j2k", "testdata/*.jp2"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		t.Fatal("no test files")
	}
	return out
}

// TestGolden decodes every committed file and compares each sample with
// opj_decompress's output: exact for reversible (5/3) streams, within ±1
// for irreversible (9/7) ones.
func TestGolden(t *testing.T) {
	for _, f := range testFiles(t) {
		base := strings.TrimSuffix(f, filepath.Ext(f))
		gpath := base + ".png"
		if _, err := os.Stat(gpath); err != nil {
			gpath = base + ".pgm"
			if _, err := os.Stat(gpath); err != nil {
				continue // benchmark-only file
			}
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			g := readGolden(t, gpath)
			d, err := decodePlanes(b)
			if err != nil {
				t.Fatalf("decode(%s) = %v, want success", f, err)
			}
			if len(d.planes) != len(g.planes) {
				t.Fatalf("decode(%s): %d components, want %d", f, len(d.planes), len(g.planes))
			}
			for c := range g.planes {
				tol := 0
				if d.irrev[c] {
					tol = 1
				}
				if d.pw[c] != g.w || d.ph[c] != g.h {
					t.Fatalf("decode(%s) component %d is %dx%d, want %dx%d", f, c, d.pw[c], d.ph[c], g.w, g.h)
				}
				bad, worst, first := 0, 0, -1
				for i, want := range g.planes[c] {
					diff := int(d.planes[c][i]) - int(want)
					if diff < 0 {
						diff = -diff
					}
					if diff > tol {
						bad++
						if first < 0 {
							first = i
						}
					}
					worst = max(worst, diff)
				}
				if bad > 0 {
					t.Errorf("decode(%s) component %d: %d samples differ by more than %d (max %d; first at x=%d y=%d: got %d, want %d)",
						f, c, bad, tol, worst, first%g.w, first/g.w, d.planes[c][first], g.planes[c][first])
				}
			}
		})
	}
}

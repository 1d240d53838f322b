package devissuer

// A small JPEG 2000 Part 1 encoder for development chip photos: 8-bit
// grayscale or RGB, one tile, no wavelet decomposition (zero levels),
// 64×64 code-blocks, one quality layer, the default code-block style.
// Either lossless (the reversible path: no quantization, RCT for colour) or
// quantized with a step of 2^s (the irreversible path: scalar expounded
// quantization, ICT for colour); every remaining bit-plane is coded. It
// writes a raw codestream (SOC … EOC), which is what the Japanese cards'
// verifiers accept and what JPEG 2000 decoders read. Its only users are the
// development issuers: real chips are written by their issuers' equipment.

import (
	"errors"
	"image"
	"image/color"
	"math"
)

// Codestream parameters.
const (
	j2kGuardBits = 2
	j2kPrecision = 8
	j2kCB        = 64 // code-block size
	maxJ2KSide   = 4096
	maxJ2KShift  = 7
)

// j2kOptions choose the encoding.
type j2kOptions struct {
	// Color codes three components (R, G, B through a colour transform);
	// otherwise one grayscale component.
	Color bool
	// Shift is the quantization: 0 codes every bit (lossless: the
	// reversible path, RCT for colour); s > 0 quantizes each sample with
	// step 2^s (the irreversible path, ICT for colour), losing up to half
	// a step.
	Shift int
}

// encodeJ2K writes img as a JPEG 2000 codestream.
func encodeJ2K(img image.Image, o j2kOptions) ([]byte, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w < 1 || h < 1 || w > maxJ2KSide || h > maxJ2KSide {
		return nil, errors.New("devissuer: JPEG 2000 image size out of range")
	}
	if o.Shift < 0 || o.Shift > maxJ2KShift {
		return nil, errors.New("devissuer: JPEG 2000 quantization out of range")
	}
	planes := componentPlanes(img, o)
	// Bit-planes of the (only) LL band (E.1.1): Mb = G + ε − 1, where the
	// exponent ε is the precision for lossless coding and precision − s
	// for a step of 2^s (R_b = precision, μ = 0: Δ = 2^(R_b − ε)).
	eps := j2kPrecision - o.Shift
	mb := j2kGuardBits + eps - 1
	nx, ny := (w+j2kCB-1)/j2kCB, (h+j2kCB-1)/j2kCB
	var packets []byte
	for _, coef := range planes { // LRCP, one layer, one resolution: one packet per component
		blocks := make([]codeBlock, nx*ny)
		for by := range ny {
			for bx := range nx {
				x0, y0 := bx*j2kCB, by*j2kCB
				x1, y1 := min(x0+j2kCB, w), min(y0+j2kCB, h)
				cw, ch := x1-x0, y1-y0
				data := make([]int32, cw*ch)
				for y := range ch {
					copy(data[y*cw:(y+1)*cw], coef[(y0+y)*w+x0:(y0+y)*w+x1])
				}
				blocks[by*nx+bx] = encodeBlock(data, cw, ch)
			}
		}
		packets = append(packets, encodePacket(blocks, nx, ny, mb)...)
	}

	nc := len(planes)
	var cs []byte
	be16 := func(v int) { cs = append(cs, byte(v>>8), byte(v)) }
	be32 := func(v int) { cs = append(cs, byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }
	cs = append(cs, 0xFF, 0x4F) // SOC
	cs = append(cs, 0xFF, 0x51) // SIZ
	be16(38 + 3*nc)             // Lsiz
	be16(0)                     // Rsiz: Part 1, no profile restriction
	be32(w)                     // Xsiz
	be32(h)                     // Ysiz
	be32(0)                     // XOsiz
	be32(0)                     // YOsiz
	be32(w)                     // XTsiz
	be32(h)                     // YTsiz
	be32(0)                     // XTOsiz
	be32(0)                     // YTOsiz
	be16(nc)                    // Csiz
	for range nc {
		cs = append(cs, j2kPrecision-1, 1, 1) // Ssiz (unsigned 8 bits), XRsiz, YRsiz
	}
	mct, filter := byte(0), byte(1) // 5/3 reversible
	if nc == 3 {
		mct = 1 // RCT with 5/3, ICT with 9/7
	}
	if o.Shift > 0 {
		filter = 0 // 9/7 irreversible (with no decomposition level, only the quantization and the ICT apply)
	}
	cs = append(cs, 0xFF, 0x52)             // COD
	be16(12)                                // Lcod
	cs = append(cs, 0)                      // Scod: default precincts, no SOP/EPH
	cs = append(cs, 0)                      // progression: LRCP
	be16(1)                                 // layers
	cs = append(cs, mct)                    // multiple component transform
	cs = append(cs, 0, 6-2, 6-2, 0, filter) // levels, code-block 2^6 × 2^6, style, filter
	cs = append(cs, 0xFF, 0x5C)             // QCD
	if o.Shift == 0 {
		be16(4)                          // Lqcd
		cs = append(cs, j2kGuardBits<<5) // Sqcd: no quantization (style bits 0)
		cs = append(cs, byte(eps)<<3)    // SPqcd: exponent of the LL band
	} else {
		be16(5)                            // Lqcd
		cs = append(cs, j2kGuardBits<<5|2) // Sqcd: scalar expounded
		be16(eps << 11)                    // SPqcd: exponent ε, mantissa 0
	}
	psot := 12 + 2 + len(packets) // SOT marker segment + SOD + data
	cs = append(cs, 0xFF, 0x90)   // SOT
	be16(10)                      // Lsot
	be16(0)                       // Isot
	be32(psot)                    // Psot
	cs = append(cs, 0, 1)         // TPsot, TNsot
	cs = append(cs, 0xFF, 0x93)   // SOD
	cs = append(cs, packets...)
	cs = append(cs, 0xFF, 0xD9) // EOC
	return cs, nil
}

// componentPlanes returns the coefficients of each component: samples
// DC-level shifted (G.1.2), colour-transformed (G.2, G.3) and quantized
// (E.1.1: q = sign(v)·⌊|v|/Δ⌋).
func componentPlanes(img image.Image, o j2kOptions) [][]int32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	const half = 1 << (j2kPrecision - 1)
	step := float64(int(1) << o.Shift)
	quant := func(v float64) int32 {
		q := int32(math.Abs(v) / step)
		if v < 0 {
			return -q
		}
		return q
	}
	if !o.Color {
		g := make([]int32, w*h)
		for y := range h {
			for x := range w {
				c := color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray)
				g[y*w+x] = quant(float64(int32(c.Y) - half))
			}
		}
		return [][]int32{g}
	}
	p := [][]int32{make([]int32, w*h), make([]int32, w*h), make([]int32, w*h)}
	for y := range h {
		for x := range w {
			c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			r, g, bl := int32(c.R)-half, int32(c.G)-half, int32(c.B)-half
			i := y*w + x
			if o.Shift == 0 { // RCT (G.2.1)
				p[0][i] = (r + 2*g + bl) >> 2
				p[1][i] = bl - g
				p[2][i] = r - g
				continue
			}
			fr, fg, fb := float64(r), float64(g), float64(bl) // ICT (G.3.1)
			p[0][i] = quant(0.299*fr + 0.587*fg + 0.114*fb)
			p[1][i] = quant(-0.16875*fr - 0.33126*fg + 0.5*fb)
			p[2][i] = quant(0.5*fr - 0.41869*fg - 0.08131*fb)
		}
	}
	return p
}

// codeBlock is one coded code-block.
type codeBlock struct {
	planes int    // coded magnitude bit-planes (0: the block is all zero)
	passes int    // coding passes
	data   []byte // MQ codeword segment
}

// Coefficient state flags.
const (
	fSig     = 1 << iota // significant
	fVisited             // coded in this bit-plane's significance propagation pass
	fRefined             // refined at least once
	fNeg                 // sign
)

// t1 encodes one code-block (Annex D) with the MQ coder.
type t1 struct {
	w, h  int
	mag   []uint32
	flags []uint8
	mq    mqEncoder
}

func encodeBlock(data []int32, w, h int) codeBlock {
	t := &t1{w: w, h: h, mag: make([]uint32, len(data)), flags: make([]uint8, len(data))}
	var max uint32
	for i, v := range data {
		if v < 0 {
			t.flags[i] |= fNeg
			v = -v
		}
		t.mag[i] = uint32(v)
		max |= uint32(v)
	}
	planes := 0
	for max > 0 {
		planes++
		max >>= 1
	}
	if planes == 0 {
		return codeBlock{}
	}
	t.mq.init()
	passes := 0
	for p := planes - 1; p >= 0; p-- {
		if p < planes-1 {
			t.sigPass(p)
			t.refPass(p)
			passes += 2
		}
		t.cleanupPass(p)
		passes++
	}
	return codeBlock{planes: planes, passes: passes, data: t.mq.flush()}
}

func (t *t1) sig(x, y int) bool {
	return x >= 0 && y >= 0 && x < t.w && y < t.h && t.flags[y*t.w+x]&fSig != 0
}

// neighbours counts significant horizontal, vertical and diagonal
// neighbours.
func (t *t1) neighbours(x, y int) (h, v, d int) {
	for _, n := range [][2]int{{-1, 0}, {1, 0}} {
		if t.sig(x+n[0], y+n[1]) {
			h++
		}
	}
	for _, n := range [][2]int{{0, -1}, {0, 1}} {
		if t.sig(x+n[0], y+n[1]) {
			v++
		}
	}
	for _, n := range [][2]int{{-1, -1}, {1, -1}, {-1, 1}, {1, 1}} {
		if t.sig(x+n[0], y+n[1]) {
			d++
		}
	}
	return
}

// zcContext is the zero-coding context of the LL band (Table D.1).
func zcContext(h, v, d int) int {
	switch {
	case h == 2:
		return 8
	case h == 1 && v >= 1:
		return 7
	case h == 1 && d >= 1:
		return 6
	case h == 1:
		return 5
	case v == 2:
		return 4
	case v == 1:
		return 3
	case d >= 2:
		return 2
	case d == 1:
		return 1
	}
	return 0
}

// contribution of a neighbour to the sign context: +1 significant
// positive, -1 significant negative, 0 otherwise.
func (t *t1) contribution(x, y int) int {
	if !t.sig(x, y) {
		return 0
	}
	if t.flags[y*t.w+x]&fNeg != 0 {
		return -1
	}
	return 1
}

func clamp1(v int) int { return max(-1, min(1, v)) }

// codeSign codes the sign of (x, y) (Table D.3).
func (t *t1) codeSign(x, y int) {
	h := clamp1(t.contribution(x-1, y) + t.contribution(x+1, y))
	v := clamp1(t.contribution(x, y-1) + t.contribution(x, y+1))
	var ctx, xor int
	switch {
	case h == 1 && v == 1, h == -1 && v == -1:
		ctx = 13
	case h == 1 && v == 0, h == -1 && v == 0:
		ctx = 12
	case h == 1 && v == -1, h == -1 && v == 1:
		ctx = 11
	case h == 0 && v != 0:
		ctx = 10
	default:
		ctx = 9
	}
	if h == -1 || (h == 0 && v == -1) {
		xor = 1
	}
	sign := 0
	if t.flags[y*t.w+x]&fNeg != 0 {
		sign = 1
	}
	t.mq.encode(sign^xor, ctx)
}

func (t *t1) bit(i, p int) int { return int(t.mag[i]>>uint(p)) & 1 }

// scan visits the block in stripes of four rows, column by column.
func (t *t1) scan(fn func(x, y int)) {
	for y0 := 0; y0 < t.h; y0 += 4 {
		for x := range t.w {
			for y := y0; y < min(y0+4, t.h); y++ {
				fn(x, y)
			}
		}
	}
}

func (t *t1) sigPass(p int) {
	t.scan(func(x, y int) {
		i := y*t.w + x
		if t.flags[i]&fSig != 0 {
			return
		}
		h, v, d := t.neighbours(x, y)
		if h+v+d == 0 {
			return
		}
		b := t.bit(i, p)
		t.mq.encode(b, zcContext(h, v, d))
		t.flags[i] |= fVisited
		if b == 1 {
			t.codeSign(x, y)
			t.flags[i] |= fSig
		}
	})
}

func (t *t1) refPass(p int) {
	t.scan(func(x, y int) {
		i := y*t.w + x
		if t.flags[i]&fSig == 0 || t.flags[i]&fVisited != 0 {
			return
		}
		ctx := 16
		if t.flags[i]&fRefined == 0 {
			ctx = 14
			if h, v, d := t.neighbours(x, y); h+v+d > 0 {
				ctx = 15
			}
		}
		t.mq.encode(t.bit(i, p), ctx)
		t.flags[i] |= fRefined
	})
}

func (t *t1) cleanupPass(p int) {
	for y0 := 0; y0 < t.h; y0 += 4 {
		for x := range t.w {
			y := y0
			if y0+4 <= t.h && t.runEligible(x, y0) {
				// Run-length mode: one symbol says whether any of the four
				// becomes significant.
				first := -1
				for k := range 4 {
					if t.bit((y0+k)*t.w+x, p) == 1 {
						first = k
						break
					}
				}
				if first < 0 {
					t.mq.encode(0, 17)
					continue
				}
				t.mq.encode(1, 17)
				t.mq.encode(first>>1, 18)
				t.mq.encode(first&1, 18)
				y = y0 + first
				t.codeSign(x, y)
				t.flags[y*t.w+x] |= fSig
				y++
			}
			for ; y < min(y0+4, t.h); y++ {
				i := y*t.w + x
				if t.flags[i]&(fSig|fVisited) != 0 {
					continue
				}
				h, v, d := t.neighbours(x, y)
				b := t.bit(i, p)
				t.mq.encode(b, zcContext(h, v, d))
				if b == 1 {
					t.codeSign(x, y)
					t.flags[i] |= fSig
				}
			}
		}
	}
	for i := range t.flags {
		t.flags[i] &^= fVisited
	}
}

// runEligible: the four coefficients of the stripe column are
// insignificant, uncoded in this bit-plane, and have no significant
// neighbour (D.3.4).
func (t *t1) runEligible(x, y0 int) bool {
	for y := y0; y < y0+4; y++ {
		if t.flags[y*t.w+x]&(fSig|fVisited) != 0 {
			return false
		}
		if h, v, d := t.neighbours(x, y); h+v+d != 0 {
			return false
		}
	}
	return true
}

// mqEncoder is the MQ arithmetic encoder (Annex C.2).
type mqEncoder struct {
	a, c  uint32
	ct    int
	buf   []byte // buf[0] is the byte before the codeword (BPST-1)
	state [19]uint8
	mps   [19]uint8
}

// qe is Table C.2: probability, next index after MPS and LPS, switch.
var qe = [47]struct {
	qe         uint32
	nmps, nlps uint8
	sw         bool
}{
	{0x5601, 1, 1, true}, {0x3401, 2, 6, false}, {0x1801, 3, 9, false}, {0x0AC1, 4, 12, false},
	{0x0521, 5, 29, false}, {0x0221, 38, 33, false}, {0x5601, 7, 6, true}, {0x5401, 8, 14, false},
	{0x4801, 9, 14, false}, {0x3801, 10, 14, false}, {0x3001, 11, 17, false}, {0x2401, 12, 18, false},
	{0x1C01, 13, 20, false}, {0x1601, 29, 21, false}, {0x5601, 15, 14, true}, {0x5401, 16, 14, false},
	{0x5101, 17, 15, false}, {0x4801, 18, 16, false}, {0x3801, 19, 17, false}, {0x3401, 20, 18, false},
	{0x3001, 21, 19, false}, {0x2801, 22, 19, false}, {0x2401, 23, 20, false}, {0x2201, 24, 21, false},
	{0x1C01, 25, 22, false}, {0x1801, 26, 23, false}, {0x1601, 27, 24, false}, {0x1401, 28, 25, false},
	{0x1201, 29, 26, false}, {0x1101, 30, 27, false}, {0x0AC1, 31, 28, false}, {0x09C1, 32, 29, false},
	{0x08A1, 33, 30, false}, {0x0521, 34, 31, false}, {0x0441, 35, 32, false}, {0x02A1, 36, 33, false},
	{0x0221, 37, 34, false}, {0x0141, 38, 35, false}, {0x0111, 39, 36, false}, {0x0085, 40, 37, false},
	{0x0049, 41, 38, false}, {0x0025, 42, 39, false}, {0x0015, 43, 40, false}, {0x0009, 44, 41, false},
	{0x0005, 45, 42, false}, {0x0001, 45, 43, false}, {0x5601, 46, 46, false},
}

func (m *mqEncoder) init() {
	m.a, m.c, m.ct = 0x8000, 0, 12
	m.buf = []byte{0}
	m.state = [19]uint8{}
	m.mps = [19]uint8{}
	m.state[0], m.state[17], m.state[18] = 4, 3, 46
}

func (m *mqEncoder) encode(d, cx int) {
	s := &qe[m.state[cx]]
	m.a -= s.qe
	if uint8(d) == m.mps[cx] {
		if m.a&0x8000 != 0 {
			m.c += s.qe
			return
		}
		if m.a < s.qe {
			m.a = s.qe
		} else {
			m.c += s.qe
		}
		m.state[cx] = s.nmps
	} else {
		if m.a < s.qe {
			m.c += s.qe
		} else {
			m.a = s.qe
		}
		if s.sw {
			m.mps[cx] ^= 1
		}
		m.state[cx] = s.nlps
	}
	for m.a&0x8000 == 0 {
		m.a <<= 1
		m.c <<= 1
		m.ct--
		if m.ct == 0 {
			m.byteOut()
		}
	}
}

func (m *mqEncoder) byteOut() {
	last := len(m.buf) - 1
	if m.buf[last] == 0xFF {
		m.buf = append(m.buf, byte(m.c>>20))
		m.c &= 0xFFFFF
		m.ct = 7
		return
	}
	if m.c < 0x8000000 {
		m.buf = append(m.buf, byte(m.c>>19))
		m.c &= 0x7FFFF
		m.ct = 8
		return
	}
	m.buf[last]++
	if m.buf[last] == 0xFF {
		m.c &= 0x7FFFFFF
		m.buf = append(m.buf, byte(m.c>>20))
		m.c &= 0xFFFFF
		m.ct = 7
		return
	}
	m.buf = append(m.buf, byte(m.c>>19))
	m.c &= 0x7FFFF
	m.ct = 8
}

// flush terminates the codeword (C.2.9) and returns it.
func (m *mqEncoder) flush() []byte {
	t := m.c + m.a
	m.c |= 0xFFFF
	if m.c >= t {
		m.c -= 0x8000
	}
	m.c <<= uint(m.ct)
	m.byteOut()
	m.c <<= uint(m.ct)
	m.byteOut()
	out := m.buf[1:]
	if n := len(out); n > 0 && out[n-1] == 0xFF {
		out = out[:n-1]
	}
	return out
}

// bitWriter writes packet headers with bit stuffing after 0xFF (B.10.1).
type bitWriter struct {
	out  []byte
	cur  byte
	n    int // bits in cur
	room int // bits the current byte holds: 8, or 7 after 0xFF
}

func (b *bitWriter) put(bit int) {
	if b.room == 0 {
		b.room = 8
	}
	b.cur = b.cur<<1 | byte(bit&1)
	b.n++
	if b.n == b.room {
		b.emit()
	}
}

func (b *bitWriter) emit() {
	b.out = append(b.out, b.cur)
	b.room = 8
	if b.cur == 0xFF {
		b.room = 7
	}
	b.cur, b.n = 0, 0
}

func (b *bitWriter) bits(v, n int) {
	for i := n - 1; i >= 0; i-- {
		b.put(v >> uint(i) & 1)
	}
}

// finish pads the last byte with zeros; a header ending in 0xFF gets a
// zero byte after it.
func (b *bitWriter) finish() []byte {
	if b.room == 0 {
		b.room = 8
	}
	if b.n > 0 {
		b.cur <<= uint(b.room - b.n)
		b.emit()
	}
	if len(b.out) > 0 && b.out[len(b.out)-1] == 0xFF {
		b.out = append(b.out, 0)
	}
	return b.out
}

// tagTree is a tag tree (B.10.2) over a w × h grid of leaves.
type tagTree struct {
	levels [][]ttNode
	widths []int
}

type ttNode struct {
	value, low int
	known      bool
}

func newTagTree(w, h int, value func(i int) int) *tagTree {
	t := &tagTree{}
	for {
		lv := make([]ttNode, w*h)
		t.levels = append(t.levels, lv)
		t.widths = append(t.widths, w)
		if w == 1 && h == 1 {
			break
		}
		w, h = (w+1)/2, (h+1)/2
	}
	for i := range t.levels[0] {
		t.levels[0][i].value = value(i)
	}
	for l := 1; l < len(t.levels); l++ {
		for i := range t.levels[l] {
			t.levels[l][i].value = 1 << 30
		}
		pw := t.widths[l-1]
		for i, n := range t.levels[l-1] {
			x, y := i%pw, i/pw
			p := &t.levels[l][(y/2)*t.widths[l]+x/2]
			p.value = min(p.value, n.value)
		}
	}
	return t
}

// encode writes what leaf i's value says below threshold.
func (t *tagTree) encode(bw *bitWriter, i, threshold int) {
	path := make([]*ttNode, len(t.levels))
	x, y := i%t.widths[0], i/t.widths[0]
	for l := range t.levels {
		path[l] = &t.levels[l][y*t.widths[l]+x]
		x, y = x/2, y/2
	}
	low := 0
	for l := len(path) - 1; l >= 0; l-- {
		n := path[l]
		if low > n.low {
			n.low = low
		} else {
			low = n.low
		}
		for low < threshold {
			if low >= n.value {
				if !n.known {
					bw.put(1)
					n.known = true
				}
				break
			}
			bw.put(0)
			low++
		}
		n.low = low
	}
}

// encodePacket writes the one packet of the tile: header, then the
// code-blocks' data.
func encodePacket(blocks []codeBlock, nx, ny, mb int) []byte {
	bw := &bitWriter{}
	any := false
	for _, b := range blocks {
		any = any || b.passes > 0
	}
	if !any {
		bw.put(0)
		return bw.finish()
	}
	bw.put(1)
	incl := newTagTree(nx, ny, func(i int) int {
		if blocks[i].passes > 0 {
			return 0
		}
		return 1
	})
	zero := newTagTree(nx, ny, func(i int) int { return mb - blocks[i].planes })
	var body []byte
	for i, b := range blocks {
		incl.encode(bw, i, 1)
		if b.passes == 0 {
			continue
		}
		zero.encode(bw, i, mb+1)
		switch n := b.passes; {
		case n == 1:
			bw.put(0)
		case n == 2:
			bw.bits(0b10, 2)
		case n <= 5:
			bw.bits(0b11, 2)
			bw.bits(n-3, 2)
		case n <= 36:
			bw.bits(0b1111, 4)
			bw.bits(n-6, 5)
		default:
			bw.bits(0b111111111, 9)
			bw.bits(n-37, 7)
		}
		// Lblock starts at 3 (B.10.7.1); the length takes Lblock +
		// floor(log2(passes)) bits.
		extra := 0
		for p := b.passes; p > 1; p >>= 1 {
			extra++
		}
		lblock := 3
		for len(b.data) >= 1<<uint(lblock+extra) {
			lblock++
			bw.put(1)
		}
		bw.put(0)
		bw.bits(len(b.data), lblock+extra)
		body = append(body, b.data...)
	}
	return append(bw.finish(), body...)
}

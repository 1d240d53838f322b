package jpeg2000

import (
	"encoding/binary"
)

// Codestream markers (ISO/IEC 15444-1 Annex A).
const (
	mSOC = 0xFF4F
	mSIZ = 0xFF51
	mCOD = 0xFF52
	mCOC = 0xFF53
	mTLM = 0xFF55
	mPLM = 0xFF57
	mPLT = 0xFF58
	mQCD = 0xFF5C
	mQCC = 0xFF5D
	mRGN = 0xFF5E
	mPOC = 0xFF5F
	mPPM = 0xFF60
	mPPT = 0xFF61
	mCRG = 0xFF63
	mCOM = 0xFF64
	mSOT = 0xFF90
	mSOP = 0xFF91
	mEPH = 0xFF92
	mSOD = 0xFF93
	mEOC = 0xFFD9
)

// Bounds from the standard.
const (
	maxComponents = 4  // this decoder's bound (the standard allows 16384)
	maxPrecision  = 16 // this decoder's bound (the standard allows 38)
	maxLevels     = 32
	maxPOC        = 32 // progression changes per header, as OpenJPEG
	maxBitPlanes  = 30 // coded magnitude bit-planes, incl. ROI shift, in int32
)

// Progression orders.
const (
	progLRCP = iota
	progRLCP
	progRPCL
	progPCRL
	progCPRL
)

// Code-block style flags (Table A.19).
const (
	cbBypass   = 0x01
	cbReset    = 0x02
	cbTermAll  = 0x04
	cbVSC      = 0x08
	cbPTerm    = 0x10
	cbSegSym   = 0x20
	cbPart2Bit = 0xC0
)

type compSiz struct {
	signed bool
	prec   int
	dx, dy uint32
}

type siz struct {
	x1, y1, x0, y0   uint32 // image area on the reference grid
	tw, th, tx0, ty0 uint32 // tile size and tile grid origin
	comps            []compSiz
	ntx, nty         int
}

// compCod is the per-component part of COD/COC.
type compCod struct {
	levels     int
	xcb, ycb   int // code-block size exponents
	style      byte
	reversible bool
	ppx, ppy   [maxLevels + 1]uint8
}

type codMarker struct {
	sop, eph bool
	prog     int
	layers   int
	mct      bool
	comp     compCod
}

// compQcd is QCD/QCC: the quantization of each sub-band.
type compQcd struct {
	style int // 0 none, 1 scalar derived, 2 scalar expounded
	guard int
	exp   []int
	mant  []int
}

type pocEntry struct {
	rs, cs, lye, re, ce, prog int
}

// codingParams are the coding-style markers of one header (main or tile).
type codingParams struct {
	cod *codMarker
	coc []*compCod
	qcd *compQcd
	qcc []*compQcd
	rgn []int // -1: absent
	poc []pocEntry
	// PPM (main header) or PPT (tile-part headers) payloads by index.
	packed  [256][]byte
	npacked int
}

func newCodingParams(nc int) codingParams {
	p := codingParams{coc: make([]*compCod, nc), qcc: make([]*compQcd, nc), rgn: make([]int, nc)}
	for i := range p.rgn {
		p.rgn[i] = -1
	}
	return p
}

// packedHeaders concatenates the PPM or PPT payloads in index order; the
// indices must run from 0 without gaps.
func (cp *codingParams) packedHeaders() ([]byte, error) {
	var out []byte
	for i := 0; i < cp.npacked; i++ {
		if cp.packed[i] == nil {
			return nil, formatErr("packed header index %d missing", i)
		}
		out = append(out, cp.packed[i]...)
	}
	return out, nil
}

// tileParams are the resolved parameters of one tile.
type tileParams struct {
	sop, eph bool
	prog     int
	layers   int
	mct      bool
	comps    []compCod
	quant    []compQcd
	roi      []int
	poc      []pocEntry
}

// resolve applies the precedence tile COC > tile COD > main COC > main COD
// (and likewise for quantization).
func resolve(main, tile *codingParams, nc int) (tileParams, error) {
	var tp tileParams
	cod := main.cod
	if tile.cod != nil {
		cod = tile.cod
	}
	if cod == nil {
		return tp, formatErr("no COD marker")
	}
	tp.sop, tp.eph, tp.prog, tp.layers, tp.mct = cod.sop, cod.eph, cod.prog, cod.layers, cod.mct
	tp.comps = make([]compCod, nc)
	tp.quant = make([]compQcd, nc)
	tp.roi = make([]int, nc)
	for c := 0; c < nc; c++ {
		switch {
		case tile.coc[c] != nil:
			tp.comps[c] = *tile.coc[c]
		case tile.cod != nil:
			tp.comps[c] = tile.cod.comp
		case main.coc[c] != nil:
			tp.comps[c] = *main.coc[c]
		default:
			tp.comps[c] = main.cod.comp
		}
		var q *compQcd
		switch {
		case tile.qcc[c] != nil:
			q = tile.qcc[c]
		case tile.qcd != nil:
			q = tile.qcd
		case main.qcc[c] != nil:
			q = main.qcc[c]
		default:
			q = main.qcd
		}
		if q == nil {
			return tp, formatErr("no QCD marker")
		}
		nb := 3*tp.comps[c].levels + 1
		if q.style != 1 && len(q.exp) < nb {
			return tp, formatErr("quantization for %d of %d sub-bands", len(q.exp), nb)
		}
		tp.quant[c] = *q
		tp.roi[c] = 0
		if tile.rgn[c] >= 0 {
			tp.roi[c] = tile.rgn[c]
		} else if main.rgn[c] >= 0 {
			tp.roi[c] = main.rgn[c]
		}
	}
	if tp.mct && nc < 3 {
		// Encoders set the flag on grey images; there is nothing to
		// transform, and OpenJPEG skips it likewise.
		tp.mct = false
	}
	if tp.mct && (tp.comps[0].reversible != tp.comps[1].reversible || tp.comps[0].reversible != tp.comps[2].reversible) {
		return tp, formatErr("multiple component transform over mixed wavelets")
	}
	tp.poc = tile.poc
	if len(tp.poc) == 0 {
		tp.poc = main.poc
	}
	return tp, nil
}

// segment reads one marker segment at d.pos: the marker and its payload.
func (d *decoder) segment() (uint16, []byte, error) {
	b := d.data[d.pos:]
	if len(b) < 2 {
		return 0, nil, truncated("marker")
	}
	m := binary.BigEndian.Uint16(b)
	if m>>8 != 0xFF {
		return 0, nil, formatErr("expected a marker")
	}
	if m == mSOD || m == mEOC || m == mSOC || m >= 0xFF30 && m <= 0xFF3F {
		d.pos += 2
		return m, nil, nil
	}
	if len(b) < 4 {
		return 0, nil, truncated("marker segment")
	}
	l := int(binary.BigEndian.Uint16(b[2:]))
	if l < 2 {
		return 0, nil, formatErr("marker %04X length %d", m, l)
	}
	if 2+l > len(b) {
		return 0, nil, truncated("marker %04X", m)
	}
	d.pos += 2 + l
	return m, b[4 : 2+l], nil
}

func (d *decoder) readSIZOnly() error {
	if len(d.data) < 2 || binary.BigEndian.Uint16(d.data) != mSOC {
		return formatErr("no SOC marker")
	}
	d.pos = 2
	m, p, err := d.segment()
	if err != nil {
		return err
	}
	if m != mSIZ {
		return formatErr("SIZ is not the first marker")
	}
	return d.parseSIZ(p)
}

func (d *decoder) readMainHeader() error {
	if err := d.readSIZOnly(); err != nil {
		return err
	}
	nc := len(d.siz.comps)
	d.main = newCodingParams(nc)
	for {
		if d.pos+2 <= len(d.data) && binary.BigEndian.Uint16(d.data[d.pos:]) == mSOT {
			break
		}
		m, p, err := d.segment()
		if err != nil {
			return err
		}
		if err := d.parseParamMarker(m, p, &d.main); err != nil {
			return err
		}
	}
	if d.main.cod == nil {
		return formatErr("no COD marker in main header")
	}
	if d.main.qcd == nil {
		for _, q := range d.main.qcc {
			if q == nil {
				return formatErr("no QCD marker in main header")
			}
		}
	}
	return nil
}

// parseParamMarker handles a marker allowed in the main or first tile-part
// header.
func (d *decoder) parseParamMarker(m uint16, p []byte, cp *codingParams) error {
	nc := len(d.siz.comps)
	switch m {
	case mCOD:
		if cp.cod != nil {
			return formatErr("duplicate COD")
		}
		c, err := parseCOD(p)
		if err != nil {
			return err
		}
		cp.cod = c
	case mCOC:
		c, rest, err := compIndex(p, nc)
		if err != nil {
			return err
		}
		if len(rest) < 1 {
			return truncated("COC")
		}
		cc, err := parseSPcod(rest[1:], rest[0]&1 != 0)
		if err != nil {
			return err
		}
		cp.coc[c] = cc
	case mQCD:
		q, err := parseQCD(p)
		if err != nil {
			return err
		}
		cp.qcd = q
	case mQCC:
		c, rest, err := compIndex(p, nc)
		if err != nil {
			return err
		}
		q, err := parseQCD(rest)
		if err != nil {
			return err
		}
		cp.qcc[c] = q
	case mRGN:
		c, rest, err := compIndex(p, nc)
		if err != nil {
			return err
		}
		if len(rest) != 2 {
			return formatErr("RGN length")
		}
		if rest[0] != 0 {
			return unsupported("ROI style %d", rest[0])
		}
		cp.rgn[c] = int(rest[1])
	case mPOC:
		pocs, err := parsePOC(p, nc)
		if err != nil {
			return err
		}
		if len(cp.poc)+len(pocs) > maxPOC {
			return unsupported("more than %d progression changes", maxPOC)
		}
		cp.poc = append(cp.poc, pocs...)
	case mPPM, mPPT:
		if len(p) < 1 {
			return truncated("packed packet headers")
		}
		z := p[0]
		if cp.packed[z] != nil {
			return formatErr("duplicate packed header index %d", z)
		}
		cp.packed[z] = p[1:]
		cp.npacked++
	case mTLM, mPLM, mPLT, mCRG, mCOM:
		// Informational: the decoder finds packets without them.
	case mSIZ, mSOC, mSOD, mEOC, mSOT:
		return formatErr("marker %04X out of place", m)
	default:
		// Markers FF30-FF3F have no segment; other unknown marker
		// segments are skipped by their length, as the standard requires
		// (Part 2 streams were refused at SIZ).
	}
	return nil
}

func compIndex(p []byte, nc int) (int, []byte, error) {
	if nc < 257 {
		if len(p) < 1 {
			return 0, nil, truncated("component index")
		}
		if int(p[0]) >= nc {
			return 0, nil, formatErr("component index %d", p[0])
		}
		return int(p[0]), p[1:], nil
	}
	if len(p) < 2 {
		return 0, nil, truncated("component index")
	}
	c := int(binary.BigEndian.Uint16(p))
	if c >= nc {
		return 0, nil, formatErr("component index %d", c)
	}
	return c, p[2:], nil
}

func (d *decoder) parseSIZ(p []byte) error {
	if len(p) < 36 {
		return truncated("SIZ")
	}
	s := &d.siz
	be := binary.BigEndian
	if rsiz := be.Uint16(p); rsiz&0x8000 != 0 || rsiz&0x4000 != 0 {
		return unsupported("capabilities %04X (Part 2 or HTJ2K)", rsiz)
	}
	s.x1, s.y1, s.x0, s.y0 = be.Uint32(p[2:]), be.Uint32(p[6:]), be.Uint32(p[10:]), be.Uint32(p[14:])
	s.tw, s.th, s.tx0, s.ty0 = be.Uint32(p[18:]), be.Uint32(p[22:]), be.Uint32(p[26:]), be.Uint32(p[30:])
	nc := int(be.Uint16(p[34:]))
	if s.x0 >= s.x1 || s.y0 >= s.y1 || s.tw == 0 || s.th == 0 ||
		s.tx0 > s.x0 || s.ty0 > s.y0 ||
		uint64(s.tx0)+uint64(s.tw) <= uint64(s.x0) || uint64(s.ty0)+uint64(s.th) <= uint64(s.y0) {
		return formatErr("SIZ geometry")
	}
	if nc == 0 {
		return formatErr("no components")
	}
	if nc > maxComponents {
		return unsupported("%d components", nc)
	}
	if len(p) != 36+3*nc {
		return formatErr("SIZ length %d for %d components", len(p), nc)
	}
	w, h := uint64(s.x1-s.x0), uint64(s.y1-s.y0)
	if w*h > uint64(d.lim.MaxPixels) {
		return tooLarge("%dx%d image", w, h)
	}
	s.comps = make([]compSiz, nc)
	for i := range s.comps {
		q := p[36+3*i:]
		c := &s.comps[i]
		c.signed = q[0]&0x80 != 0
		c.prec = int(q[0]&0x7F) + 1
		c.dx, c.dy = uint32(q[1]), uint32(q[2])
		if c.prec > maxPrecision {
			return unsupported("%d-bit samples", c.prec)
		}
		if c.dx == 0 || c.dy == 0 {
			return formatErr("component subsampling 0")
		}
		if ceilDiv(int64(s.x1), int64(c.dx)) <= ceilDiv(int64(s.x0), int64(c.dx)) ||
			ceilDiv(int64(s.y1), int64(c.dy)) <= ceilDiv(int64(s.y0), int64(c.dy)) {
			return formatErr("component %d has no samples", i)
		}
	}
	ntx := (uint64(s.x1) - uint64(s.tx0) + uint64(s.tw) - 1) / uint64(s.tw)
	nty := (uint64(s.y1) - uint64(s.ty0) + uint64(s.th) - 1) / uint64(s.th)
	if ntx*nty > uint64(d.lim.MaxTiles) {
		return tooLarge("%d tiles", ntx*nty)
	}
	s.ntx, s.nty = int(ntx), int(nty)
	return nil
}

func parseCOD(p []byte) (*codMarker, error) {
	if len(p) < 5 {
		return nil, truncated("COD")
	}
	c := &codMarker{
		sop:    p[0]&2 != 0,
		eph:    p[0]&4 != 0,
		prog:   int(p[1]),
		layers: int(binary.BigEndian.Uint16(p[2:])),
		mct:    p[4] != 0,
	}
	if p[0]&^7 != 0 {
		return nil, unsupported("COD style %02X", p[0])
	}
	if c.prog > progCPRL {
		return nil, formatErr("progression order %d", c.prog)
	}
	if c.layers == 0 {
		return nil, formatErr("zero layers")
	}
	if p[4] > 1 {
		return nil, unsupported("multiple component transform %d", p[4])
	}
	cc, err := parseSPcod(p[5:], p[0]&1 != 0)
	if err != nil {
		return nil, err
	}
	c.comp = *cc
	return c, nil
}

func parseSPcod(p []byte, precincts bool) (*compCod, error) {
	if len(p) < 5 {
		return nil, truncated("SPcod")
	}
	c := &compCod{
		levels:     int(p[0]),
		xcb:        int(p[1]) + 2,
		ycb:        int(p[2]) + 2,
		style:      p[3],
		reversible: p[4] == 1,
	}
	if c.levels > maxLevels {
		return nil, formatErr("%d decomposition levels", c.levels)
	}
	if c.xcb > 10 || c.ycb > 10 || c.xcb+c.ycb > 12 {
		return nil, formatErr("code-block size 2^%d x 2^%d", c.xcb, c.ycb)
	}
	if c.style&cbPart2Bit != 0 {
		return nil, unsupported("code-block style %02X", c.style)
	}
	if p[4] > 1 {
		return nil, unsupported("wavelet transform %d", p[4])
	}
	want := 5
	if precincts {
		want += c.levels + 1
	}
	if len(p) != want {
		return nil, formatErr("SPcod length %d, want %d", len(p), want)
	}
	for r := 0; r <= c.levels; r++ {
		c.ppx[r], c.ppy[r] = 15, 15
		if precincts {
			b := p[5+r]
			c.ppx[r], c.ppy[r] = b&15, b>>4
			if r > 0 && (c.ppx[r] == 0 || c.ppy[r] == 0) {
				return nil, formatErr("precinct size 2^0 above resolution 0")
			}
		}
	}
	return c, nil
}

func parseQCD(p []byte) (*compQcd, error) {
	if len(p) < 1 {
		return nil, truncated("QCD")
	}
	q := &compQcd{style: int(p[0] & 0x1F), guard: int(p[0] >> 5)}
	p = p[1:]
	switch q.style {
	case 0:
		if len(p) == 0 || len(p) > 3*maxLevels+1 {
			return nil, formatErr("QCD length")
		}
		for _, b := range p {
			q.exp = append(q.exp, int(b>>3))
			q.mant = append(q.mant, 0)
		}
	case 1, 2:
		if len(p) == 0 || len(p)%2 != 0 || len(p) > 2*(3*maxLevels+1) || (q.style == 1 && len(p) != 2) {
			return nil, formatErr("QCD length")
		}
		for ; len(p) >= 2; p = p[2:] {
			v := binary.BigEndian.Uint16(p)
			q.exp = append(q.exp, int(v>>11))
			q.mant = append(q.mant, int(v&0x7FF))
		}
	default:
		return nil, formatErr("quantization style %d", q.style)
	}
	return q, nil
}

func parsePOC(p []byte, nc int) ([]pocEntry, error) {
	n := 7
	if nc >= 257 {
		n = 9
	}
	if len(p) == 0 || len(p)%n != 0 {
		return nil, formatErr("POC length")
	}
	var out []pocEntry
	for ; len(p) > 0; p = p[n:] {
		var e pocEntry
		e.rs = int(p[0])
		if n == 7 {
			e.cs = int(p[1])
			e.lye = int(binary.BigEndian.Uint16(p[2:]))
			e.re = int(p[4])
			e.ce = int(p[5])
			if e.ce == 0 {
				e.ce = 256
			}
			e.prog = int(p[6])
		} else {
			e.cs = int(binary.BigEndian.Uint16(p[1:]))
			e.lye = int(binary.BigEndian.Uint16(p[3:]))
			e.re = int(p[5])
			e.ce = int(binary.BigEndian.Uint16(p[6:]))
			if e.ce == 0 {
				e.ce = 16384
			}
			e.prog = int(p[8])
		}
		if e.prog > progCPRL || e.re > maxLevels+1 {
			return nil, formatErr("POC entry")
		}
		out = append(out, e)
	}
	return out, nil
}

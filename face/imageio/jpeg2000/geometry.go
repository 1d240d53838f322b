package jpeg2000

// Band orientations, in the order they appear in a resolution level.
const (
	bandLL = iota
	bandHL
	bandLH
	bandHH
)

type tileComp struct {
	x0, y0, x1, y1 int64 // tile-component area (component coordinates)
	cod            *compCod
	quant          *compQcd
	roi            int
	prec           int
	signed         bool
	res            []resolution
}

type resolution struct {
	x0, y0, x1, y1 int64
	ppx, ppy       int   // precinct size exponents
	px0, py0       int64 // index of the first precinct on the grid
	npw, nph       int   // precincts across and down
	bands          []band
	precincts      []precinct
}

type band struct {
	kind           int
	x0, y0, x1, y1 int64
	xcb, ycb       int // code-block size exponents in this band
	mb             int // magnitude bit-planes (Mb)
	step           float32
	icoef          []int32   // reversible coefficients
	fcoef          []float32 // irreversible coefficients
}

type precinct struct {
	next  int // next layer to decode (for progression changes)
	bands []precBand
}

type precBand struct {
	cw, ch int // code-blocks across and down
	blocks []codeBlock
	incl   *tagTree
	zbp    *tagTree
}

type codeBlock struct {
	x0, y0, x1, y1 int64 // in band coordinates
	included       bool
	lblock         int
	zbp            int
	passes         int
	segs           []cbSegment
}

type cbSegment struct {
	data   []byte
	passes int
	max    int
}

// buildTile lays out the components, resolutions, bands, precincts and
// code-blocks of tile (tx, ty), after checking their counts against the
// limits.
func (d *decoder) buildTile(tx, ty int, tp *tileParams, dataLen int) (tx0, ty0 int64, tcs []tileComp, err error) {
	s := &d.siz
	tx0 = max64(int64(s.tx0)+int64(tx)*int64(s.tw), int64(s.x0))
	ty0 = max64(int64(s.ty0)+int64(ty)*int64(s.th), int64(s.y0))
	tx1 := min64(int64(s.tx0)+int64(tx+1)*int64(s.tw), int64(s.x1))
	ty1 := min64(int64(s.ty0)+int64(ty+1)*int64(s.th), int64(s.y1))
	tcs = make([]tileComp, len(s.comps))
	blocks, precs := 0, 0
	for c := range tcs {
		tc := &tcs[c]
		cs := s.comps[c]
		tc.cod, tc.quant, tc.roi = &tp.comps[c], &tp.quant[c], tp.roi[c]
		tc.prec, tc.signed = cs.prec, cs.signed
		tc.x0, tc.x1 = ceilDiv(tx0, int64(cs.dx)), ceilDiv(tx1, int64(cs.dx))
		tc.y0, tc.y1 = ceilDiv(ty0, int64(cs.dy)), ceilDiv(ty1, int64(cs.dy))
		nl := tc.cod.levels
		tc.res = make([]resolution, nl+1)
		for r := 0; r <= nl; r++ {
			rs := &tc.res[r]
			sh := nl - r
			rs.x0, rs.x1 = ceilShift(tc.x0, sh), ceilShift(tc.x1, sh)
			rs.y0, rs.y1 = ceilShift(tc.y0, sh), ceilShift(tc.y1, sh)
			rs.ppx, rs.ppy = int(tc.cod.ppx[r]), int(tc.cod.ppy[r])
			rs.px0, rs.py0 = floorShift(rs.x0, rs.ppx), floorShift(rs.y0, rs.ppy)
			if rs.x1 > rs.x0 && rs.y1 > rs.y0 {
				npw := ceilShift(rs.x1, rs.ppx) - rs.px0
				nph := ceilShift(rs.y1, rs.ppy) - rs.py0
				if npw*nph > int64(d.lim.MaxCodeBlocks-d.precincts-precs) {
					return 0, 0, nil, tooLarge("precincts in image")
				}
				rs.npw, rs.nph = int(npw), int(nph)
				precs += rs.npw * rs.nph
			}
			kinds := []int{bandHL, bandLH, bandHH}
			nb := nl - r + 1
			if r == 0 {
				kinds = []int{bandLL}
				nb = nl
			}
			rs.bands = make([]band, len(kinds))
			for i, k := range kinds {
				b := &rs.bands[i]
				b.kind = k
				xo, yo := int64(k&1), int64(k>>1)
				if nb == 0 {
					b.x0, b.x1, b.y0, b.y1 = tc.x0, tc.x1, tc.y0, tc.y1
				} else {
					h := int64(1) << (nb - 1)
					b.x0, b.x1 = ceilShift(tc.x0-h*xo, nb), ceilShift(tc.x1-h*xo, nb)
					b.y0, b.y1 = ceilShift(tc.y0-h*yo, nb), ceilShift(tc.y1-h*yo, nb)
				}
				pp := 0
				if r > 0 {
					pp = 1
				}
				b.xcb = min(tc.cod.xcb, rs.ppx-pp)
				b.ycb = min(tc.cod.ycb, rs.ppy-pp)
				if b.x1 > b.x0 && b.y1 > b.y0 {
					n := (ceilShift(b.x1, b.xcb) - floorShift(b.x0, b.xcb)) * (ceilShift(b.y1, b.ycb) - floorShift(b.y0, b.ycb))
					if n > int64(d.lim.MaxCodeBlocks-d.blocks-blocks) {
						return 0, 0, nil, tooLarge("code-blocks in image")
					}
					blocks += int(n)
				}
				if err := tc.setQuant(b, r); err != nil {
					return 0, 0, nil, err
				}
			}
		}
	}
	// Every packet takes at least one byte: a stream too short for its
	// precincts is refused before they are built.
	if int64(precs)*int64(tp.layers) > int64(dataLen) {
		return 0, 0, nil, truncated("%d packets in %d bytes", int64(precs)*int64(tp.layers), dataLen)
	}
	d.blocks += blocks
	d.precincts += precs
	// The counts are bounded: lay out precincts and code-blocks.
	for c := range tcs {
		tc := &tcs[c]
		for r := range tc.res {
			tc.res[r].layout(r)
		}
	}
	return tx0, ty0, tcs, nil
}

// setQuant derives the band's Mb and step size (Annex E).
func (tc *tileComp) setQuant(b *band, r int) error {
	q := tc.quant
	idx := 0
	if r > 0 {
		idx = 3*(r-1) + b.kind
	}
	var exp, mant int
	if q.style == 1 {
		exp = max(q.exp[0]-(r-1), 0)
		if r == 0 {
			exp = q.exp[0]
		}
		mant = q.mant[0]
	} else {
		exp, mant = q.exp[idx], q.mant[idx]
	}
	b.mb = q.guard + exp - 1
	if b.mb+tc.roi > maxBitPlanes {
		return unsupported("%d magnitude bit-planes", b.mb+tc.roi)
	}
	gain := [4]int{0, 1, 1, 2}[b.kind]
	rb := tc.prec + gain
	step := float64(1) + float64(mant)/2048
	for e := rb - exp; e > 0; e-- {
		step *= 2
	}
	for e := rb - exp; e < 0; e++ {
		step /= 2
	}
	b.step = float32(step)
	return nil
}

// layout creates the precincts of the resolution and assigns each
// code-block of each band to the precinct that contains it.
func (rs *resolution) layout(r int) {
	pp := 0
	if r > 0 {
		pp = 1
	}
	rs.precincts = make([]precinct, rs.npw*rs.nph)
	for i := range rs.precincts {
		rs.precincts[i].bands = make([]precBand, len(rs.bands))
	}
	for bi := range rs.bands {
		b := &rs.bands[bi]
		if b.x1 <= b.x0 || b.y1 <= b.y0 {
			continue
		}
		pwx, pwy := rs.ppx-pp, rs.ppy-pp // precinct size in the band
		for j := 0; j < rs.nph; j++ {
			for i := 0; i < rs.npw; i++ {
				// The precinct's area in band coordinates.
				px0 := max64((rs.px0+int64(i))<<pwx, b.x0)
				px1 := min64((rs.px0+int64(i)+1)<<pwx, b.x1)
				py0 := max64((rs.py0+int64(j))<<pwy, b.y0)
				py1 := min64((rs.py0+int64(j)+1)<<pwy, b.y1)
				pb := &rs.precincts[j*rs.npw+i].bands[bi]
				if px1 <= px0 || py1 <= py0 {
					continue
				}
				cx0, cx1 := floorShift(px0, b.xcb), ceilShift(px1, b.xcb)
				cy0, cy1 := floorShift(py0, b.ycb), ceilShift(py1, b.ycb)
				pb.cw, pb.ch = int(cx1-cx0), int(cy1-cy0)
				pb.blocks = make([]codeBlock, pb.cw*pb.ch)
				for y := 0; y < pb.ch; y++ {
					for x := 0; x < pb.cw; x++ {
						cb := &pb.blocks[y*pb.cw+x]
						cb.x0 = max64((cx0+int64(x))<<b.xcb, px0)
						cb.x1 = min64((cx0+int64(x)+1)<<b.xcb, px1)
						cb.y0 = max64((cy0+int64(y))<<b.ycb, py0)
						cb.y1 = min64((cy0+int64(y)+1)<<b.ycb, py1)
						cb.lblock = 3
					}
				}
				pb.incl = newTagTree(pb.cw, pb.ch)
				pb.zbp = newTagTree(pb.cw, pb.ch)
			}
		}
	}
}

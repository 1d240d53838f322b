package jpeg2000

import (
	"bytes"
	"math"
)

// decodeTile runs tier-2, tier-1, dequantization, the inverse wavelet
// transform, the inverse component transform and the DC level shift for
// tile i, writing the result into d.planes.
func (d *decoder) decodeTile(i int, td *tileData) error {
	tp, err := resolve(&d.main, &td.params, len(d.siz.comps))
	if err != nil {
		return err
	}
	tx, ty := i%d.siz.ntx, i/d.siz.ntx
	data := td.bodies[0]
	if len(td.bodies) > 1 {
		data = bytes.Join(td.bodies, nil)
	}
	var headers []byte
	switch {
	case d.hasPPM:
		headers = td.headers
		if headers == nil {
			headers = []byte{}
		}
	case td.params.npacked > 0:
		if headers, err = td.params.packedHeaders(); err != nil {
			return err
		}
	}
	tx0, ty0, tcs, err := d.buildTile(tx, ty, &tp, len(data)+len(headers))
	if err != nil {
		return err
	}
	t2 := &tier2{data: data, hdr: headers, packed: headers != nil, tp: &tp, tcs: tcs}
	if err := t2.decodePackets(tx0, ty0, d.siz.comps); err != nil {
		return err
	}
	// Every packet must have been present.
	for c := range tcs {
		for r := range tcs[c].res {
			for _, p := range tcs[c].res[r].precincts {
				if p.next < tp.layers {
					return truncated("tile %d lacks packets", i)
				}
			}
		}
	}
	var t t1
	for c := range tcs {
		tc := &tcs[c]
		for r := range tc.res {
			rs := &tc.res[r]
			for bi := range rs.bands {
				if err := tc.decodeBand(&t, rs, bi); err != nil {
					return err
				}
			}
		}
	}
	return d.finishTile(tcs, &tp)
}

// decodeBand decodes the code-blocks of one band and dequantizes them into
// the band's coefficient array.
func (tc *tileComp) decodeBand(t *t1, rs *resolution, bi int) error {
	b := &rs.bands[bi]
	w, h := int(b.x1-b.x0), int(b.y1-b.y0)
	if w <= 0 || h <= 0 {
		return nil
	}
	rev := tc.cod.reversible
	if rev {
		b.icoef = make([]int32, w*h)
	} else {
		b.fcoef = make([]float32, w*h)
	}
	half := b.step / 2
	for pi := range rs.precincts {
		pb := &rs.precincts[pi].bands[bi]
		for ci := range pb.blocks {
			cb := &pb.blocks[ci]
			if cb.passes == 0 {
				continue
			}
			if err := t.decodeBlock(cb, b.kind, tc.cod.style, b.mb, tc.roi); err != nil {
				return err
			}
			cw := int(cb.x1 - cb.x0)
			ox, oy := int(cb.x0-b.x0), int(cb.y0-b.y0)
			for y := 0; y < t.h; y++ {
				src := t.data[y*cw : (y+1)*cw]
				o := (oy+y)*w + ox
				if rev {
					dst := b.icoef[o : o+cw]
					for x, v := range src {
						dst[x] = v / 2
					}
				} else {
					dst := b.fcoef[o : o+cw]
					for x, v := range src {
						dst[x] = float32(v) * half
					}
				}
			}
		}
	}
	return nil
}

// finishTile applies the inverse transforms and stores the tile's samples.
func (d *decoder) finishTile(tcs []tileComp, tp *tileParams) error {
	nc := len(tcs)
	ints := make([][]int32, nc)
	floats := make([][]float32, nc)
	for c := range tcs {
		tc := &tcs[c]
		if tc.x1 <= tc.x0 || tc.y1 <= tc.y0 {
			continue
		}
		if tc.cod.reversible {
			ints[c] = idwt53(tc)
		} else {
			floats[c] = idwt97(tc)
			d.irrev[c] = true
		}
		// The bands are no longer needed: let them go before the next
		// component's transform allocates.
		for r := range tc.res {
			for bi := range tc.res[r].bands {
				tc.res[r].bands[bi].icoef, tc.res[r].bands[bi].fcoef = nil, nil
			}
		}
	}
	if tp.mct {
		for c := 1; c < 3; c++ {
			if tcs[c].x0 != tcs[0].x0 || tcs[c].x1 != tcs[0].x1 || tcs[c].y0 != tcs[0].y0 || tcs[c].y1 != tcs[0].y1 {
				return formatErr("component transform over components of different sizes")
			}
		}
		if tcs[0].cod.reversible {
			if ints[0] != nil {
				rct(ints[0], ints[1], ints[2])
			}
		} else if floats[0] != nil {
			ict(floats[0], floats[1], floats[2])
		}
	}
	for c := range tcs {
		tc := &tcs[c]
		cs := d.siz.comps[c]
		px0 := ceilDiv(int64(d.siz.x0), int64(cs.dx))
		py0 := ceilDiv(int64(d.siz.y0), int64(cs.dy))
		w := int(tc.x1 - tc.x0)
		if w <= 0 || tc.y1 <= tc.y0 {
			continue
		}
		var lo, hi, off int32
		if tc.signed {
			lo, hi, off = -(1 << (tc.prec - 1)), (1<<(tc.prec-1))-1, 1<<(tc.prec-1)
		} else {
			lo, hi, off = 0, (1<<tc.prec)-1, 0
		}
		shift := int32(1) << (tc.prec - 1)
		if tc.signed {
			shift = 0
		}
		plane, pw := d.planes[c], d.pw[c]
		for y := 0; y < int(tc.y1-tc.y0); y++ {
			dst := plane[(int(tc.y0-py0)+y)*pw+int(tc.x0-px0):]
			dst = dst[:w]
			if ints[c] != nil {
				for x, v := range ints[c][y*w : (y+1)*w] {
					v += shift
					v = max(lo, min(hi, v))
					dst[x] = uint16(v + off)
				}
			} else {
				for x, f := range floats[c][y*w : (y+1)*w] {
					v := roundClamp(f) + shift
					v = max(lo, min(hi, v))
					dst[x] = uint16(v + off)
				}
			}
		}
	}
	return nil
}

// roundClamp rounds half to even (as lrintf does) within the int32 range.
func roundClamp(f float32) int32 {
	r := math.RoundToEven(float64(f))
	switch {
	case r > math.MaxInt32/2:
		return math.MaxInt32 / 2
	case r < math.MinInt32/2:
		return math.MinInt32 / 2
	case r != r: // NaN
		return 0
	}
	return int32(r)
}

// rct is the inverse reversible component transform (G.2).
func rct(y0, y1, y2 []int32) {
	for i := range y0 {
		g := y0[i] - (y1[i]+y2[i])>>2
		r := y2[i] + g
		b := y1[i] + g
		y0[i], y1[i], y2[i] = r, g, b
	}
}

// ict is the inverse irreversible component transform (G.3).
func ict(y0, y1, y2 []float32) {
	for i := range y0 {
		y, cb, cr := y0[i], y1[i], y2[i]
		y0[i] = y + 1.402*cr
		y1[i] = y - 0.34413*cb - 0.71414*cr
		y2[i] = y + 1.772*cb
	}
}

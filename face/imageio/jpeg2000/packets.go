package jpeg2000

import (
	"cmp"
	"slices"
)

// Tier-2: packet headers (Annex B.10) and progression orders (B.12).

// tagTree is a tag tree (B.10.2) over a w × h grid of leaves.
type tagTree struct {
	nodes  []tagNode
	leaves int
	parent []int32 // parent index per node, -1 for the root
}

type tagNode struct {
	value, low int32
}

const tagInf = 1 << 30

func newTagTree(w, h int) *tagTree {
	t := &tagTree{leaves: w * h}
	// Levels from the leaves up to a single root.
	type level struct{ w, h, off int }
	var levels []level
	n := 0
	for {
		levels = append(levels, level{w, h, n})
		n += w * h
		if w*h <= 1 {
			break
		}
		w, h = (w+1)/2, (h+1)/2
	}
	t.nodes = make([]tagNode, n)
	t.parent = make([]int32, n)
	for i := range t.nodes {
		t.nodes[i].value = tagInf
		t.parent[i] = -1
	}
	for li := 0; li+1 < len(levels); li++ {
		l, up := levels[li], levels[li+1]
		for y := 0; y < l.h; y++ {
			for x := 0; x < l.w; x++ {
				t.parent[l.off+y*l.w+x] = int32(up.off + (y/2)*up.w + x/2)
			}
		}
	}
	return t
}

// decode reports whether the value of leaf is below threshold, reading
// header bits as needed (B.10.2).
func (t *tagTree) decode(br *bitReader, leaf int, threshold int32) bool {
	var stack [40]int32
	sp := 0
	n := int32(leaf)
	for t.parent[n] >= 0 {
		stack[sp] = n
		sp++
		n = t.parent[n]
	}
	low := int32(0)
	for {
		node := &t.nodes[n]
		if low > node.low {
			node.low = low
		} else {
			low = node.low
		}
		for low < threshold && low < node.value {
			if br.err {
				return false
			}
			if br.bit() != 0 {
				node.value = low
			} else {
				low++
			}
		}
		node.low = low
		if sp == 0 {
			break
		}
		sp--
		n = stack[sp]
	}
	return t.nodes[n].value < threshold
}

// bitReader reads packet-header bits with bit stuffing after 0xFF.
type bitReader struct {
	data []byte
	pos  int
	buf  uint32
	ct   uint
	err  bool
}

func (b *bitReader) bit() uint32 {
	if b.ct == 0 {
		if b.pos >= len(b.data) {
			b.err = true
			return 0
		}
		b.ct = 8
		if b.buf&0xFF == 0xFF {
			b.ct = 7
		}
		b.buf = b.buf<<8 | uint32(b.data[b.pos])
		b.pos++
	}
	b.ct--
	return (b.buf >> b.ct) & 1
}

func (b *bitReader) bits(n int) uint32 {
	var v uint32
	for ; n > 0; n-- {
		v = v<<1 | b.bit()
	}
	return v
}

// align skips to the end of the header, including a stuffed byte after a
// final 0xFF.
func (b *bitReader) align() {
	if b.buf&0xFF == 0xFF {
		if b.pos >= len(b.data) {
			b.err = true
			return
		}
		b.pos++
	}
	b.ct = 0
}

// numPasses reads the number of coding passes (Table B.4).
func (b *bitReader) numPasses() int {
	if b.bit() == 0 {
		return 1
	}
	if b.bit() == 0 {
		return 2
	}
	if v := b.bits(2); v != 3 {
		return 3 + int(v)
	}
	if v := b.bits(5); v != 31 {
		return 6 + int(v)
	}
	return 37 + int(b.bits(7))
}

// maxSegPasses is the number of passes the segment starting at pass index
// first may hold, for code-block style st.
func maxSegPasses(st byte, first int) int {
	switch {
	case st&cbTermAll != 0:
		return 1
	case st&cbBypass != 0:
		if first < 10 {
			return 10 - first
		}
		if first%3 == 1 { // significance propagation: raw SPP + MRP
			return 2
		}
		return 1
	}
	return 1 << 30
}

func floorLog2(n int) int {
	l := 0
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

// maxPasses bounds the coding passes of one code-block: 3 per bit-plane.
const maxPasses = 3*(maxBitPlanes+1) + 2

type pending struct {
	cb  *codeBlock
	seg int
	n   int
}

// tier2 decodes the packets of a tile in its progression order.
type tier2 struct {
	data   []byte
	pos    int
	hdr    []byte // packed packet headers (PPM/PPT), when packed
	hpos   int
	packed bool
	tp     *tileParams
	tcs    []tileComp
	pend   []pending
}

func (t2 *tier2) packet(c, r, p, l int) error {
	rs := &t2.tcs[c].res[r]
	pr := &rs.precincts[p]
	if pr.next != l {
		return nil
	}
	pr.next++
	data := t2.data
	if t2.tp.sop && t2.pos+6 <= len(data) && data[t2.pos] == 0xFF && data[t2.pos+1] == 0x91 {
		t2.pos += 6
	}
	// The header comes from the packet itself or from the packed headers.
	hdr, hpos := data, &t2.pos
	if t2.packed {
		hdr, hpos = t2.hdr, &t2.hpos
	}
	br := bitReader{data: hdr, pos: *hpos}
	t2.pend = t2.pend[:0]
	st := t2.tcs[c].cod.style
	if br.bit() != 0 {
		for bi := range pr.bands {
			pb := &pr.bands[bi]
			for i := range pb.blocks {
				cb := &pb.blocks[i]
				var in bool
				if !cb.included {
					in = pb.incl.decode(&br, i, int32(l+1))
				} else {
					in = br.bit() != 0
				}
				if br.err {
					return truncated("packet header")
				}
				if !in {
					continue
				}
				if !cb.included {
					z := int32(0)
					for !pb.zbp.decode(&br, i, z+1) {
						if br.err {
							return truncated("packet header")
						}
						z++
						if z > maxBitPlanes+255 {
							return formatErr("zero bit-planes")
						}
					}
					cb.zbp = int(z)
					cb.included = true
				}
				n := br.numPasses()
				for br.bit() != 0 && !br.err {
					cb.lblock++
					if cb.lblock > 32 {
						return formatErr("code-block length indicator")
					}
				}
				if cb.passes+n > maxPasses {
					return formatErr("%d coding passes", cb.passes+n)
				}
				for n > 0 {
					if len(cb.segs) == 0 || cb.segs[len(cb.segs)-1].passes == cb.segs[len(cb.segs)-1].max {
						cb.segs = append(cb.segs, cbSegment{max: maxSegPasses(st, cb.passes)})
					}
					si := len(cb.segs) - 1
					take := min(n, cb.segs[si].max-cb.segs[si].passes)
					nbits := cb.lblock + floorLog2(take)
					if nbits > 32 {
						return formatErr("code-block length of %d bits", nbits)
					}
					length := br.bits(nbits)
					cb.segs[si].passes += take
					cb.passes += take
					n -= take
					t2.pend = append(t2.pend, pending{cb: cb, seg: si, n: int(length)})
				}
				if br.err {
					return truncated("packet header")
				}
			}
		}
	}
	br.align()
	if br.err {
		return truncated("packet header")
	}
	*hpos = br.pos
	if t2.tp.eph && *hpos+2 <= len(hdr) && hdr[*hpos] == 0xFF && hdr[*hpos+1] == 0x92 {
		*hpos += 2
	}
	for _, pd := range t2.pend {
		if pd.n > len(data)-t2.pos {
			return truncated("code-block data")
		}
		sg := &pd.cb.segs[pd.seg]
		sg.data = append(sg.data, data[t2.pos:t2.pos+pd.n]...)
		t2.pos += pd.n
	}
	return nil
}

// slot is one precinct of one component at one resolution, with the
// reference-grid position at which the position-driven progressions visit
// it.
type slot struct {
	c, r, p int
	y, x    int64
}

// decodePackets runs the progression (with POC changes) over the tile.
func (t2 *tier2) decodePackets(tx0, ty0 int64, comps []compSiz) error {
	nc := len(t2.tcs)
	maxRes := 0
	for _, tc := range t2.tcs {
		maxRes = max(maxRes, len(tc.res))
	}
	vols := t2.tp.poc
	if len(vols) == 0 {
		vols = []pocEntry{{rs: 0, cs: 0, lye: t2.tp.layers, re: maxRes, ce: nc, prog: t2.tp.prog}}
	}
	for _, v := range vols {
		lye, re, ce := min(v.lye, t2.tp.layers), min(v.re, maxRes), min(v.ce, nc)
		if v.rs >= re || v.cs >= ce || lye == 0 {
			continue
		}
		var err error
		switch v.prog {
		case progLRCP:
			// Layers with nothing left to decode in the volume are
			// skipped, so the loop costs no more than the packets it reads.
			for l := t2.minNext(v.cs, ce, v.rs, re); l < lye && err == nil; l = max(l+1, t2.minNext(v.cs, ce, v.rs, re)) {
				for r := v.rs; r < re && err == nil; r++ {
					for c := v.cs; c < ce && err == nil; c++ {
						err = t2.resPackets(c, r, l)
					}
				}
			}
		case progRLCP:
			for r := v.rs; r < re && err == nil; r++ {
				for l := t2.minNext(v.cs, ce, r, r+1); l < lye && err == nil; l = max(l+1, t2.minNext(v.cs, ce, r, r+1)) {
					for c := v.cs; c < ce && err == nil; c++ {
						err = t2.resPackets(c, r, l)
					}
				}
			}
		default:
			slots := t2.slots(v.cs, ce, v.rs, re, tx0, ty0, comps)
			var key func(a, b slot) int
			switch v.prog {
			case progRPCL:
				key = func(a, b slot) int {
					return cmp.Or(cmp.Compare(a.r, b.r), cmp.Compare(a.y, b.y), cmp.Compare(a.x, b.x), cmp.Compare(a.c, b.c))
				}
			case progPCRL:
				key = func(a, b slot) int {
					return cmp.Or(cmp.Compare(a.y, b.y), cmp.Compare(a.x, b.x), cmp.Compare(a.c, b.c), cmp.Compare(a.r, b.r))
				}
			default: // CPRL
				key = func(a, b slot) int {
					return cmp.Or(cmp.Compare(a.c, b.c), cmp.Compare(a.y, b.y), cmp.Compare(a.x, b.x), cmp.Compare(a.r, b.r))
				}
			}
			slices.SortStableFunc(slots, key)
			for _, s := range slots {
				for l := t2.tcs[s.c].res[s.r].precincts[s.p].next; l < lye && err == nil; l++ {
					err = t2.packet(s.c, s.r, s.p, l)
				}
				if err != nil {
					break
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// minNext is the lowest layer still to decode among the precincts of
// components [cs, ce) at resolutions [rs, re), or maxInt if none.
func (t2 *tier2) minNext(cs, ce, rs, re int) int {
	m := int(^uint(0) >> 1)
	for c := cs; c < ce; c++ {
		res := t2.tcs[c].res
		for r := rs; r < re && r < len(res); r++ {
			for i := range res[r].precincts {
				m = min(m, res[r].precincts[i].next)
			}
		}
	}
	return m
}

// resPackets decodes layer l of every precinct of component c at
// resolution r.
func (t2 *tier2) resPackets(c, r, l int) error {
	tc := &t2.tcs[c]
	if r >= len(tc.res) {
		return nil
	}
	for p := range tc.res[r].precincts {
		if err := t2.packet(c, r, p, l); err != nil {
			return err
		}
	}
	return nil
}

func (t2 *tier2) slots(cs, ce, rs, re int, tx0, ty0 int64, comps []compSiz) []slot {
	var out []slot
	for c := cs; c < ce; c++ {
		tc := &t2.tcs[c]
		nl := len(tc.res) - 1
		for r := rs; r < re && r <= nl; r++ {
			res := &tc.res[r]
			for j := 0; j < res.nph; j++ {
				// B.12.1.3: a precinct is visited where its first sample
				// lies on the reference grid, except that an unaligned
				// first precinct is visited at the tile's origin.
				y := ((res.py0 + int64(j)) << res.ppy << (nl - r)) * int64(comps[c].dy)
				if j == 0 && res.y0&(1<<res.ppy-1) != 0 {
					y = ty0
				}
				for i := 0; i < res.npw; i++ {
					x := ((res.px0 + int64(i)) << res.ppx << (nl - r)) * int64(comps[c].dx)
					if i == 0 && res.x0&(1<<res.ppx-1) != 0 {
						x = tx0
					}
					out = append(out, slot{c: c, r: r, p: j*res.npw + i, y: y, x: x})
				}
			}
		}
	}
	return out
}

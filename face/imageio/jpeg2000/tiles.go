package jpeg2000

import (
	"encoding/binary"
)

// decoder holds the state of one decode.
type decoder struct {
	lim  Limits
	data []byte // the codestream
	pos  int
	siz  siz
	main codingParams

	tiles     []*tileData
	ppm       []byte // PPM stream: Nppm and packet headers per tile-part
	hasPPM    bool
	blocks    int        // code-blocks laid out so far, over all tiles
	precincts int        // precincts laid out so far, over all tiles
	planes    [][]uint16 // per component, samples offset to unsigned
	pw, ph    []int      // plane sizes
	irrev     []bool     // per component: some tile used the 9/7 transform
}

// tileData collects the tile-parts of one tile.
type tileData struct {
	parts   int
	bodies  [][]byte
	headers []byte // packet headers from PPM, if any
	params  codingParams
	size    int
}

// readTiles reads every tile-part up to EOC, then decodes the tiles.
func (d *decoder) readTiles() error {
	nt := d.siz.ntx * d.siz.nty
	d.tiles = make([]*tileData, nt)
	if d.main.npacked > 0 {
		ppm, err := d.main.packedHeaders()
		if err != nil {
			return err
		}
		d.ppm, d.hasPPM = ppm, true
	}
	nc := len(d.siz.comps)
	for {
		if d.pos == len(d.data) {
			// Some writers omit EOC. The stream is complete if every
			// tile and packet is there, which decodeTile checks.
			break
		}
		if d.pos+2 > len(d.data) {
			return truncated("no EOC marker")
		}
		m := binary.BigEndian.Uint16(d.data[d.pos:])
		if m == mEOC {
			break
		}
		if m != mSOT {
			return formatErr("expected SOT, found %04X", m)
		}
		sot := d.pos
		_, p, err := d.segment()
		if err != nil {
			return err
		}
		if len(p) != 8 {
			return formatErr("SOT length %d", len(p))
		}
		it := int(binary.BigEndian.Uint16(p))
		psot := int(binary.BigEndian.Uint32(p[2:]))
		tpsot := int(p[6])
		if it >= nt {
			return formatErr("tile index %d of %d", it, nt)
		}
		t := d.tiles[it]
		if t == nil {
			t = &tileData{params: newCodingParams(nc)}
			d.tiles[it] = t
		}
		if tpsot != t.parts {
			return formatErr("tile-part %d of tile %d out of order", tpsot, it)
		}
		t.parts++
		for {
			m, p, err := d.segment()
			if err != nil {
				return err
			}
			if m == mSOD {
				break
			}
			switch m {
			case mCOD, mCOC, mQCD, mQCC, mRGN:
				if tpsot != 0 {
					return formatErr("marker %04X after the first tile-part", m)
				}
			case mTLM, mPLM, mCRG, mPPM:
				return formatErr("marker %04X in a tile-part header", m)
			case mPPT:
				if d.hasPPM {
					return formatErr("both PPM and PPT")
				}
			}
			if err := d.parseParamMarker(m, p, &t.params); err != nil {
				return err
			}
		}
		var end int
		if psot != 0 {
			if psot < d.pos-sot {
				return formatErr("SOT length %d", psot)
			}
			if psot > len(d.data)-sot {
				return truncated("tile-part of tile %d", it)
			}
			end = sot + psot
		} else {
			// The last tile-part runs to EOC, or to the end of the data.
			end = len(d.data)
			if len(d.data) >= d.pos+2 && binary.BigEndian.Uint16(d.data[len(d.data)-2:]) == mEOC {
				end = len(d.data) - 2
			}
		}
		if d.hasPPM {
			// This tile-part's packet headers come next in the PPM stream.
			if len(d.ppm) < 4 {
				return truncated("PPM packet headers")
			}
			n := binary.BigEndian.Uint32(d.ppm)
			if uint64(n) > uint64(len(d.ppm)-4) {
				return truncated("PPM packet headers")
			}
			t.headers = append(t.headers, d.ppm[4:4+n]...)
			d.ppm = d.ppm[4+n:]
		}
		t.bodies = append(t.bodies, d.data[d.pos:end])
		t.size += end - d.pos
		d.pos = end
	}
	for i, t := range d.tiles {
		if t == nil {
			return truncated("tile %d missing", i)
		}
	}
	d.allocPlanes()
	for i, t := range d.tiles {
		if err := d.decodeTile(i, t); err != nil {
			return err
		}
		d.tiles[i] = nil // release the tile's data
	}
	return nil
}

func (d *decoder) allocPlanes() {
	s := &d.siz
	nc := len(s.comps)
	d.planes = make([][]uint16, nc)
	d.irrev = make([]bool, nc)
	d.pw, d.ph = make([]int, nc), make([]int, nc)
	for c, cs := range s.comps {
		w := ceilDiv(int64(s.x1), int64(cs.dx)) - ceilDiv(int64(s.x0), int64(cs.dx))
		h := ceilDiv(int64(s.y1), int64(cs.dy)) - ceilDiv(int64(s.y0), int64(cs.dy))
		d.pw[c], d.ph[c] = int(w), int(h)
		d.planes[c] = make([]uint16, w*h)
	}
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// ceilShift is ceil(a / 2^n) for a >= 0.
func ceilShift(a int64, n int) int64 { return (a + (1 << n) - 1) >> n }

func floorShift(a int64, n int) int64 { return a >> n }

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

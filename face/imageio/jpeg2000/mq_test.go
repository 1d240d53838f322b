package jpeg2000

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestMQKnownAnswer decodes the MQ coder test sequence of ITU-T T.88
// (JBIG2) Annex H.2, which uses the same arithmetic coder as JPEG 2000: 256
// bits in a single context starting in state 0.
func TestMQKnownAnswer(t *testing.T) {
	want := []byte{
		0x00, 0x02, 0x00, 0x51, 0x00, 0x00, 0x00, 0xC0, 0x03, 0x52, 0x87, 0x2A, 0xAA, 0xAA, 0xAA, 0xAA,
		0x82, 0xC0, 0x20, 0x00, 0xFC, 0xD7, 0x9E, 0xF6, 0xBF, 0x7F, 0xED, 0x90, 0x4F, 0x46, 0xA3, 0xBF,
	}
	coded := []byte{
		0x84, 0xC7, 0x3B, 0xFC, 0xE1, 0xA1, 0x43, 0x04, 0x02, 0x20, 0x00, 0x00, 0x41, 0x0D, 0xBB, 0x86,
		0xF4, 0x31, 0x7F, 0xFF, 0x88, 0xFF, 0x37, 0x47, 0x1A, 0xDB, 0x6A, 0xDF, 0xFF, 0xAC,
	}
	var m mqDecoder
	m.resetContexts()
	m.ctx[0] = &mqStates[0]
	m.init(coded)
	got := make([]byte, len(want))
	for i := range got {
		for b := 7; b >= 0; b-- {
			got[i] |= byte(m.decode(0)) << b
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("MQ decode(T.88 H.2) = %X, want %X", got, want)
	}
}

// TestTagTree round-trips leaf values through an encoder written from
// B.10.2 and the decoder, reading each value as tier-2 reads zero
// bit-planes: with thresholds 1, 2, ... until the leaf is known.
func TestTagTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	grids := [][2]int{{1, 1}, {3, 2}, {7, 5}, {16, 1}, {1, 9}, {33, 17}}
	for _, g := range grids {
		w, h := g[0], g[1]
		vals := make([]int32, w*h)
		for i := range vals {
			vals[i] = int32(rng.IntN(6))
		}
		br := bitReader{data: packBits(encodeTagTree(vals, w, h))}
		tt := newTagTree(w, h)
		for i, v := range vals {
			var got int32
			for !tt.decode(&br, i, got+1) && got < 100 {
				got++
			}
			if got != v {
				t.Fatalf("%dx%d: tagTree.decode(leaf %d) = %d, want %d", w, h, i, got, v)
			}
		}
		if br.err {
			t.Errorf("%dx%d: tagTree.decode read past the encoded bits", w, h)
		}
	}
}

// encodeTagTree is a direct tag tree encoder (B.10.2): for each leaf in
// turn, from the root down, each node emits 0s until its value is reached
// and then a 1, continuing from its parent's value; known nodes emit
// nothing.
func encodeTagTree(vals []int32, w, h int) []int {
	type node struct {
		val, low int32
		known    bool
		parent   int
	}
	var nodes []node
	levels := [][2]int{}
	lw, lh := w, h
	for {
		levels = append(levels, [2]int{lw, lh})
		if lw*lh <= 1 {
			break
		}
		lw, lh = (lw+1)/2, (lh+1)/2
	}
	off := []int{0}
	for _, l := range levels {
		off = append(off, off[len(off)-1]+l[0]*l[1])
	}
	nodes = make([]node, off[len(off)-1])
	for i := range nodes {
		nodes[i].val = 1 << 30
		nodes[i].parent = -1
	}
	for li := 0; li < len(levels); li++ {
		l := levels[li]
		for y := 0; y < l[1]; y++ {
			for x := 0; x < l[0]; x++ {
				if li+1 < len(levels) {
					nodes[off[li]+y*l[0]+x].parent = off[li+1] + (y/2)*levels[li+1][0] + x/2
				}
			}
		}
	}
	// Node values: leaves given, parents the minimum of their children.
	for i, v := range vals {
		for n := i; n >= 0; n = nodes[n].parent {
			nodes[n].val = min(nodes[n].val, v)
		}
	}
	var bits []int
	for i := range vals {
		var path []int
		for n := i; n >= 0; n = nodes[n].parent {
			path = append([]int{n}, path...)
		}
		low := int32(0)
		for _, n := range path {
			nd := &nodes[n]
			low = max(low, nd.low)
			for !nd.known && low <= nd.val {
				if low < nd.val {
					bits = append(bits, 0)
					low++
				} else {
					bits = append(bits, 1)
					nd.known = true
				}
			}
			nd.low = low
			low = nd.val
		}
	}
	return bits
}

// packBits packs bits MSB first, stuffing a 0 bit after each 0xFF byte.
func packBits(bits []int) []byte {
	var out []byte
	var cur, n int
	limit := 8
	for _, b := range bits {
		cur = cur<<1 | b
		n++
		if n == limit {
			out = append(out, byte(cur))
			limit = 8
			if cur == 0xFF {
				limit = 7
			}
			cur, n = 0, 0
		}
	}
	if n > 0 {
		out = append(out, byte(cur<<(limit-n)))
	}
	return out
}

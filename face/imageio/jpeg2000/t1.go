package jpeg2000

// Tier-1: code-block decoding (Annex D). Coefficients are reconstructed
// with one extra fractional bit (value × 2), so that a partially decoded
// coefficient can take the midpoint of its interval, as OpenJPEG does.

const (
	fSig     = 1 << iota // significant
	fNeg                 // negative
	fVisit               // coded in this bit-plane's significance pass
	fRefined             // refined at least once
)

// zcLUT maps (orientation, h, v, d) to a zero-coding context (Table D.1).
var zcLUT = func() (t [4][3 * 3 * 5]uint8) {
	for o := 0; o < 4; o++ {
		for h := 0; h < 3; h++ {
			for v := 0; v < 3; v++ {
				for d := 0; d < 5; d++ {
					t[o][h*15+v*5+d] = zcContext(o, h, v, d)
				}
			}
		}
	}
	return t
}()

func zcContext(o, h, v, d int) uint8 {
	if o == bandHL {
		h, v = v, h
	}
	if o == bandHH {
		hv := h + v
		switch {
		case d >= 3:
			return 8
		case d == 2:
			if hv >= 1 {
				return 7
			}
			return 6
		case d == 1:
			switch {
			case hv >= 2:
				return 5
			case hv == 1:
				return 4
			}
			return 3
		}
		switch {
		case hv >= 2:
			return 2
		case hv == 1:
			return 1
		}
		return 0
	}
	switch {
	case h == 2:
		return 8
	case h == 1:
		switch {
		case v >= 1:
			return 7
		case d >= 1:
			return 6
		}
		return 5
	}
	switch {
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

// t1 decodes code-blocks; its buffers are reused between blocks.
type t1 struct {
	w, h   int
	stride int
	flags  []uint8
	data   []int32
	mq     mqDecoder
	raw    rawDecoder
	zc     *[45]uint8
	vsc    bool
}

func (t *t1) reset(w, h int) {
	t.w, t.h, t.stride = w, h, w+2
	n := (w + 2) * (h + 2)
	if cap(t.flags) < n {
		t.flags = make([]uint8, n)
	}
	t.flags = t.flags[:n]
	clear(t.flags)
	if cap(t.data) < w*h {
		t.data = make([]int32, w*h)
	}
	t.data = t.data[:w*h]
	clear(t.data)
}

// neighbours returns the significance counts (h, v, d) around flag index
// i; below is false when the row below is excluded (vertically causal
// mode, last row of a stripe).
func (t *t1) ctxIndex(i int, below bool) int {
	f, s := t.flags, t.stride
	h := int(f[i-1]&fSig) + int(f[i+1]&fSig)
	v := int(f[i-s] & fSig)
	d := int(f[i-s-1]&fSig) + int(f[i-s+1]&fSig)
	if below {
		v += int(f[i+s] & fSig)
		d += int(f[i+s-1]&fSig) + int(f[i+s+1]&fSig)
	}
	return h*15 + v*5 + d
}

// signCtx returns the sign context and the XOR bit (Table D.3).
func (t *t1) signCtx(i int, below bool) (int, uint32) {
	f, s := t.flags, t.stride
	contrib := func(x uint8) int {
		if x&fSig == 0 {
			return 0
		}
		if x&fNeg != 0 {
			return -1
		}
		return 1
	}
	h := contrib(f[i-1]) + contrib(f[i+1])
	v := contrib(f[i-s])
	if below {
		v += contrib(f[i+s])
	}
	h, v = max(-1, min(1, h)), max(-1, min(1, v))
	if h < 0 || (h == 0 && v < 0) {
		h, v = -h, -v
		return ctxSC + signBase(h, v), 1
	}
	return ctxSC + signBase(h, v), 0
}

// signBase is the sign context offset for h >= 0 (and v >= 0 if h == 0).
func signBase(h, v int) int {
	if h == 0 {
		return v // 0 or 1
	}
	return 3 + v // v = -1, 0, 1: offsets 2, 3, 4
}

func (t *t1) below(y int) bool {
	return !t.vsc || y&3 != 3
}

func (t *t1) setSig(i, j int, neg bool, v int32) {
	if neg {
		t.flags[i] |= fSig | fNeg
		t.data[j] = -v
	} else {
		t.flags[i] |= fSig
		t.data[j] = v
	}
}

func (t *t1) sigPass(bp uint, raw bool) {
	one := int32(1) << bp
	oph := one | one>>1
	for y0 := 0; y0 < t.h; y0 += 4 {
		y1 := min(y0+4, t.h)
		for x := 0; x < t.w; x++ {
			for y := y0; y < y1; y++ {
				i := (y+1)*t.stride + x + 1
				if t.flags[i]&fSig != 0 {
					continue
				}
				below := t.below(y)
				ci := t.ctxIndex(i, below)
				if ci == 0 {
					continue
				}
				var bit uint32
				if raw {
					bit = t.raw.decode()
				} else {
					bit = t.mq.decode(int(t.zc[ci]))
				}
				if bit != 0 {
					var neg uint32
					if raw {
						neg = t.raw.decode()
					} else {
						cx, xor := t.signCtx(i, below)
						neg = t.mq.decode(cx) ^ xor
					}
					t.setSig(i, y*t.w+x, neg != 0, oph)
				}
				t.flags[i] |= fVisit
			}
		}
	}
}

func (t *t1) refPass(bp uint, raw bool) {
	half := (int32(1) << bp) >> 1
	for y0 := 0; y0 < t.h; y0 += 4 {
		y1 := min(y0+4, t.h)
		for x := 0; x < t.w; x++ {
			for y := y0; y < y1; y++ {
				i := (y+1)*t.stride + x + 1
				f := t.flags[i]
				if f&(fSig|fVisit) != fSig {
					continue
				}
				var bit uint32
				if raw {
					bit = t.raw.decode()
				} else {
					cx := ctxMR + 2
					if f&fRefined == 0 {
						cx = ctxMR
						if t.ctxIndex(i, t.below(y)) != 0 {
							cx = ctxMR + 1
						}
					}
					bit = t.mq.decode(cx)
				}
				j := y*t.w + x
				delta := -half
				if bit != 0 {
					delta = half
				}
				if t.data[j] < 0 {
					t.data[j] -= delta
				} else {
					t.data[j] += delta
				}
				t.flags[i] |= fRefined
			}
		}
	}
}

func (t *t1) cleanupPass(bp uint, segsym bool) {
	one := int32(1) << bp
	oph := one | one>>1
	s := t.stride
	for y0 := 0; y0 < t.h; y0 += 4 {
		y1 := min(y0+4, t.h)
		for x := 0; x < t.w; x++ {
			y := y0
			i0 := (y0+1)*s + x + 1
			if y1-y0 == 4 &&
				t.flags[i0]&(fSig|fVisit) == 0 && t.flags[i0+s]&(fSig|fVisit) == 0 &&
				t.flags[i0+2*s]&(fSig|fVisit) == 0 && t.flags[i0+3*s]&(fSig|fVisit) == 0 &&
				t.ctxIndex(i0, true) == 0 && t.ctxIndex(i0+s, true) == 0 &&
				t.ctxIndex(i0+2*s, true) == 0 && t.ctxIndex(i0+3*s, t.below(y0+3)) == 0 {
				if t.mq.decode(ctxRL) == 0 {
					continue
				}
				r := int(t.mq.decode(ctxUniform)<<1 | t.mq.decode(ctxUniform))
				y = y0 + r
				i := (y+1)*s + x + 1
				cx, xor := t.signCtx(i, t.below(y))
				neg := t.mq.decode(cx) ^ xor
				t.setSig(i, y*t.w+x, neg != 0, oph)
				y++
			}
			for ; y < y1; y++ {
				i := (y+1)*s + x + 1
				if t.flags[i]&(fSig|fVisit) != 0 {
					continue
				}
				below := t.below(y)
				if t.mq.decode(int(t.zc[t.ctxIndex(i, below)])) != 0 {
					cx, xor := t.signCtx(i, below)
					neg := t.mq.decode(cx) ^ xor
					t.setSig(i, y*t.w+x, neg != 0, oph)
				}
			}
		}
	}
	for i := range t.flags {
		t.flags[i] &^= fVisit
	}
	if segsym {
		// The segmentation symbol 1010; a mismatch signals an error the
		// decoder cannot repair, and the coefficients are kept as decoded.
		for k := 0; k < 4; k++ {
			t.mq.decode(ctxUniform)
		}
	}
}

// decodeBlock decodes code-block cb of a band with mb magnitude bit-planes
// and ROI shift roi into t.data (values × 2).
func (t *t1) decodeBlock(cb *codeBlock, orient int, style byte, mb, roi int) error {
	w, h := int(cb.x1-cb.x0), int(cb.y1-cb.y0)
	t.reset(w, h)
	if cb.passes == 0 {
		return nil
	}
	k := mb + roi - cb.zbp // coded bit-planes
	if k > maxBitPlanes {
		return formatErr("%d bit-planes in a code-block", k)
	}
	if k <= 0 {
		return nil // nothing can be coded; the encoder sent only zeros
	}
	t.zc = &zcLUT[orient]
	t.vsc = style&cbVSC != 0
	t.mq.resetContexts()
	pass := 0
	for si := range cb.segs {
		sg := &cb.segs[si]
		for n := 0; n < sg.passes; n, pass = n+1, pass+1 {
			bp := k - (pass+2)/3 // bit-plane, counted from 1 (the half bit is 0)
			if bp < 1 {
				return nil
			}
			typ := (pass + 2) % 3 // 0 significance, 1 refinement, 2 cleanup
			raw := style&cbBypass != 0 && pass >= 10 && typ != 2
			if n == 0 {
				if raw {
					t.raw.init(sg.data)
				} else {
					t.mq.init(sg.data)
				}
			}
			switch typ {
			case 0:
				t.sigPass(uint(bp), raw)
			case 1:
				t.refPass(uint(bp), raw)
			default:
				t.cleanupPass(uint(bp), style&cbSegSym != 0)
			}
			if style&cbReset != 0 {
				t.mq.resetContexts()
			}
		}
	}
	if roi > 0 {
		thresh := int32(1) << uint(roi+1)
		for j, v := range t.data {
			m := v
			if m < 0 {
				m = -m
			}
			if m >= thresh {
				m >>= uint(roi)
				if v < 0 {
					m = -m
				}
				t.data[j] = m
			}
		}
	}
	return nil
}

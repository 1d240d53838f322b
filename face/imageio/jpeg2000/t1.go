package jpeg2000

// Tier-1: code-block decoding (Annex D). Coefficients are reconstructed
// with one extra fractional bit (value × 2), so that a partially decoded
// coefficient can take the midpoint of its interval, as OpenJPEG does.

// Flags kept per coefficient (with a one-sample border): the significance
// of the eight neighbours and the signs of the four direct ones, so that
// every context is one table lookup, plus the coefficient's own state.
const (
	nNW = 1 << iota
	nN
	nNE
	nW
	nE
	nSW
	nS
	nSE
	sN // north neighbour negative
	sS
	sW
	sE
	fSig     // significant
	fNeg     // negative
	fVisit   // coded in this bit-plane's significance pass
	fRefined // refined at least once

	southMask = nSW | nS | nSE | sS // hidden in vertically causal mode
)

// zcLUT maps the neighbour bits to a zero-coding context (Table D.1),
// per band orientation.
var zcLUT = func() (t [4][256]uint8) {
	for o := 0; o < 4; o++ {
		for b := 0; b < 256; b++ {
			bit := func(m int) int {
				if b&m != 0 {
					return 1
				}
				return 0
			}
			h := bit(nW) + bit(nE)
			v := bit(nN) + bit(nS)
			d := bit(nNW) + bit(nNE) + bit(nSW) + bit(nSE)
			t[o][b] = zcContext(o, h, v, d)
		}
	}
	return t
}()

// signLUT maps the direct neighbours' significance and sign bits to the
// sign context (bits 0-4) and the XOR bit (bit 7) of Table D.3.
var signLUT = func() (t [1 << 12]uint8) {
	for b := range t {
		contrib := func(sig, neg int) int {
			if b&sig == 0 {
				return 0
			}
			if b&neg != 0 {
				return -1
			}
			return 1
		}
		h := max(-1, min(1, contrib(nW, sW)+contrib(nE, sE)))
		v := max(-1, min(1, contrib(nN, sN)+contrib(nS, sS)))
		var xor uint8
		if h < 0 || (h == 0 && v < 0) {
			h, v, xor = -h, -v, 0x80
		}
		off := v // h == 0: v is 0 or 1
		if h == 1 {
			off = 3 + v // v = -1, 0, 1: offsets 2, 3, 4
		}
		t[b] = uint8(ctxSC+off) | xor
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
	flags  []uint16
	data   []int32
	mq     mqDecoder
	raw    rawDecoder
	zc     *[256]uint8
	vsc    bool
}

func (t *t1) reset(w, h int) {
	t.w, t.h, t.stride = w, h, w+2
	n := (w + 2) * (h + 2)
	if cap(t.flags) < n {
		t.flags = make([]uint16, n)
	}
	t.flags = t.flags[:n]
	clear(t.flags)
	if cap(t.data) < w*h {
		t.data = make([]int32, w*h)
	}
	t.data = t.data[:w*h]
	clear(t.data)
}

// nbMask is the mask of neighbour bits visible from row k of a stripe.
func (t *t1) nbMask(k int) uint16 {
	if t.vsc && k == 3 {
		return ^uint16(southMask)
	}
	return 0xFFFF
}

// setSig makes coefficient i (data index j) significant with magnitude v
// and tells its neighbours.
func (t *t1) setSig(i, j int, neg bool, v int32) {
	f, s := t.flags, t.stride
	f[i-s-1] |= nSE
	f[i-s+1] |= nSW
	f[i+s-1] |= nNE
	f[i+s+1] |= nNW
	if neg {
		f[i] |= fSig | fNeg
		f[i-s] |= nS | sS
		f[i+s] |= nN | sN
		f[i-1] |= nE | sE
		f[i+1] |= nW | sW
		t.data[j] = -v
		return
	}
	f[i] |= fSig
	f[i-s] |= nS
	f[i+s] |= nN
	f[i-1] |= nE
	f[i+1] |= nW
	t.data[j] = v
}

// decodeSign decodes the sign of coefficient i given its visible
// neighbour bits nb.
func (t *t1) decodeSign(nb uint16) bool {
	l := signLUT[nb&0xFFF]
	return t.mq.decode(int(l&0x1F))^uint32(l>>7) != 0
}

func (t *t1) sigPass(bp uint, raw bool) {
	one := int32(1) << bp
	oph := one | one>>1
	s := t.stride
	for y0 := 0; y0 < t.h; y0 += 4 {
		rows := min(4, t.h-y0)
		for x := 0; x < t.w; x++ {
			i := (y0+1)*s + x + 1
			for k := 0; k < rows; k, i = k+1, i+s {
				f := t.flags[i]
				if f&fSig != 0 {
					continue
				}
				nb := f & t.nbMask(k)
				if nb&0xFF == 0 {
					continue
				}
				var bit uint32
				if raw {
					bit = t.raw.decode()
				} else {
					bit = t.mq.decode(int(t.zc[nb&0xFF]))
				}
				if bit != 0 {
					var neg bool
					if raw {
						neg = t.raw.decode() != 0
					} else {
						neg = t.decodeSign(nb)
					}
					t.setSig(i, (y0+k)*t.w+x, neg, oph)
				}
				t.flags[i] |= fVisit
			}
		}
	}
}

func (t *t1) refPass(bp uint, raw bool) {
	half := (int32(1) << bp) >> 1
	s := t.stride
	for y0 := 0; y0 < t.h; y0 += 4 {
		rows := min(4, t.h-y0)
		for x := 0; x < t.w; x++ {
			i := (y0+1)*s + x + 1
			for k := 0; k < rows; k, i = k+1, i+s {
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
						if f&t.nbMask(k)&0xFF != 0 {
							cx = ctxMR + 1
						}
					}
					bit = t.mq.decode(cx)
				}
				j := (y0+k)*t.w + x
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
	const busy = fSig | fVisit | 0xFF
	for y0 := 0; y0 < t.h; y0 += 4 {
		rows := min(4, t.h-y0)
		for x := 0; x < t.w; x++ {
			i0 := (y0+1)*s + x + 1
			k := 0
			if rows == 4 &&
				t.flags[i0]&busy == 0 && t.flags[i0+s]&busy == 0 &&
				t.flags[i0+2*s]&busy == 0 && t.flags[i0+3*s]&t.nbMask(3)&busy == 0 {
				if t.mq.decode(ctxRL) == 0 {
					continue
				}
				k = int(t.mq.decode(ctxUniform)<<1 | t.mq.decode(ctxUniform))
				i := i0 + k*s
				neg := t.decodeSign(t.flags[i] & t.nbMask(k))
				t.setSig(i, (y0+k)*t.w+x, neg, oph)
				k++
			}
			for i := i0 + k*s; k < rows; k, i = k+1, i+s {
				f := t.flags[i]
				if f&(fSig|fVisit) != 0 {
					t.flags[i] = f &^ fVisit
					continue
				}
				nb := f & t.nbMask(k)
				if t.mq.decode(int(t.zc[nb&0xFF])) != 0 {
					t.setSig(i, (y0+k)*t.w+x, t.decodeSign(nb), oph)
				}
			}
		}
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

package jpeg2000

// The MQ arithmetic decoder (Annex C) and the raw decoder used by the
// selective arithmetic coding bypass (D.6).

type qeEntry struct {
	qe         uint32
	nmps, nlps uint8
	sw         bool
}

var qeTable = [47]qeEntry{
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

// Contexts (Table D.7): 0-8 zero coding, 9-13 sign, 14-16 refinement,
// 17 run-length, 18 uniform.
const (
	ctxSC      = 9
	ctxMR      = 14
	ctxRL      = 17
	ctxUniform = 18
	numCtx     = 19
)

// mqState is one row of the probability estimation table (Table C.2) for
// one MPS value: the 47 rows × 2 make a state machine whose transitions
// are pointers.
type mqState struct {
	qe         uint32
	mps        uint32
	nmps, nlps *mqState
}

// mqStates are the 94 states: index 2*row + mps.
var mqStates = func() (t [94]mqState) {
	for i, e := range qeTable {
		for mps := 0; mps < 2; mps++ {
			st := &t[2*i+mps]
			st.qe = e.qe
			st.mps = uint32(mps)
			st.nmps = &t[2*int(e.nmps)+mps]
			lps := mps
			if e.sw {
				lps = 1 - mps
			}
			st.nlps = &t[2*int(e.nlps)+lps]
		}
	}
	return t
}()

type mqDecoder struct {
	data []byte
	pos  int
	a, c uint32
	ct   uint
	ctx  [numCtx]*mqState
}

func (m *mqDecoder) resetContexts() {
	for i := range m.ctx {
		m.ctx[i] = &mqStates[0]
	}
	m.ctx[0] = &mqStates[2*4]
	m.ctx[ctxRL] = &mqStates[2*3]
	m.ctx[ctxUniform] = &mqStates[2*46]
}

// byteAt returns data[i], or 0xFF past the end (which reads as a marker,
// feeding 1-bits, as the standard specifies).
func (m *mqDecoder) byteAt(i int) uint32 {
	if uint(i) < uint(len(m.data)) {
		return uint32(m.data[i])
	}
	return 0xFF
}

// init starts decoding a new terminated segment (INITDEC, C.3.5).
func (m *mqDecoder) init(data []byte) {
	m.data, m.pos = data, 0
	m.c = m.byteAt(0) << 16
	m.bytein()
	m.c <<= 7
	m.ct -= 7
	m.a = 0x8000
}

// bytein is BYTEIN (C.3.4).
func (m *mqDecoder) bytein() {
	if m.byteAt(m.pos) == 0xFF {
		if b1 := m.byteAt(m.pos + 1); b1 > 0x8F {
			m.c += 0xFF00
			m.ct = 8
		} else {
			m.pos++
			m.c += b1 << 9
			m.ct = 7
		}
		return
	}
	m.pos++
	m.c += m.byteAt(m.pos) << 8
	m.ct = 8
}

// decode is DECODE (C.3.2) in context cx. The common case, an MPS without
// renormalization, is small enough to inline.
func (m *mqDecoder) decode(cx int) uint32 {
	s := m.ctx[cx]
	m.a -= s.qe
	if m.c>>16 >= s.qe && m.a&0x8000 != 0 {
		m.c -= s.qe << 16
		return s.mps
	}
	return m.decodeSlow(cx, s)
}

func (m *mqDecoder) decodeSlow(cx int, s *mqState) uint32 {
	var d uint32
	if m.c>>16 < s.qe {
		// LPS_EXCHANGE
		if m.a < s.qe {
			d = s.mps
			m.ctx[cx] = s.nmps
		} else {
			d = 1 - s.mps
			m.ctx[cx] = s.nlps
		}
		m.a = s.qe
	} else {
		m.c -= s.qe << 16
		// MPS_EXCHANGE
		if m.a < s.qe {
			d = 1 - s.mps
			m.ctx[cx] = s.nlps
		} else {
			d = s.mps
			m.ctx[cx] = s.nmps
		}
	}
	// RENORMD
	for {
		if m.ct == 0 {
			m.bytein()
		}
		m.a <<= 1
		m.c <<= 1
		m.ct--
		if m.a&0x8000 != 0 {
			break
		}
	}
	return d
}

// rawDecoder reads the uncoded bits of bypassed passes.
type rawDecoder struct {
	data []byte
	pos  int
	c    uint32
	ct   uint
}

func (r *rawDecoder) init(data []byte) {
	r.data, r.pos, r.c, r.ct = data, 0, 0, 0
}

func (r *rawDecoder) decode() uint32 {
	if r.ct == 0 {
		next := uint32(0xFF)
		if r.pos < len(r.data) {
			next = uint32(r.data[r.pos])
		}
		if r.c == 0xFF {
			if next > 0x8F {
				r.c, r.ct = 0xFF, 8
			} else {
				r.c, r.ct = next, 7
				r.pos++
			}
		} else {
			r.c, r.ct = next, 8
			r.pos++
		}
	}
	r.ct--
	return (r.c >> r.ct) & 1
}

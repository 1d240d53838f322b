package jpeg2000

// Inverse discrete wavelet transforms (Annex F): 2D_SR interleaves the four
// sub-bands of each level and filters rows, then columns, with whole-sample
// symmetric extension. Positions are absolute, so the parity of a tile's
// origin decides which samples are low-pass. Columns are filtered in
// groups of colGroup, so that memory is read in rows.

const (
	dwtPad   = 4 // extension on each side, enough for the 9/7 filter
	colGroup = 8
)

const (
	dwtAlpha = -1.586134342059924
	dwtBeta  = -0.052980118572961
	dwtGamma = 0.882911075530934
	dwtDelta = 0.443506852043971
	dwtK     = 1.230174104914001
)

// mirror reflects index i into [0, n) (period 2(n-1)).
func mirror(i, n int) int {
	if n == 1 {
		return 0
	}
	p := 2 * (n - 1)
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - i
	}
	return i
}

// extendG fills the dwtPad rows before and after the n rows of g (groups of
// width gw starting at dwtPad) by symmetric extension.
func extendG[T int32 | float32](g []T, n, gw int) {
	for k := 1; k <= dwtPad; k++ {
		copy(g[(dwtPad-k)*gw:(dwtPad-k+1)*gw], g[(dwtPad+mirror(-k, n))*gw:])
		copy(g[(dwtPad+n-1+k)*gw:(dwtPad+n+k)*gw], g[(dwtPad+mirror(n-1+k, n))*gw:])
	}
}

// lift53 runs the 5/3 lifting steps on g, n samples (each gw wide, after
// dwtPad of extension) whose first sits at a position of parity par.
func lift53(g []int32, n, gw, par int) {
	l := n + 2*dwtPad
	if gw == 1 {
		g = g[:l]
		for j := 1 + (1+par)&1; j < l-1; j += 2 {
			g[j] -= (g[j-1] + g[j+1] + 2) >> 2
		}
		for j := 1 + par&1; j < l-1; j += 2 {
			g[j] += (g[j-1] + g[j+1]) >> 1
		}
		return
	}
	// Position j is low-pass when (j + par) is even.
	for j := 1 + (1+par)&1; j < l-1; j += 2 {
		c, a, b := g[j*gw:(j+1)*gw], g[(j-1)*gw:j*gw], g[(j+1)*gw:(j+2)*gw]
		for k := range c {
			c[k] -= (a[k] + b[k] + 2) >> 2
		}
	}
	for j := 1 + par&1; j < l-1; j += 2 {
		c, a, b := g[j*gw:(j+1)*gw], g[(j-1)*gw:j*gw], g[(j+1)*gw:(j+2)*gw]
		for k := range c {
			c[k] += (a[k] + b[k]) >> 1
		}
	}
}

// lift97 runs the 9/7 scaling and lifting steps likewise.
func lift97(g []float32, n, gw, par int) {
	l := n + 2*dwtPad
	ev := par & 1 // first low-pass index
	od := 1 - ev
	if gw == 1 {
		lift97Line(g[:l], ev, od)
		return
	}
	for j := 0; j < l; j++ {
		s := float32(dwtK)
		if j&1 != ev {
			s = 1 / dwtK
		}
		row := g[j*gw : (j+1)*gw]
		for k := range row {
			row[k] *= s
		}
	}
	step := func(start int, c float32) {
		if start == 0 {
			start = 2
		}
		for j := start; j < l-1; j += 2 {
			x, a, b := g[j*gw:(j+1)*gw], g[(j-1)*gw:j*gw], g[(j+1)*gw:(j+2)*gw]
			for k := range x {
				x[k] -= c * (a[k] + b[k])
			}
		}
	}
	step(ev, dwtDelta)
	step(od, dwtGamma)
	step(ev, dwtBeta)
	step(od, dwtAlpha)
}

// lift97Line is lift97 for a single line, with the scaling of the
// low-pass samples folded into the first lifting step (same arithmetic).
func lift97Line(g []float32, ev, od int) {
	l := len(g)
	const invK = 1 / dwtK
	first := func(start int) int {
		if start == 0 {
			return 2
		}
		return start
	}
	for j := od; j < l; j += 2 {
		g[j] *= invK
	}
	// Low-pass samples the delta step does not reach are only scaled.
	if ev == 0 {
		g[0] *= dwtK
	}
	if (l-1)&1 == ev {
		g[l-1] *= dwtK
	}
	for j := first(ev); j < l-1; j += 2 {
		g[j] = g[j]*dwtK - dwtDelta*(g[j-1]+g[j+1])
	}
	for j := first(od); j < l-1; j += 2 {
		g[j] -= dwtGamma * (g[j-1] + g[j+1])
	}
	for j := first(ev); j < l-1; j += 2 {
		g[j] -= dwtBeta * (g[j-1] + g[j+1])
	}
	for j := first(od); j < l-1; j += 2 {
		g[j] -= dwtAlpha * (g[j-1] + g[j+1])
	}
}

// level is one 2D_SR step: the bands of resolution rs over the previous
// resolution's samples low (geometry lg) into a new raster.
type level[T int32 | float32] struct {
	rs      *resolution
	low     []T
	lg      levelGeom
	hl, lh  []T
	hh      []T
	buf     []T
	lift    func(g []T, n, gw, par int)
	halfOne func(v T) T
}

// levelGeom is a resolution's area.
type levelGeom struct {
	x0, y0, x1, y1 int64
}

func (lv *level[T]) run() []T {
	rs := lv.rs
	w, h := int(rs.x1-rs.x0), int(rs.y1-rs.y0)
	out := make([]T, w*h)
	if w == 0 || h == 0 {
		return out
	}
	b := rs.bands
	lw := int(lv.lg.x1 - lv.lg.x0)
	hlw, lhw, hhw := int(b[0].x1-b[0].x0), int(b[1].x1-b[1].x0), int(b[2].x1-b[2].x0)
	xpar, ypar := int(rs.x0&1), int(rs.y0&1)
	need := (max(w, h) + 2*dwtPad) * colGroup
	if cap(lv.buf) < need {
		lv.buf = make([]T, need)
	}
	e := lv.buf[:w+2*dwtPad]
	// Rows: interleave the low and high bands of each row, then filter.
	for y := 0; y < h; y++ {
		ay := rs.y0 + int64(y)
		var lo, hi []T
		if ay&1 == 0 {
			r := int(ay/2 - lv.lg.y0)
			lo = lv.low[r*lw : (r+1)*lw]
			r = int(ay/2 - b[0].y0)
			hi = lv.hl[r*hlw : (r+1)*hlw]
		} else {
			r := int(ay/2 - b[1].y0)
			lo = lv.lh[r*lhw : (r+1)*lhw]
			r = int(ay/2 - b[2].y0)
			hi = lv.hh[r*hhw : (r+1)*hhw]
		}
		row := out[y*w : (y+1)*w]
		if w == 1 {
			if xpar == 0 {
				row[0] = lo[0]
			} else {
				row[0] = lv.halfOne(hi[0])
			}
			continue
		}
		// Interleave straight into the extension buffer, filter, store.
		m := e[dwtPad : dwtPad+w]
		for x, k := xpar, 0; x < w; x, k = x+2, k+1 {
			m[x] = lo[k]
		}
		for x, k := 1-xpar, 0; x < w; x, k = x+2, k+1 {
			m[x] = hi[k]
		}
		extendG(e, w, 1)
		lv.lift(e, w, 1, xpar)
		copy(row, m)
	}
	// Columns, colGroup at a time.
	if h == 1 {
		if ypar == 1 {
			for x := range out {
				out[x] = lv.halfOne(out[x])
			}
		}
		return out
	}
	for x0 := 0; x0 < w; x0 += colGroup {
		gw := min(colGroup, w-x0)
		g := lv.buf[:(h+2*dwtPad)*gw]
		for y := 0; y < h; y++ {
			copy(g[(dwtPad+y)*gw:(dwtPad+y+1)*gw], out[y*w+x0:y*w+x0+gw])
		}
		extendG(g, h, gw)
		lv.lift(g, h, gw, ypar)
		for y := 0; y < h; y++ {
			copy(out[y*w+x0:y*w+x0+gw], g[(dwtPad+y)*gw:(dwtPad+y+1)*gw])
		}
	}
	return out
}

// idwt53 reconstructs a reversible tile-component from its bands.
func idwt53(tc *tileComp) []int32 {
	r0 := &tc.res[0]
	lv := level[int32]{
		low:     r0.bands[0].icoef,
		lg:      levelGeom{r0.x0, r0.y0, r0.x1, r0.y1},
		lift:    lift53,
		halfOne: func(v int32) int32 { return v / 2 },
	}
	for r := 1; r < len(tc.res); r++ {
		rs := &tc.res[r]
		lv.rs = rs
		lv.hl, lv.lh, lv.hh = rs.bands[0].icoef, rs.bands[1].icoef, rs.bands[2].icoef
		lv.low = lv.run()
		lv.lg = levelGeom{rs.x0, rs.y0, rs.x1, rs.y1}
	}
	return lv.low
}

// idwt97 reconstructs an irreversible tile-component from its bands.
func idwt97(tc *tileComp) []float32 {
	r0 := &tc.res[0]
	lv := level[float32]{
		low:     r0.bands[0].fcoef,
		lg:      levelGeom{r0.x0, r0.y0, r0.x1, r0.y1},
		lift:    lift97,
		halfOne: func(v float32) float32 { return v / 2 },
	}
	for r := 1; r < len(tc.res); r++ {
		rs := &tc.res[r]
		lv.rs = rs
		lv.hl, lv.lh, lv.hh = rs.bands[0].fcoef, rs.bands[1].fcoef, rs.bands[2].fcoef
		lv.low = lv.run()
		lv.lg = levelGeom{rs.x0, rs.y0, rs.x1, rs.y1}
	}
	return lv.low
}

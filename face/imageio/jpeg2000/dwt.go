package jpeg2000

// Inverse discrete wavelet transforms (Annex F): 2D_SR by interleaving the
// four sub-bands of each level and filtering rows, then columns, with
// whole-sample symmetric extension. Positions are absolute, so the parity
// of a tile's origin decides which samples are low-pass.

const dwtPad = 4

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

// extend copies x into the middle of e and fills dwtPad samples on each
// side by whole-sample symmetric extension.
func extend[T int32 | float32](e, x []T) {
	n := len(x)
	copy(e[dwtPad:], x)
	for k := 1; k <= dwtPad; k++ {
		e[dwtPad-k] = x[mirror(-k, n)]
		e[dwtPad+n-1+k] = x[mirror(n-1+k, n)]
	}
}

// idwt53Line inverts the 5/3 transform in place on x, whose first sample
// sits at a position of parity par; ext is scratch of len(x)+2*dwtPad.
func idwt53Line(x, ext []int32, par int) {
	n := len(x)
	if n == 1 {
		if par == 1 {
			x[0] /= 2
		}
		return
	}
	e := ext[:n+2*dwtPad]
	extend(e, x)
	l := len(e)
	// Position j is even (low-pass) when (j + par) is even.
	for j := 1 + (1+par)&1; j < l-1; j += 2 {
		e[j] -= (e[j-1] + e[j+1] + 2) >> 2
	}
	for j := 1 + par&1; j < l-1; j += 2 {
		e[j] += (e[j-1] + e[j+1]) >> 1
	}
	copy(x, e[dwtPad:dwtPad+n])
}

const (
	dwtAlpha = -1.586134342059924
	dwtBeta  = -0.052980118572961
	dwtGamma = 0.882911075530934
	dwtDelta = 0.443506852043971
	dwtK     = 1.230174104914001
)

// idwt97Line inverts the 9/7 transform in place on x.
func idwt97Line(x, ext []float32, par int) {
	n := len(x)
	if n == 1 {
		if par == 1 {
			x[0] /= 2
		}
		return
	}
	e := ext[:n+2*dwtPad]
	extend(e, x)
	l := len(e)
	ev := (dwtPad + par) & 1 // first even (low-pass) index: (j+par) even
	od := 1 - ev
	for j := ev; j < l; j += 2 {
		e[j] *= dwtK
	}
	for j := od; j < l; j += 2 {
		e[j] *= 1 / dwtK
	}
	lift := func(start int, c float32) {
		if start == 0 {
			start = 2
		}
		for j := start; j < l-1; j += 2 {
			e[j] -= c * (e[j-1] + e[j+1])
		}
	}
	lift(ev, dwtDelta)
	lift(od, dwtGamma)
	lift(ev, dwtBeta)
	lift(od, dwtAlpha)
	copy(x, e[dwtPad:dwtPad+n])
}

// levelGeom is one resolution's area and its four bands' origins.
type levelGeom struct {
	x0, y0, x1, y1 int64
}

// interleave places the four sub-bands of resolution rs (whose LL is low,
// the previous resolution) into out, a (x1-x0)*(y1-y0) raster.
func interleave[T int32 | float32](out []T, rs *resolution, low []T, lowGeom levelGeom, hl, lh, hh []T) {
	w := int(rs.x1 - rs.x0)
	h := int(rs.y1 - rs.y0)
	lw := int(lowGeom.x1 - lowGeom.x0)
	b := rs.bands
	hlw := int(b[0].x1 - b[0].x0)
	lhw := int(b[1].x1 - b[1].x0)
	hhw := int(b[2].x1 - b[2].x0)
	for y := 0; y < h; y++ {
		ay := rs.y0 + int64(y)
		row := out[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			ax := rs.x0 + int64(x)
			var v T
			switch {
			case ay&1 == 0 && ax&1 == 0:
				v = low[int(ay/2-lowGeom.y0)*lw+int(ax/2-lowGeom.x0)]
			case ay&1 == 0:
				v = hl[int(ay/2-b[0].y0)*hlw+int(ax/2-b[0].x0)]
			case ax&1 == 0:
				v = lh[int(ay/2-b[1].y0)*lhw+int(ax/2-b[1].x0)]
			default:
				v = hh[int(ay/2-b[2].y0)*hhw+int(ax/2-b[2].x0)]
			}
			row[x] = v
		}
	}
}

// idwt53 reconstructs the tile-component from its bands.
func idwt53(tc *tileComp) []int32 {
	r0 := &tc.res[0]
	cur := r0.bands[0].icoef
	g := levelGeom{r0.x0, r0.y0, r0.x1, r0.y1}
	var line, ext []int32
	for r := 1; r < len(tc.res); r++ {
		rs := &tc.res[r]
		w, h := int(rs.x1-rs.x0), int(rs.y1-rs.y0)
		out := make([]int32, w*h)
		interleave(out, rs, cur, g, rs.bands[0].icoef, rs.bands[1].icoef, rs.bands[2].icoef)
		n := max(w, h)
		if cap(ext) < n+2*dwtPad {
			ext = make([]int32, n+2*dwtPad)
			line = make([]int32, n)
		}
		if w > 0 && h > 0 {
			for y := 0; y < h; y++ {
				idwt53Line(out[y*w:(y+1)*w], ext, int(rs.x0&1))
			}
			for x := 0; x < w; x++ {
				col := line[:h]
				for y := range col {
					col[y] = out[y*w+x]
				}
				idwt53Line(col, ext, int(rs.y0&1))
				for y, v := range col {
					out[y*w+x] = v
				}
			}
		}
		cur = out
		g = levelGeom{rs.x0, rs.y0, rs.x1, rs.y1}
	}
	return cur
}

// idwt97 reconstructs the tile-component from its bands.
func idwt97(tc *tileComp) []float32 {
	r0 := &tc.res[0]
	cur := r0.bands[0].fcoef
	g := levelGeom{r0.x0, r0.y0, r0.x1, r0.y1}
	var line, ext []float32
	for r := 1; r < len(tc.res); r++ {
		rs := &tc.res[r]
		w, h := int(rs.x1-rs.x0), int(rs.y1-rs.y0)
		out := make([]float32, w*h)
		interleave(out, rs, cur, g, rs.bands[0].fcoef, rs.bands[1].fcoef, rs.bands[2].fcoef)
		n := max(w, h)
		if cap(ext) < n+2*dwtPad {
			ext = make([]float32, n+2*dwtPad)
			line = make([]float32, n)
		}
		if w > 0 && h > 0 {
			for y := 0; y < h; y++ {
				idwt97Line(out[y*w:(y+1)*w], ext, int(rs.x0&1))
			}
			for x := 0; x < w; x++ {
				col := line[:h]
				for y := range col {
					col[y] = out[y*w+x]
				}
				idwt97Line(col, ext, int(rs.y0&1))
				for y, v := range col {
					out[y*w+x] = v
				}
			}
		}
		cur = out
		g = levelGeom{rs.x0, rs.y0, rs.x1, rs.y1}
	}
	return cur
}

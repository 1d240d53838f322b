package imaging

import (
	"math"
	"sort"
)

// Card outline detection: an edge map (Sobel gradients with non-maximum
// suppression) votes in a Hough accumulator restricted to each edge pixel's
// gradient direction; the strongest lines are refined by a least-squares fit
// to their edge pixels; every pair of roughly parallel pairs of lines that
// meet at plausible angles forms a candidate quadrilateral, scored by how
// much of its perimeter is backed by edge pixels of the right orientation.
// The quadrilateral with the most supported perimeter (weighted by the
// square of its mean coverage) wins.

const (
	houghThetas  = 180 // 1 degree bins
	maxLines     = 64
	minCoverage  = 0.5  // every side must be at least half backed by edges
	orientTolDeg = 20.0 // edge normal vs line normal
)

type edgeMap struct {
	w, h  int
	mag   []float32
	theta []float32 // normal direction in [0, pi)
	edge  []bool
}

func edges(g *plane) *edgeMap {
	s := blur3(g)
	w, h := g.w, g.h
	e := &edgeMap{w: w, h: h, mag: make([]float32, w*h), theta: make([]float32, w*h), edge: make([]bool, w*h)}
	gx := make([]float32, w*h)
	gy := make([]float32, w*h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			i := y*w + x
			a, b, c := s.p[i-w-1], s.p[i-w], s.p[i-w+1]
			d, f := s.p[i-1], s.p[i+1]
			g2, hh, k := s.p[i+w-1], s.p[i+w], s.p[i+w+1]
			gx[i] = ((c + 2*f + k) - (a + 2*d + g2)) / 8
			gy[i] = ((g2 + 2*hh + k) - (a + 2*b + c)) / 8
			e.mag[i] = float32(math.Hypot(float64(gx[i]), float64(gy[i])))
			t := math.Atan2(float64(gy[i]), float64(gx[i]))
			if t < 0 {
				t += math.Pi
			}
			if t >= math.Pi {
				t -= math.Pi
			}
			e.theta[i] = float32(t)
		}
	}
	thr := max(5, 0.1*quantile(e.mag, 0.995))
	for y := 2; y < h-2; y++ {
		for x := 2; x < w-2; x++ {
			i := y*w + x
			m := e.mag[i]
			if m < thr {
				continue
			}
			// Non-maximum suppression across the edge, 4 directions.
			var o int
			switch t := e.theta[i] * 180 / math.Pi; {
			case t < 22.5 || t >= 157.5:
				o = 1
			case t < 67.5:
				o = w + 1
			case t < 112.5:
				o = w
			default:
				o = w - 1
			}
			if m >= e.mag[i-o] && m > e.mag[i+o] {
				e.edge[i] = true
			}
		}
	}
	return e
}

// line is the set of points p with p.X cos(theta) + p.Y sin(theta) = rho.
type line struct {
	theta, rho float64
	votes      int
	support    []int32 // prefix sums of edge hits along the line, t from -span
	span       int
}

func (l *line) normal() Point { return Point{math.Cos(l.theta), math.Sin(l.theta)} }
func (l *line) dir() Point    { return Point{-math.Sin(l.theta), math.Cos(l.theta)} }
func (l *line) origin() Point { return l.normal().scale(l.rho) }

// param returns the position of p along the line.
func (l *line) param(p Point) float64 { return p.sub(l.origin()).dot(l.dir()) }

// coverage is the fraction of the segment between params t0 and t1 backed
// by edge pixels, and the number of backing pixels.
func (l *line) coverage(t0, t1 float64) (float64, int) {
	if t0 > t1 {
		t0, t1 = t1, t0
	}
	a := min(max(int(math.Round(t0))+l.span, 0), len(l.support)-1)
	b := min(max(int(math.Round(t1))+l.span, 0), len(l.support)-1)
	if b <= a {
		return 0, 0
	}
	n := int(l.support[b] - l.support[a])
	return float64(n) / float64(b-a), n
}

func intersect(a, b *line) (Point, bool) {
	ca, sa := math.Cos(a.theta), math.Sin(a.theta)
	cb, sb := math.Cos(b.theta), math.Sin(b.theta)
	det := ca*sb - sa*cb
	if math.Abs(det) < 1e-6 {
		return Point{}, false
	}
	return Point{(a.rho*sb - b.rho*sa) / det, (ca*b.rho - cb*a.rho) / det}, true
}

// angleDiff is the difference of two line directions in [0, pi/2].
func angleDiff(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), math.Pi)
	return min(d, math.Pi-d)
}

func houghLines(e *edgeMap) []*line {
	w, h := e.w, e.h
	diag := int(math.Ceil(math.Hypot(float64(w), float64(h))))
	nr := 2*diag + 1
	acc := make([]int32, houghThetas*nr)
	var cs, sn [houghThetas]float64
	for t := range houghThetas {
		cs[t], sn[t] = math.Cos(float64(t)*math.Pi/houghThetas), math.Sin(float64(t)*math.Pi/houghThetas)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			if !e.edge[i] {
				continue
			}
			px, py := float64(x)+0.5, float64(y)+0.5
			tc := int(math.Round(float64(e.theta[i]) * houghThetas / math.Pi))
			for dt := -4; dt <= 4; dt++ {
				t := (tc + dt + houghThetas) % houghThetas
				r := int(math.Round(px*cs[t]+py*sn[t])) + diag
				acc[t*nr+r]++
			}
		}
	}
	minVotes := int32(max(12, min(w, h)/12))
	type peak struct {
		t, r int
		v    int32
	}
	var peaks []peak
	for t := range houghThetas {
		for r := range nr {
			v := acc[t*nr+r]
			if v < minVotes {
				continue
			}
			isMax := true
		nb:
			for dt := -3; dt <= 3; dt++ {
				tt := t + dt
				if tt < 0 || tt >= houghThetas {
					continue
				}
				for dr := -3; dr <= 3; dr++ {
					rr := r + dr
					if rr < 0 || rr >= nr || (dt == 0 && dr == 0) {
						continue
					}
					u := acc[tt*nr+rr]
					if u > v || (u == v && (dt < 0 || (dt == 0 && dr < 0))) {
						isMax = false
						break nb
					}
				}
			}
			if isMax {
				peaks = append(peaks, peak{t, r, v})
			}
		}
	}
	sort.Slice(peaks, func(i, j int) bool {
		if peaks[i].v != peaks[j].v {
			return peaks[i].v > peaks[j].v
		}
		if peaks[i].t != peaks[j].t {
			return peaks[i].t < peaks[j].t
		}
		return peaks[i].r < peaks[j].r
	})
	var out []*line
	for _, p := range peaks {
		if len(out) >= maxLines {
			break
		}
		l := &line{theta: float64(p.t) * math.Pi / houghThetas, rho: float64(p.r - diag), votes: int(p.v)}
		refine(e, l)
		dup := false
		for _, o := range out {
			if angleDiff(o.theta, l.theta) < 4*math.Pi/180 {
				// Same line if they are close at the image centre.
				c := Point{float64(w) / 2, float64(h) / 2}
				if math.Abs(c.dot(o.normal())-o.rho-(c.dot(l.normal())-l.rho)*sign(o.normal().dot(l.normal()))) < 6 {
					dup = true
					break
				}
			}
		}
		if dup {
			continue
		}
		profile(e, l, diag)
		out = append(out, l)
	}
	return out
}

func sign(f float64) float64 {
	if f < 0 {
		return -1
	}
	return 1
}

// refine re-fits l by total least squares to the edge pixels within 1.5 px
// whose normal agrees with it.
func refine(e *edgeMap, l *line) {
	n := l.normal()
	var sx, sy, sxx, syy, sxy, cnt float64
	tol := orientTolDeg * math.Pi / 180
	for y := 0; y < e.h; y++ {
		for x := 0; x < e.w; x++ {
			i := y*e.w + x
			if !e.edge[i] {
				continue
			}
			p := Point{float64(x) + 0.5, float64(y) + 0.5}
			if math.Abs(p.dot(n)-l.rho) > 1.5 || angleDiff(float64(e.theta[i]), l.theta) > tol {
				continue
			}
			sx += p.X
			sy += p.Y
			sxx += p.X * p.X
			syy += p.Y * p.Y
			sxy += p.X * p.Y
			cnt++
		}
	}
	if cnt < 8 {
		return
	}
	mx, my := sx/cnt, sy/cnt
	cxx, cyy, cxy := sxx/cnt-mx*mx, syy/cnt-my*my, sxy/cnt-mx*my
	// The normal is the eigenvector of the smaller eigenvalue.
	ang := 0.5*math.Atan2(2*cxy, cxx-cyy) + math.Pi/2
	nn := Point{math.Cos(ang), math.Sin(ang)}
	if nn.dot(n) < 0 {
		nn = nn.scale(-1)
		ang += math.Pi
	}
	if angleDiff(ang, l.theta) > 3*math.Pi/180 {
		return // the fit wandered to another structure; keep the peak
	}
	l.theta = ang
	l.rho = mx*nn.X + my*nn.Y
}

// profile records, for every integer step along l, whether an edge pixel of
// matching orientation lies within one pixel.
func profile(e *edgeMap, l *line, diag int) {
	l.span = diag
	l.support = make([]int32, 2*diag+2)
	o, d := l.origin(), l.dir()
	tol := orientTolDeg * math.Pi / 180
	for t := -diag; t <= diag; t++ {
		p := o.add(d.scale(float64(t)))
		x, y := int(math.Floor(p.X)), int(math.Floor(p.Y))
		hit := int32(0)
	search:
		for dy := -1; dy <= 1; dy++ {
			for dx := -1; dx <= 1; dx++ {
				xx, yy := x+dx, y+dy
				if xx < 0 || yy < 0 || xx >= e.w || yy >= e.h {
					continue
				}
				i := yy*e.w + xx
				if e.edge[i] && angleDiff(float64(e.theta[i]), l.theta) <= tol {
					hit = 1
					break search
				}
			}
		}
		l.support[t+diag+1] = l.support[t+diag] + hit
	}
}

// findQuad returns the best card outline in g's coordinates, if any.
func findQuad(g *plane) (Quad, float64, bool) {
	if g.w < 16 || g.h < 16 {
		return Quad{}, 0, false
	}
	e := edges(g)
	ls := houghLines(e)
	w, h := float64(g.w), float64(g.h)
	minSep := 0.08 * min(w, h)
	minArea := 0.03 * w * h
	type pair struct{ a, b *line }
	var pairs []pair
	for i := range ls {
		for j := i + 1; j < len(ls); j++ {
			if angleDiff(ls[i].theta, ls[j].theta) > 40*math.Pi/180 {
				continue
			}
			c := Point{w / 2, h / 2}
			if math.Abs(c.dot(ls[i].normal())-ls[i].rho-(c.dot(ls[j].normal())-ls[j].rho)*sign(ls[i].normal().dot(ls[j].normal()))) < minSep {
				continue
			}
			pairs = append(pairs, pair{ls[i], ls[j]})
		}
	}
	var best Quad
	bestScore, bestCov := 0.0, 0.0
	for i := range pairs {
		for j := i + 1; j < len(pairs); j++ {
			p, q := pairs[i], pairs[j]
			if p.a == q.a || p.a == q.b || p.b == q.a || p.b == q.b {
				continue
			}
			da := (p.a.theta + p.b.theta) / 2
			if angleDiff(p.a.theta, p.b.theta) > math.Pi/4 { // straddles 0/pi
				da = p.a.theta
			}
			db := q.a.theta
			if angleDiff(da, db) < 45*math.Pi/180 {
				continue
			}
			var c [4]Point
			var ok [4]bool
			c[0], ok[0] = intersect(p.a, q.a)
			c[1], ok[1] = intersect(p.a, q.b)
			c[2], ok[2] = intersect(p.b, q.b)
			c[3], ok[3] = intersect(p.b, q.a)
			if !(ok[0] && ok[1] && ok[2] && ok[3]) {
				continue
			}
			inside := true
			for _, pt := range c {
				if pt.X < -0.02*w || pt.Y < -0.02*h || pt.X > 1.02*w || pt.Y > 1.02*h || !pt.finite() {
					inside = false
				}
			}
			if !inside {
				continue
			}
			// Sides in order: p.a (c0-c1), q.b (c1-c2), p.b (c2-c3), q.a (c3-c0).
			sides := [4]struct {
				l    *line
				u, v Point
			}{{p.a, c[0], c[1]}, {q.b, c[1], c[2]}, {p.b, c[2], c[3]}, {q.a, c[3], c[0]}}
			var hits int
			minCov, sumCov := 1.0, 0.0
			for _, s := range sides {
				cv, n := s.l.coverage(s.l.param(s.u), s.l.param(s.v))
				minCov = min(minCov, cv)
				sumCov += cv
				hits += n
			}
			if minCov < minCoverage {
				continue
			}
			qd := normalize(c)
			if !qd.convex(30) || qd.Area() < minArea {
				continue
			}
			if a := qd.Aspect(); a < 1.0 || a > 3.0 {
				continue
			}
			mc := sumCov / 4
			score := float64(hits) * mc * mc
			if score > bestScore {
				best, bestScore, bestCov = qd, score, mc
			}
		}
	}
	return best, bestCov, bestScore > 0
}

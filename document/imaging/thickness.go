package imaging

import (
	"math"
	"sort"
)

// Edge band (the card's thickness seen in a tilted frame).
//
// A card tilted away from the camera shows a thin strip of its edge along
// the side nearest the camera, which in the image is the longer side of the
// most foreshortened pair. bandOnSide looks for that strip as a second step
// edge parallel to the outline, a few pixels inside or outside it, at a
// consistent offset along the middle of the side.
//
// What this can and cannot establish: a consistent parallel step next to
// the expected side is evidence of a physical edge, but a printed border
// line, a shadow, or a card-shaped printout glued to cardboard produce the
// same picture, and a real card with an edge the same colour as the
// background produces none. The result is therefore pass (band where the
// perspective predicts it) or refer, never a proof of thickness.

// band is one side's finding.
type band struct {
	found bool
	width float64 // pixels in the analysis plane
}

// bandOnSide searches side i of q (in g's coordinates) for a parallel step
// edge at 1.5..maxOff pixels from the outline.
func bandOnSide(g *plane, q Quad, i int) band {
	a, b := q[i], q[(i+1)%4]
	d := b.sub(a)
	l := d.norm()
	if l < 20 {
		return band{}
	}
	d = d.scale(1 / l)
	n := Point{-d.Y, d.X}
	if n.dot(mid(a, b).sub(q.centroid())) < 0 {
		n = n.scale(-1) // outward
	}
	short := min(q.side(1), q.side(3))
	maxOff := max(4, 0.04*short)
	const step = 0.5
	ns := int(maxOff / step)
	const samples = 24
	var offs []float64
	prof := make([]float64, 2*ns+1)
	for s := range samples {
		f := 0.2 + 0.6*float64(s)/float64(samples-1)
		p := lerp(a, b, f)
		for j := -ns; j <= ns; j++ {
			// Average 3 taps along the side to suppress noise.
			var v float32
			for _, t := range [3]float64{-1, 0, 1} {
				pp := p.add(n.scale(float64(j) * step)).add(d.scale(t))
				v += g.bilinear(pp.X, pp.Y)
			}
			prof[j+ns] = float64(v) / 3
		}
		// Derivative along the normal.
		der := make([]float64, len(prof))
		for j := 1; j < len(prof)-1; j++ {
			der[j] = (prof[j+1] - prof[j-1]) / (2 * step)
		}
		// Main edge: the strongest derivative within 1.5 px of the outline.
		main, mainAt := 0.0, 0
		for j := -3; j <= 3; j++ {
			if v := math.Abs(der[j+ns]); v > main {
				main, mainAt = v, j
			}
		}
		if main < 3 {
			continue
		}
		// Secondary: the strongest local maximum of |der| at least 1.5 px
		// from the main edge.
		sec, secAt := 0.0, 0
		for j := -ns + 1; j < ns; j++ {
			if abs(float64(j-mainAt))*step < 1.5 {
				continue
			}
			v := math.Abs(der[j+ns])
			if v > sec && v >= math.Abs(der[j+ns-1]) && v >= math.Abs(der[j+ns+1]) {
				sec, secAt = v, j
			}
		}
		if sec >= max(3, 0.15*main) {
			offs = append(offs, float64(secAt-mainAt)*step)
		}
	}
	if len(offs) < samples*6/10 {
		return band{}
	}
	sort.Float64s(offs)
	med := offs[len(offs)/2]
	agree := 0
	for _, o := range offs {
		if math.Abs(o-med) <= 1 {
			agree++
		}
	}
	if agree < samples/2 || math.Abs(med) < 1.5 {
		return band{}
	}
	return band{found: true, width: math.Abs(med)}
}

func abs(f float64) float64 { return math.Abs(f) }

// expectedBandSides returns the sides on which a tilted card's edge should
// show: for each pair of opposite sides foreshortened by at least minKey,
// the longer one (nearer the camera).
func expectedBandSides(q Quad, minKey float64) []int {
	var out []int
	for _, pr := range [2][2]int{{0, 2}, {1, 3}} {
		s0, s1 := q.side(pr[0]), q.side(pr[1])
		if max(s0, s1) == 0 || 1-min(s0, s1)/max(s0, s1) < minKey {
			continue
		}
		if s0 >= s1 {
			out = append(out, pr[0])
		} else {
			out = append(out, pr[1])
		}
	}
	return out
}

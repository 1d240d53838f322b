package imaging

import "math"

// Image-quality measures on the rectified card (corner 0 at the top left,
// the card's printed face filling the plane). All values are
// resolution-independent because the card is always resampled to the same
// width.

// creteBlur is the no-reference blur metric of Crete, Dolmiere, Ladret and
// Nicolas ("The blur effect", SPIE 6492, 2007): re-blur the image with a
// 9-tap mean and measure how much of the neighbour-difference energy
// survives. 0 means sharp (re-blurring destroys most of the variation), 1
// means already so blurred that re-blurring changes nothing. detail is the
// mean absolute neighbour difference; on a featureless area (detail near 0)
// the metric is meaningless.
func creteBlur(g *plane) (blur, detail float64) {
	w, h := g.w, g.h
	if w < 10 || h < 10 {
		return 1, 0
	}
	const r = 4
	bv := newPlane(w, h)
	bh := newPlane(w, h)
	for y := range h {
		for x := range w {
			var sv, sh float32
			for d := -r; d <= r; d++ {
				sv += g.p[min(max(y+d, 0), h-1)*w+x]
				sh += g.p[y*w+min(max(x+d, 0), w-1)]
			}
			bv.p[y*w+x] = sv / (2*r + 1)
			bh.p[y*w+x] = sh / (2*r + 1)
		}
	}
	var sFv, sVv, sFh, sVh float64
	for y := 1; y < h; y++ {
		for x := 1; x < w; x++ {
			i := y*w + x
			dFv := math.Abs(float64(g.p[i] - g.p[i-w]))
			dBv := math.Abs(float64(bv.p[i] - bv.p[i-w]))
			dFh := math.Abs(float64(g.p[i] - g.p[i-1]))
			dBh := math.Abs(float64(bh.p[i] - bh.p[i-1]))
			sFv += dFv
			sVv += max(0, dFv-dBv)
			sFh += dFh
			sVh += max(0, dFh-dBh)
		}
	}
	n := float64((w - 1) * (h - 1))
	detail = (sFv + sFh) / (2 * n)
	if sFv == 0 || sFh == 0 {
		return 1, detail
	}
	return max((sFv-sVv)/sFv, (sFh-sVh)/sFh), detail
}

type exposure struct {
	mean, std, clipDark, clipBright float64
}

func measureExposure(g *plane) exposure {
	var e exposure
	if len(g.p) == 0 {
		return e
	}
	var s, ss float64
	var dark, bright int
	for _, v := range g.p {
		f := float64(v)
		s += f
		ss += f * f
		if v <= 8 {
			dark++
		}
		if v >= 250 {
			bright++
		}
	}
	n := float64(len(g.p))
	e.mean = s / n
	e.std = math.Sqrt(max(0, ss/n-e.mean*e.mean))
	e.clipDark = float64(dark) / n
	e.clipBright = float64(bright) / n
	return e
}

// largestBlob is the area of the largest 4-connected region of pixels at
// or above thr, as a fraction of the plane.
func largestBlob(g *plane, thr float32) float64 {
	seen := make([]bool, len(g.p))
	var stack []int
	best := 0
	for i, v := range g.p {
		if v < thr || seen[i] {
			continue
		}
		n := 0
		stack = append(stack[:0], i)
		seen[i] = true
		for len(stack) > 0 {
			j := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := j%g.w, j/g.w
			for _, k := range [4]int{j - 1, j + 1, j - g.w, j + g.w} {
				switch {
				case k == j-1 && x == 0, k == j+1 && x == g.w-1, k < 0, k >= len(g.p), k == j-g.w && y == 0:
					continue
				}
				if !seen[k] && g.p[k] >= thr {
					seen[k] = true
					stack = append(stack, k)
				}
			}
		}
		best = max(best, n)
	}
	if len(g.p) == 0 {
		return 0
	}
	return float64(best) / float64(len(g.p))
}

// crop returns the part of g inside a margin of frac of each side.
func crop(g *plane, frac float64) *plane {
	mx, my := int(frac*float64(g.w)), int(frac*float64(g.h))
	w, h := g.w-2*mx, g.h-2*my
	if w <= 0 || h <= 0 {
		return newPlane(0, 0)
	}
	out := newPlane(w, h)
	for y := range h {
		copy(out.p[y*w:(y+1)*w], g.p[(y+my)*g.w+mx:(y+my)*g.w+mx+w])
	}
	return out
}

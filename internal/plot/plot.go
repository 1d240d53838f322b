// Package plot draws line charts as standalone SVG documents: DET curves
// (log axes) and score distributions from face evaluation and calibration,
// and benchmark charts for the documentation.
//
// Invariants:
//   - The output depends only on the Chart: coordinates are printed with a
//     fixed precision and nothing is taken from maps, clocks or the
//     environment, so the same chart gives the same bytes (golden tests).
//   - A document needs nothing outside itself: no scripts, stylesheets,
//     fonts or links; colours are presentation attributes, so it can be
//     embedded inline under a strict Content-Security-Policy.
//   - It is accessible: role="img" with a <title> and a <desc> (named by
//     aria-labelledby), axis labels and a legend as text, and series told
//     apart by dash pattern as well as by colour (Okabe-Ito palette).
//   - On a log axis, points with a coordinate <= 0 cannot be drawn and are
//     left out; Chart.Desc should say what they mean (for a DET curve, an
//     error rate of zero).
package plot

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Point is one data point.
type Point struct{ X, Y float64 }

// Axis describes one axis. Min and Max fix its range; both zero means
// the data's range (on a log axis widened to whole decades).
type Axis struct {
	Label    string
	Log      bool
	Min, Max float64
	// Percent prints tick labels as percentages (0.01 → "1%").
	Percent bool
}

// Series is one named line.
type Series struct {
	Name   string
	Points []Point
	// Step draws a histogram-like staircase: each point's Y holds from its
	// X to the next point's X.
	Step bool
}

// Chart is one plot.
type Chart struct {
	// ID prefixes the document's element ids (default "plot"), so that
	// several charts can be inlined in one page.
	ID    string
	Title string // shown, and the document's <title>
	Desc  string // the document's <desc>: what the chart shows, in words
	X, Y  Axis
	// Width and Height in pixels (default 640 x 440).
	Width, Height int
	Series        []Series
}

// Limits on a chart's size.
const (
	MaxSeries = 12
	MaxPoints = 20000 // per series
)

var palette = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"}
var dashes = []string{"", "6 3", "2 3", "8 3 2 3"}

const (
	marginLeft, marginRight, marginTop, marginBottom = 72, 24, 44, 56
)

// ErrChart reports a chart that cannot be drawn.
var ErrChart = errors.New("plot: chart cannot be drawn")

// WriteSVG writes the chart as an SVG document.
func (c *Chart) WriteSVG(w io.Writer) error {
	s, err := c.SVG()
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}

// SVG renders the chart.
func (c *Chart) SVG() (string, error) {
	if c.Title == "" || c.Desc == "" {
		return "", fmt.Errorf("%w: a title and a description are required (accessibility)", ErrChart)
	}
	if len(c.Series) == 0 || len(c.Series) > MaxSeries {
		return "", fmt.Errorf("%w: %d series (1 to %d)", ErrChart, len(c.Series), MaxSeries)
	}
	W, H := c.Width, c.Height
	if W <= 0 || H <= 0 {
		W, H = 640, 440
	}
	if W < marginLeft+marginRight+40 || H < marginTop+marginBottom+40 {
		return "", fmt.Errorf("%w: %dx%d is too small", ErrChart, W, H)
	}
	series := make([]Series, len(c.Series))
	for i, s := range c.Series {
		if len(s.Points) > MaxPoints {
			return "", fmt.Errorf("%w: series %q has %d points (at most %d)", ErrChart, s.Name, len(s.Points), MaxPoints)
		}
		series[i] = Series{Name: s.Name, Step: s.Step}
		for _, p := range s.Points {
			if finite(p.X) && finite(p.Y) && (!c.X.Log || p.X > 0) && (!c.Y.Log || p.Y > 0) {
				series[i].Points = append(series[i].Points, p)
			}
		}
	}
	xs, err := newScale(c.X, series, func(p Point) float64 { return p.X }, float64(marginLeft), float64(W-marginRight))
	if err != nil {
		return "", fmt.Errorf("%w: x axis: %w", ErrChart, err)
	}
	ys, err := newScale(c.Y, series, func(p Point) float64 { return p.Y }, float64(H-marginBottom), float64(marginTop))
	if err != nil {
		return "", fmt.Errorf("%w: y axis: %w", ErrChart, err)
	}

	id := c.ID
	if id == "" {
		id = "plot"
	}
	if err := checkID(id); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H, id, id)
	fmt.Fprintf(&b, "<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", id, esc(c.Title), id, esc(c.Desc))
	fmt.Fprintf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H)
	fmt.Fprintf(&b, "<text x=\"%d\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", marginLeft, esc(c.Title))

	// Grid and ticks.
	b.WriteString("<g stroke=\"#dddddd\" stroke-width=\"1\">\n")
	for _, t := range xs.ticks {
		fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\"/>\n", num(xs.pos(t)), marginTop, num(xs.pos(t)), H-marginBottom)
	}
	for _, t := range ys.ticks {
		fmt.Fprintf(&b, "<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\"/>\n", marginLeft, num(ys.pos(t)), W-marginRight, num(ys.pos(t)))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333333\"/>\n", marginLeft, marginTop, W-marginLeft-marginRight, H-marginTop-marginBottom)
	b.WriteString("<g fill=\"#333333\">\n")
	for _, t := range xs.ticks {
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", num(xs.pos(t)), H-marginBottom+16, esc(tickLabel(t, c.X)))
	}
	for _, t := range ys.ticks {
		fmt.Fprintf(&b, "<text x=\"%d\" y=\"%s\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", marginLeft-6, num(ys.pos(t)), esc(tickLabel(t, c.Y)))
	}
	fmt.Fprintf(&b, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", num(float64(marginLeft+W-marginRight)/2), H-14, esc(c.X.Label))
	fmt.Fprintf(&b, "<text x=\"16\" y=\"%s\" text-anchor=\"middle\" transform=\"rotate(-90 16 %s)\">%s</text>\n", num(float64(marginTop+H-marginBottom)/2), num(float64(marginTop+H-marginBottom)/2), esc(c.Y.Label))
	b.WriteString("</g>\n")

	// Series, clipped to the plot area.
	fmt.Fprintf(&b, "<clipPath id=\"%s-area\"><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>\n", id, marginLeft, marginTop, W-marginLeft-marginRight, H-marginTop-marginBottom)
	for i, s := range series {
		if len(s.Points) == 0 {
			continue
		}
		var d strings.Builder
		for j, p := range s.Points {
			x, y := xs.pos(p.X), ys.pos(p.Y)
			switch {
			case j == 0:
				fmt.Fprintf(&d, "M%s %s", num(x), num(y))
			case s.Step:
				fmt.Fprintf(&d, "H%s V%s", num(x), num(y))
			default:
				fmt.Fprintf(&d, "L%s %s", num(x), num(y))
			}
			d.WriteByte(' ')
		}
		dash := ""
		if ds := dashes[i%len(dashes)]; ds != "" {
			dash = ` stroke-dasharray="` + ds + `"`
		}
		fmt.Fprintf(&b, "<path clip-path=\"url(#%s-area)\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s d=\"%s\"><title>%s</title></path>\n",
			id, palette[i%len(palette)], dash, strings.TrimSpace(d.String()), esc(s.Name))
	}

	// Legend, top right inside the plot area, over a white panel so that
	// curves passing behind it do not hide it.
	lx := W - marginRight - 12
	wide := 0
	for _, s := range series {
		wide = max(wide, len([]rune(s.Name)))
	}
	panelW := min(46+7*wide, W-marginLeft-marginRight-8)
	fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#ffffff\" fill-opacity=\"0.85\" stroke=\"#dddddd\"/>\n",
		W-marginRight-4-panelW, marginTop+4, panelW, 18*len(series)+6)
	b.WriteString("<g>\n")
	for i, s := range series {
		y := marginTop + 16 + 18*i
		dash := ""
		if ds := dashes[i%len(dashes)]; ds != "" {
			dash = ` stroke-dasharray="` + ds + `"`
		}
		fmt.Fprintf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>\n", lx-28, y, lx, y, palette[i%len(palette)], dash)
		fmt.Fprintf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", lx-34, y, esc(s.Name))
	}
	b.WriteString("</g>\n</svg>\n")
	return b.String(), nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// num prints a coordinate with two decimals, without trailing zeros.
func num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func esc(s string) string { return xmlEscaper.Replace(s) }

// scale maps data values to pixels.
type scale struct {
	log    bool
	lo, hi float64 // data range (log10 of it on a log axis)
	p0, p1 float64 // pixels
	ticks  []float64
}

func newScale(a Axis, series []Series, get func(Point) float64, p0, p1 float64) (*scale, error) {
	lo, hi := a.Min, a.Max
	if lo == 0 && hi == 0 {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, s := range series {
			for _, p := range s.Points {
				lo, hi = math.Min(lo, get(p)), math.Max(hi, get(p))
			}
		}
		if math.IsInf(lo, 1) {
			return nil, errors.New("no drawable points")
		}
		if a.Log {
			lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		}
	}
	if a.Log && (lo <= 0 || hi <= 0) {
		return nil, fmt.Errorf("log axis range [%g, %g] is not positive", lo, hi)
	}
	if !(hi > lo) {
		// One value: give it room.
		if a.Log {
			lo, hi = lo/10, hi*10
		} else {
			d := math.Max(math.Abs(lo)*0.1, 1)
			lo, hi = lo-d, hi+d
		}
	}
	s := &scale{log: a.Log, p0: p0, p1: p1}
	if a.Log {
		s.lo, s.hi = math.Log10(lo), math.Log10(hi)
		for k := math.Ceil(s.lo - 1e-9); k <= s.hi+1e-9; k++ {
			s.ticks = append(s.ticks, math.Pow(10, k))
		}
	} else {
		step := niceStep((hi - lo) / 5)
		s.lo, s.hi = lo, hi
		for t := math.Ceil(lo/step-1e-9) * step; t <= hi+step*1e-9; t += step {
			s.ticks = append(s.ticks, math.Round(t/step)*step+0) // +0: no "-0"
		}
	}
	return s, nil
}

func (s *scale) pos(v float64) float64 {
	if s.log {
		v = math.Log10(v)
	}
	return s.p0 + (v-s.lo)/(s.hi-s.lo)*(s.p1-s.p0)
}

// niceStep is the smallest 1, 2 or 5 × 10^k at or above x.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

var superscript = strings.NewReplacer("-", "⁻", "0", "⁰", "1", "¹", "2", "²", "3", "³", "4", "⁴", "5", "⁵", "6", "⁶", "7", "⁷", "8", "⁸", "9", "⁹")

func tickLabel(v float64, a Axis) string {
	if a.Percent {
		return strconv.FormatFloat(100*v, 'g', 4, 64) + "%"
	}
	if a.Log {
		k := int(math.Round(math.Log10(v)))
		if k >= 0 && k <= 3 {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return "10" + superscript.Replace(strconv.Itoa(k))
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// Histogram counts values into bins equal bins over [lo, hi) (the last bin
// includes hi; values outside are left out) and returns, for a Step
// series, each bin's left edge with the fraction of all values in it, and
// a closing point at hi.
func Histogram(values []float64, lo, hi float64, bins int) []Point {
	if bins <= 0 || !(hi > lo) {
		return nil
	}
	counts := make([]int, bins)
	for _, v := range values {
		if !(v >= lo && v <= hi) {
			continue
		}
		i := int((v - lo) / (hi - lo) * float64(bins))
		counts[min(i, bins-1)]++
	}
	n := float64(max(len(values), 1))
	out := make([]Point, 0, bins+1)
	w := (hi - lo) / float64(bins)
	for i, c := range counts {
		out = append(out, Point{X: lo + float64(i)*w, Y: float64(c) / n})
	}
	return append(out, Point{X: hi, Y: out[bins-1].Y})
}

package portal

import (
	"strconv"

	"github.com/madoguchi/madoguchi/ekyc"
)

// The dashboard's chart: sessions per day as stacked bars, one segment per
// result, drawn here as coordinates for the SVG in templates/dashboard.html.
// Colours are classes (static/audit.css), never style attributes, so the
// strict CSP holds; each segment has a <title>, and the page has the same
// numbers as a table for screen readers.

const (
	chartW, chartH = 760, 260
	chartLeft      = 44
	chartRight     = 8
	chartTop       = 12
	chartBottom    = 36
)

type chart struct {
	W, H    int
	Bars    []bar
	Grid    []gridLine
	XLabels []xLabel
	Max     int
	Empty   bool
}

type bar struct {
	X, Y, W, H string
	Date       string
	Result     string
	Count      int
}

type gridLine struct {
	X1, X2, Y, LabelX, LabelY string
	Label                     int
}

type xLabel struct {
	X, Y, Label string
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceMax is the smallest 1, 2 or 5 × 10^k at or above n (at least 1).
func niceMax(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

func drawChart(days []dayRow, nResults int) chart {
	c := chart{W: chartW, H: chartH}
	top := 0
	for _, d := range days {
		top = max(top, d.Total)
	}
	c.Empty = top == 0
	c.Max = niceMax(top)
	plotW, plotH := float64(chartW-chartLeft-chartRight), float64(chartH-chartTop-chartBottom)
	base := float64(chartTop) + plotH
	y := func(v int) float64 { return base - plotH*float64(v)/float64(c.Max) }
	ticks := []int{0, c.Max}
	if c.Max%2 == 0 {
		ticks = []int{0, c.Max / 2, c.Max}
	}
	for _, t := range ticks {
		c.Grid = append(c.Grid, gridLine{X1: strconv.Itoa(chartLeft), X2: strconv.Itoa(chartW - chartRight), Y: f1(y(t)),
			LabelX: strconv.Itoa(chartLeft - 6), LabelY: f1(y(t) + 4), Label: t})
	}
	if len(days) == 0 {
		return c
	}
	slot := plotW / float64(len(days))
	w := slot * 0.7
	every := (len(days) + 9) / 10
	results := ekyc.Results()
	for i, d := range days {
		x := float64(chartLeft) + slot*float64(i) + (slot-w)/2
		acc := 0
		for j := 0; j < nResults && j < len(results); j++ {
			n := d.Counts[j]
			if n == 0 {
				continue
			}
			y0, y1 := y(acc), y(acc+n)
			c.Bars = append(c.Bars, bar{X: f1(x), Y: f1(y1), W: f1(w), H: f1(y0 - y1), Date: d.Date, Result: results[j], Count: n})
			acc += n
		}
		if i%every == 0 {
			c.XLabels = append(c.XLabels, xLabel{X: f1(x + w/2), Y: strconv.Itoa(chartH - chartBottom + 16), Label: d.Date[5:]})
		}
	}
	return c
}

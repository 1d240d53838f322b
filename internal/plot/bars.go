package plot

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Bar is one bar of a BarChart.
type Bar struct {
	Label string
	Value float64
}

// BarChart is a horizontal bar chart: one bar per row, labels on the left,
// values printed at the bars' ends, a linear axis from zero. It follows the
// package's invariants (deterministic, self-contained, title and desc).
type BarChart struct {
	ID         string // element id prefix (default "bars")
	Title      string
	Desc       string
	ValueLabel string // the value axis's label, with its unit
	Bars       []Bar
	Width      int // pixels (default 640); the height follows the bars
}

// MaxBars bounds a bar chart.
const MaxBars = 40

// WriteSVG writes the chart as an SVG document.
func (c *BarChart) WriteSVG(w io.Writer) error {
	s, err := c.SVG()
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, s)
	return err
}

// SVG renders the chart.
func (c *BarChart) SVG() (string, error) {
	if c.Title == "" || c.Desc == "" {
		return "", fmt.Errorf("%w: a title and a description are required (accessibility)", ErrChart)
	}
	if len(c.Bars) == 0 || len(c.Bars) > MaxBars {
		return "", fmt.Errorf("%w: %d bars (1 to %d)", ErrChart, len(c.Bars), MaxBars)
	}
	id := c.ID
	if id == "" {
		id = "bars"
	}
	if err := checkID(id); err != nil {
		return "", err
	}
	hi := 0.0
	for _, b := range c.Bars {
		if !finite(b.Value) || b.Value < 0 {
			return "", fmt.Errorf("%w: bar %q has value %v (want finite, >= 0)", ErrChart, b.Label, b.Value)
		}
		hi = math.Max(hi, b.Value)
	}
	W := c.Width
	if W <= 0 {
		W = 640
	}
	labelW := 0
	for _, b := range c.Bars {
		labelW = max(labelW, len([]rune(b.Label)))
	}
	left := min(24+7*labelW, W/2)
	const top, rowH, barH, bottom, right = 44, 26, 18, 48, 64
	H := top + rowH*len(c.Bars) + bottom
	if W < left+right+60 {
		return "", fmt.Errorf("%w: width %d is too small", ErrChart, W)
	}
	step := niceStep(math.Max(hi, 1e-12) / 5)
	axisMax := math.Ceil(hi/step-1e-9) * step
	if axisMax == 0 {
		axisMax = step
	}
	pos := func(v float64) float64 { return float64(left) + v/axisMax*float64(W-left-right) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H, id, id)
	fmt.Fprintf(&b, "<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", id, esc(c.Title), id, esc(c.Desc))
	fmt.Fprintf(&b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, H)
	fmt.Fprintf(&b, "<text x=\"12\" y=\"24\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", esc(c.Title))
	b.WriteString("<g stroke=\"#dddddd\" stroke-width=\"1\">\n")
	var ticks []float64
	for t := 0.0; t <= axisMax+step*1e-9; t += step {
		ticks = append(ticks, math.Round(t/step)*step)
	}
	for _, t := range ticks {
		fmt.Fprintf(&b, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\"/>\n", num(pos(t)), top, num(pos(t)), H-bottom)
	}
	b.WriteString("</g>\n<g fill=\"#333333\">\n")
	for _, t := range ticks {
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", num(pos(t)), H-bottom+16, esc(barNumber(t)))
	}
	fmt.Fprintf(&b, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", num((pos(0)+pos(axisMax))/2), H-12, esc(c.ValueLabel))
	b.WriteString("</g>\n")
	for i, bar := range c.Bars {
		y := top + rowH*i + (rowH-barH)/2
		fmt.Fprintf(&b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>\n", left-8, y+barH/2, esc(bar.Label))
		fmt.Fprintf(&b, "<rect x=\"%d\" y=\"%d\" width=\"%s\" height=\"%d\" fill=\"%s\"><title>%s: %s</title></rect>\n",
			left, y, num(pos(bar.Value)-float64(left)), barH, palette[0], esc(bar.Label), esc(barNumber(bar.Value)))
		fmt.Fprintf(&b, "<text x=\"%s\" y=\"%d\" dominant-baseline=\"middle\">%s</text>\n", num(pos(bar.Value)+4), y+barH/2, esc(barNumber(bar.Value)))
	}
	fmt.Fprintf(&b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333333\"/>\n</svg>\n", left, top, left, H-bottom)
	return b.String(), nil
}

// barNumber prints a bar's value or tick in full, as the table it comes
// from does (1958830, not 1.95883e+06), with twelve significant digits so
// that a tick's rounding noise (0.30000000000000004) does not show.
func barNumber(v float64) string {
	return strconv.FormatFloat(v, 'g', 12, 64)
}

func checkID(id string) error {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("%w: id %q (want a-z, 0-9, -)", ErrChart, id)
		}
	}
	return nil
}

package plot

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestBarChart(t *testing.T) {
	c := &BarChart{Title: "t", Desc: "d", ValueLabel: "ns per request (shorter is faster)",
		Bars: []Bar{{"bare", 403804}, {"dpop", 1958830}, {"tiny", 0.3}}}
	got, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`role="img" aria-labelledby="bars-title bars-desc"`,
		"<title>dpop: 1958830</title>",
		">1958830</text>",
		">2000000</text>", // a tick, in full
		">0.3</text>",
		">ns per request (shorter is faster)</text>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("SVG() lacks %q", want)
		}
	}
	if strings.Contains(got, "e+") {
		t.Errorf("SVG() prints a number in exponent form:\n%s", got)
	}
	for name, bad := range map[string]*BarChart{
		"no desc":  {Title: "t", Bars: []Bar{{"a", 1}}},
		"no bars":  {Title: "t", Desc: "d"},
		"negative": {Title: "t", Desc: "d", Bars: []Bar{{"a", -1}}},
		"NaN":      {Title: "t", Desc: "d", Bars: []Bar{{"a", math.NaN()}}},
		"bad id":   {ID: "a b", Title: "t", Desc: "d", Bars: []Bar{{"a", 1}}},
	} {
		if _, err := bad.SVG(); !errors.Is(err, ErrChart) {
			t.Errorf("%s: SVG() error = %v, want ErrChart", name, err)
		}
	}
}

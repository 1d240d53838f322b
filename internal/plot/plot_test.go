package plot

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// detChart is a DET curve from a known operating-point table.
func detChart() *Chart {
	return &Chart{
		Title: "DET curve: test set",
		Desc:  "FNMR against FMR on log scales for two models; rates of zero are left out.",
		X:     Axis{Label: "false match rate (FMR)", Log: true, Percent: true},
		Y:     Axis{Label: "false non-match rate (FNMR)", Log: true, Percent: true},
		Series: []Series{
			{Name: "model A", Points: []Point{{1e-4, 0.2}, {1e-3, 0.08}, {1e-2, 0.03}, {1e-1, 0.01}, {1, 0}}},
			{Name: "model B <&>", Points: []Point{{0, 0.5}, {1e-3, 0.3}, {1e-2, 0.1}, {1e-1, 0.02}}},
		},
	}
}

// histChart is a score distribution from a known score set.
func histChart() *Chart {
	gen := []float64{0.55, 0.6, 0.62, 0.7, 0.71, 0.8, 0.95, 1}
	imp := []float64{-0.3, -0.1, 0, 0.02, 0.1, 0.15, 0.2, 0.4}
	return &Chart{
		ID:    "scores",
		Title: "Comparison scores",
		Desc:  "Genuine and impostor score distributions.",
		X:     Axis{Label: "cosine similarity", Min: -1, Max: 1},
		Y:     Axis{Label: "share of pairs per bin"},
		Width: 480, Height: 320,
		Series: []Series{
			{Name: "genuine", Points: Histogram(gen, -1, 1, 10), Step: true},
			{Name: "impostor", Points: Histogram(imp, -1, 1, 10), Step: true},
		},
	}
}

// TestGolden: the charts render to the bytes in testdata (run with
// -update after an intended change, and look at the files).
func TestGolden(t *testing.T) {
	for name, c := range map[string]*Chart{"det.svg": detChart(), "scores.svg": histChart()} {
		t.Run(name, func(t *testing.T) {
			got, err := c.SVG()
			if err != nil {
				t.Fatal(err)
			}
			again, _ := c.SVG()
			if again != got {
				t.Fatalf("two renderings of one chart differ")
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the golden file; run go test -update and review the change", name)
			}
			checkSVG(t, got, c)
		})
	}
}

// checkSVG parses the document and checks what a reader needs: well-formed
// XML, title and desc referenced by aria-labelledby, axis labels, a legend
// entry and a path per series, no external reference.
func checkSVG(t *testing.T, doc string, c *Chart) {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(doc))
	var texts []string
	var labelled string
	ids := map[string]string{} // id -> element
	paths := 0
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tk.Name.Local)
			for _, a := range tk.Attr {
				switch a.Name.Local {
				case "aria-labelledby":
					labelled = a.Value
				case "id":
					ids[a.Value] = tk.Name.Local
				case "href":
					t.Errorf("external reference %q", a.Value)
				}
			}
			if tk.Name.Local == "path" {
				paths++
			}
			if tk.Name.Local == "script" || tk.Name.Local == "style" || tk.Name.Local == "image" {
				t.Errorf("element <%s> in a standalone chart", tk.Name.Local)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "text" {
				texts = append(texts, string(tk))
			}
		}
	}
	for _, id := range strings.Fields(labelled) {
		if el := ids[id]; el != "title" && el != "desc" {
			t.Errorf("aria-labelledby names %q, a <%s>, want title and desc", id, el)
		}
	}
	if len(strings.Fields(labelled)) != 2 {
		t.Errorf("aria-labelledby = %q, want the title and the desc", labelled)
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{c.Title, c.X.Label, c.Y.Label} {
		if !strings.Contains(all, want) {
			t.Errorf("text %q is not shown (texts: %s)", want, all)
		}
	}
	for _, s := range c.Series {
		if !strings.Contains(all, s.Name) {
			t.Errorf("series %q has no legend entry", s.Name)
		}
	}
	if paths != len(c.Series) {
		t.Errorf("%d paths, want one per series (%d)", paths, len(c.Series))
	}
}

// TestDETPoints: the curve's points land where the log scales put them:
// FMR 1e-3 (a decade tick) and FNMR 0.08 at their pixel positions, and the
// points with a zero rate are left out.
func TestDETPoints(t *testing.T) {
	c := detChart()
	doc, err := c.SVG()
	if err != nil {
		t.Fatal(err)
	}
	// X: decades 1e-4..1 over pixels 72..616, so 1e-3 is at 72+544/4 = 208.
	// Y: decades 1e-2..1 (the data's 0.01..0.5 widened) over pixels
	// 384..44, so FNMR 0.2 is at 384 - 340*(2+log10 0.2)/2 = 162.83 and
	// 0.08 at 230.47; FNMR 0 (model A at FMR 1) is left out.
	if !strings.Contains(doc, `d="M72 162.82 L208 230.47 L344 302.89 L480 384"`) {
		t.Errorf("model A's path is not at the expected coordinates:\n%s", doc)
	}
	if !strings.Contains(doc, `d="M208 132.89 L344 214 L480 332.82"`) {
		t.Errorf("model B's path does not start at FMR 1e-3 (its FMR 0 point must be left out):\n%s", doc)
	}
	for _, tick := range []string{">0.01%<", ">0.1%<", ">1%<", ">10%<", ">100%<"} {
		if !strings.Contains(doc, tick) {
			t.Errorf("tick label %s missing", tick)
		}
	}
}

func TestHistogram(t *testing.T) {
	got := Histogram([]float64{-1, -0.5, 0, 0.5, 1, 2, -3}, -1, 1, 4)
	want := []Point{{-1, 1.0 / 7}, {-0.5, 1.0 / 7}, {0, 1.0 / 7}, {0.5, 2.0 / 7}, {1, 2.0 / 7}}
	if len(got) != len(want) {
		t.Fatalf("Histogram = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Histogram[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if Histogram(nil, 1, 1, 4) != nil || Histogram(nil, 0, 1, 0) != nil {
		t.Errorf("Histogram of an empty range or no bins is not nil")
	}
}

func TestErrors(t *testing.T) {
	many := make([]Point, MaxPoints+1)
	for i := range many {
		many[i] = Point{float64(i), 1}
	}
	for name, c := range map[string]*Chart{
		"no title":               {Desc: "d", Series: []Series{{Points: []Point{{1, 1}}}}},
		"no desc":                {Title: "t", Series: []Series{{Points: []Point{{1, 1}}}}},
		"no series":              {Title: "t", Desc: "d"},
		"too many points":        {Title: "t", Desc: "d", Series: []Series{{Points: many}}},
		"nothing drawable":       {Title: "t", Desc: "d", X: Axis{Log: true}, Series: []Series{{Points: []Point{{0, 1}, {-1, 2}}}}},
		"bad id":                 {ID: "a b", Title: "t", Desc: "d", Series: []Series{{Points: []Point{{1, 1}}}}},
		"non-positive log range": {Title: "t", Desc: "d", Y: Axis{Log: true, Min: -1, Max: 1}, Series: []Series{{Points: []Point{{1, 1}}}}},
	} {
		if _, err := c.SVG(); !errors.Is(err, ErrChart) {
			t.Errorf("%s: SVG() error = %v, want ErrChart", name, err)
		}
	}
	var b bytes.Buffer
	if err := histChart().WriteSVG(&b); err != nil || !strings.HasPrefix(b.String(), "<svg") {
		t.Errorf("WriteSVG = %v, %.20q", err, b.String())
	}
}

package plot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docFigure is a chart in the documentation drawn from a table there: the
// table under heading in doc, one bar per row, labelled by the label
// columns and measured by the value column.
type docFigure struct {
	out, doc, heading string
	labels            []string
	format            string // of the label, one %s per label column
	value             string
	title, desc       string
}

var docFigures = []docFigure{{
	out:     "../../docs/figures/bench-http-token-cache.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "HTTP: authenticated requests with the token cache (package revoke)",
	labels:  []string{"round", "server"},
	format:  "round %s: %s",
	value:   "requests/s",
	title:   "Authenticated requests per second, three interleaved rounds",
	desc: "Requests per second of GET /v1/whoami on madoguchi with the token cache (the default), a bare net/http handler, " +
		"and madoguchi reading the store on every request, in three interleaved rounds on a loaded 2-core machine " +
		"(docs/benchmarks.md, same table). Longer is faster.",
}}

// TestDocFigures: each documentation figure matches the table it is drawn
// from (run with -update after changing the table, and commit both).
func TestDocFigures(t *testing.T) {
	for _, f := range docFigures {
		t.Run(filepath.Base(f.out), func(t *testing.T) {
			c, err := f.chart()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.SVG()
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.MkdirAll(filepath.Dir(f.out), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f.out, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(f.out)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("%s is out of date with its table in %s: run go test ./internal/plot -update", f.out, f.doc)
			}
		})
	}
}

func (f docFigure) chart() (*BarChart, error) {
	md, err := os.ReadFile(f.doc)
	if err != nil {
		return nil, err
	}
	tables, err := ParseTables(md)
	if err != nil {
		return nil, err
	}
	for _, tb := range tables {
		if tb.Heading != f.heading {
			continue
		}
		col := map[string]int{}
		for i, h := range tb.Header {
			col[h] = i
		}
		vi, ok := col[f.value]
		if !ok {
			return nil, fmt.Errorf("%s: no column %q", f.heading, f.value)
		}
		c := &BarChart{ID: "fig", Title: f.title, Desc: f.desc, ValueLabel: f.value}
		for _, row := range tb.Rows {
			var parts []any
			for _, l := range f.labels {
				li, ok := col[l]
				if !ok {
					return nil, fmt.Errorf("%s: no column %q", f.heading, l)
				}
				parts = append(parts, strings.ReplaceAll(row[li], "`", ""))
			}
			v, ok := Number(row[vi])
			if !ok {
				return nil, fmt.Errorf("%s: %q is not a number", f.heading, row[vi])
			}
			c.Bars = append(c.Bars, Bar{Label: fmt.Sprintf(f.format, parts...), Value: v})
		}
		return c, nil
	}
	return nil, fmt.Errorf("%s: no table under %q", f.doc, f.heading)
}

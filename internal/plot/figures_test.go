package plot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docFigure is a chart in the documentation drawn from a table there: the
// table-th table (from 0) under heading in doc, one bar per row and value
// column, labelled by the label columns and measured by the value columns.
// Every drawn cell must hold a number (in unit, when set): a cell that does
// not fails the test rather than dropping a bar.
type docFigure struct {
	out, doc, heading string
	table             int
	labels            []string
	format            string   // of the label, one %s per label column
	cut               bool     // labels end before their first " (" (the table keeps the detail)
	values            []string // value columns; with several, each bar's label names its column
	unit              string   // when set, cells carry a unit converted to this one (see quantity)
	skip              []string // rows whose first label cell is one of these are not drawn (a ratio row)
	axis              string   // the value axis: unit and "longer/shorter is faster"
	width             int
	title, desc       string
}

var docFigures = []docFigure{{
	out:     "../../docs/figures/bench-http-token-cache.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "HTTP: authenticated requests with the token cache (package revoke)",
	labels:  []string{"round", "server"},
	format:  "round %s: %s",
	values:  []string{"requests/s"},
	axis:    "requests/s (longer is faster)",
	title:   "Authenticated requests per second, three interleaved rounds",
	desc: "Requests per second of GET /v1/whoami on madoguchi with the token cache (the default), a bare net/http handler, " +
		"and madoguchi reading the store on every request, in three interleaved rounds on a loaded 2-core machine " +
		"(docs/benchmarks.md, same table). Longer is faster.",
}, {
	out:     "../../docs/figures/bench-http-loopback-loaded.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "HTTP: authenticated requests on loopback",
	labels:  []string{"server"},
	format:  "%s",
	values:  []string{"requests/s"},
	skip:    []string{"ratio"},
	axis:    "requests/s (longer is faster)",
	title:   "Authenticated requests per second, store read per request (load ≈ 20)",
	desc: "Requests per second of GET /v1/whoami on madoguchi reading its SQLite store on every request, " +
		"against a bare net/http handler serving the same body, same run and load generator, load average about 20 " +
		"(docs/benchmarks.md, first table under its heading). Longer is faster.",
}, {
	out:     "../../docs/figures/bench-http-loopback-quieter.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "HTTP: authenticated requests on loopback",
	table:   1,
	labels:  []string{"server"},
	format:  "%s",
	values:  []string{"requests/s"},
	skip:    []string{"ratio"},
	axis:    "requests/s (longer is faster)",
	title:   "Authenticated requests per second, store read per request (load ≈ 4)",
	desc: "Requests per second of GET /v1/whoami on madoguchi reading its SQLite store on every request, " +
		"against a bare net/http handler serving the same body, same run and load generator, load average about 4 " +
		"(docs/benchmarks.md, second table under its heading). Longer is faster.",
}, {
	out:     "../../docs/figures/bench-ekyc-image-memory.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "eKYC: image memory under 50 concurrent worst-case submits",
	labels:  []string{"run (load average)"},
	format:  "run %s",
	values:  []string{"peak RSS before submits", "peak RSS, 50 decided", "bound asserted"},
	unit:    "MiB",
	axis:    "MiB resident (shorter is less memory)",
	width:   720,
	title:   "Server peak RSS with 50 concurrent worst-case submits",
	desc: "Peak resident set of the server in each of four runs: before the submits (the baseline), after 50 concurrent " +
		"sessions with 80 MiB decoded selfies were decided, and the 1 GiB bound the test asserts " +
		"(docs/benchmarks.md, same table). Shorter is less memory.",
}, {
	out:     "../../docs/figures/bench-oauth-dpop.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "OAuth: the DPoP-protected resource path (package `oauth`)",
	labels:  []string{"run (machine load avg ≈ 15, shared by ~8 engineers)"},
	format:  "%s",
	cut:     true,
	values:  []string{"bare ns/op", "dpop ns/op"},
	axis:    "ns per request (shorter is faster)",
	width:   880,
	title:   "DPoP-protected resource path against a bare handler, ns per request",
	desc: "Nanoseconds per request of a bare JSON handler and of the DPoP-authenticated path writing the same body, " +
		"in the same benchmark run, for each run of the table (docs/benchmarks.md, same table); " +
		"absolute times compare only within a run. Shorter is faster.",
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
	n := 0
	for _, tb := range tables {
		if tb.Heading != f.heading {
			continue
		}
		if n++; n <= f.table {
			continue
		}
		col := map[string]int{}
		for i, h := range tb.Header {
			col[h] = i
		}
		for _, h := range append(append([]string(nil), f.labels...), f.values...) {
			if _, ok := col[h]; !ok {
				return nil, fmt.Errorf("%s: no column %q", f.heading, h)
			}
		}
		c := &BarChart{ID: "fig", Title: f.title, Desc: f.desc, ValueLabel: f.axis, Width: f.width}
	rows:
		for _, row := range tb.Rows {
			var parts []any
			for i, l := range f.labels {
				s := plainText(row[col[l]])
				if i == 0 {
					for _, k := range f.skip {
						if s == k {
							continue rows
						}
					}
				}
				if f.cut {
					s, _, _ = strings.Cut(s, " (")
				}
				parts = append(parts, s)
			}
			label := fmt.Sprintf(f.format, parts...)
			for _, vc := range f.values {
				v, err := quantity(row[col[vc]], f.unit)
				if err != nil {
					return nil, fmt.Errorf("%s: %s, %s: %w", f.heading, label, vc, err)
				}
				l := label
				if len(f.values) > 1 {
					l += ": " + vc
				}
				c.Bars = append(c.Bars, Bar{Label: l, Value: v})
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("%s: no table %d under %q", f.doc, f.table, f.heading)
}

// plainText drops Markdown emphasis and code marks from a table cell.
func plainText(cell string) string {
	return strings.TrimSpace(strings.NewReplacer("**", "", "`", "").Replace(cell))
}

// units converts a cell's unit to a chart's unit: units[chart][cell] is
// the factor.
var units = map[string]map[string]float64{
	"MiB": {"KiB": 1.0 / 1024, "MiB": 1, "GiB": 1024},
	"ms":  {"µs": 1e-3, "ms": 1, "s": 1e3},
}

// quantity reads a cell's number; with unit set, the cell must name a unit
// convertible to it ("1 GiB" in MiB is 1024), so that one axis never mixes
// units.
func quantity(cell, unit string) (float64, error) {
	v, ok := Number(cell)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", cell)
	}
	if unit == "" {
		return v, nil
	}
	rest := strings.TrimLeft(strings.TrimSpace(cell), "*_`")
	rest = strings.TrimSpace(rest[len(leadingNumber.FindString(rest)):])
	u, _, _ := strings.Cut(rest, " ")
	u = strings.TrimRight(u, "*_`,;")
	k, ok := units[unit][u]
	if !ok {
		return 0, fmt.Errorf("%q: unit %q is not convertible to %s", cell, u, unit)
	}
	return v * k, nil
}

func TestQuantity(t *testing.T) {
	for _, tc := range []struct {
		cell, unit string
		want       float64
	}{
		{"146 MiB", "MiB", 146},
		{"1 GiB", "MiB", 1024},
		{"**0.43 s**", "ms", 430},
		{"136 µs", "ms", 0.136},
		{"5,326", "", 5326},
	} {
		if got, err := quantity(tc.cell, tc.unit); err != nil || got != tc.want {
			t.Errorf("quantity(%q, %q) = %v, %v, want %v", tc.cell, tc.unit, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ cell, unit string }{
		{"146", "MiB"},     // no unit
		{"1.56 ms", "MiB"}, // another dimension
		{"—", "ms"},        // no number
		{"same baseline", ""},
	} {
		if got, err := quantity(tc.cell, tc.unit); err == nil {
			t.Errorf("quantity(%q, %q) = %v, want an error", tc.cell, tc.unit, got)
		}
	}
}

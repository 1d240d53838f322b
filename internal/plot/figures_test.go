package plot

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
	rows              []string // when set, only the rows whose first label (cut) is one of these
	same              string   // a cell reading this repeats the value above it ("same baseline")
	runs              bool     // a cell lists runs, "4.50, 5.06, 4.60 ms": one bar per run
	after             string   // when set, the quantity read is the first after this word ("p99")
	names             []string // the value columns' names on the bars, when not the columns' own
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
}, {
	out:     "../../docs/figures/bench-oauth-bindings.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Per binding: DPoP with ES256, EdDSA, PS256, and mTLS (issue 13)",
	labels:  []string{"sub-benchmark"},
	format:  "%s",
	rows: []string{"ResourcePath/sqlite/bare", "ResourcePath/sqlite/dpop-es256", "ResourcePath/sqlite/dpop-eddsa",
		"ResourcePath/sqlite/dpop-ps256", "ResourcePath/sqlite/mtls",
		"DPoPVerify/ecdsa.Verify", "DPoPVerify/ed25519.Verify", "DPoPVerify/rsa.VerifyPSS"},
	values: []string{"CPU per request (3 runs)"},
	unit:   "µs",
	runs:   true,
	axis:   "µs of CPU per request or verification (shorter is faster)",
	width:  880,
	title:  "Resource path per token binding against a bare handler and the signature alone, CPU µs",
	desc: "Microseconds of process CPU per request of a bare JSON handler, of the resource path with a DPoP proof " +
		"signed with ES256, EdDSA or PS256 and with a certificate-bound (mTLS) token, and of one verification of " +
		"each signature alone, three repetitions each in the same run on SQLite (docs/benchmarks.md, first table " +
		"under its heading). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-webhooks.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Webhooks (notify)",
	labels:  []string{"what"},
	format:  "%s",
	cut:     true,
	values:  []string{"per op", "baseline (same run)"},
	unit:    "µs",
	axis:    "µs per operation (shorter is faster)",
	width:   760,
	title:   "Webhook signing and delivery against same-run baselines, µs",
	desc: "Microseconds per operation of signing a webhook (against a bare Ed25519 signature) and of a webhook " +
		"enqueued and delivered through SQLite to a loopback receiver (against a bare HTTP POST to it), " +
		"each with its baseline from the same run (docs/benchmarks.md, same table). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-portal.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Staff portal",
	labels:  []string{"what"},
	format:  "%s",
	cut:     true,
	values:  []string{"per request", "baseline (same run)"},
	unit:    "µs",
	same:    "same baseline",
	axis:    "µs per request (shorter is faster)",
	title:   "Staff portal pages against a bare handler, µs per request",
	desc: "Microseconds per request of the signed-in portal home page and of the sign-in page, each beside a bare " +
		"handler writing the same page in the same run (docs/benchmarks.md, same table). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-answer-p50.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	table:   1,
	labels:  []string{""},
	format:  "%s",
	cut:     true,
	rows:    []string{"deciding answer p50"},
	values:  []string{"before (3 runs)", "after (3 runs)"},
	unit:    "ms",
	runs:    true,
	axis:    "ms, median time to decide an answer (shorter is faster)",
	title:   "Deciding answer p50 before and after one commit fewer, ms",
	desc: "Median milliseconds to decide a confirmation answer in three alternating runs of the test binary " +
		"before the fix (the baseline) and three after it, in one session at load average about 21 " +
		"(docs/benchmarks.md, first A/B table). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-answers-verified.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	table:   1,
	labels:  []string{""},
	format:  "%s",
	cut:     true,
	rows:    []string{"answers verified"},
	values:  []string{"before (3 runs)", "after (3 runs)"},
	unit:    "/s",
	runs:    true,
	axis:    "answers verified per second (longer is faster)",
	title:   "Answers verified per second before and after one commit fewer",
	desc: "Image-card answers verified per second in three alternating runs of the test binary before the fix " +
		"(the baseline) and three after it, in one session at load average about 21 " +
		"(docs/benchmarks.md, first A/B table). Longer is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-challenges-issued.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	table:   2,
	labels:  []string{""},
	format:  "%s",
	rows:    []string{"image challenges issued"},
	values:  []string{"before", "after"},
	unit:    "/s",
	runs:    true,
	axis:    "image challenges issued per second (longer is faster)",
	title:   "Image challenges issued per second before and after one commit per page view",
	desc: "Image challenges issued per second in three interleaved rounds before the second fix (the baseline) " +
		"and three after it, at load average 27 to 28 (docs/benchmarks.md, second A/B table). Longer is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-whole-confirmation.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	table:   2,
	labels:  []string{""},
	format:  "%s",
	cut:     true,
	rows:    []string{"whole confirmation"},
	values:  []string{"before", "after"},
	unit:    "ms/op",
	runs:    true,
	axis:    "ms per whole confirmation (shorter is faster)",
	title:   "Whole confirmation before and after one commit per page view, ms",
	desc: "Milliseconds per whole confirmation (request, page and answer) in three interleaved rounds before the " +
		"second fix (the baseline) and three after it, at load average 27 to 28 " +
		"(docs/benchmarks.md, second A/B table). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-p50.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	labels:  []string{"benchmark"},
	format:  "%s",
	cut:     true,
	rows:    []string{"confirmation request", "deciding answer"},
	values:  []string{"figure", "same-run baseline"},
	names:   []string{"madoguchi", "bare durable tx"},
	same:    "bare durable tx",
	after:   "p50",
	unit:    "ms",
	axis:    "ms, p50 (shorter is faster)",
	title:   "Transaction authentication p50 against a bare durable transaction, ms",
	desc: "Median milliseconds of a confirmation request and of a deciding answer, each beside one bare durable " +
		"SQLite transaction in the same run (docs/benchmarks.md, first table under its heading). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-txauth-p99.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Transaction authentication",
	labels:  []string{"benchmark"},
	format:  "%s",
	cut:     true,
	rows:    []string{"confirmation request", "deciding answer"},
	values:  []string{"figure", "same-run baseline"},
	names:   []string{"madoguchi", "bare durable tx"},
	same:    "bare durable tx",
	after:   "p99",
	unit:    "ms",
	axis:    "ms, p99 (shorter is faster)",
	title:   "Transaction authentication p99 against a bare durable transaction, ms",
	desc: "99th-percentile milliseconds of a confirmation request and of a deciding answer, each beside one bare " +
		"durable SQLite transaction in the same run (docs/benchmarks.md, first table under its heading). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-credential-128d.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Offline face credential (package credential)",
	labels:  []string{"operation"},
	format:  "%s",
	cut:     true,
	rows:    []string{"issue", "offline verification"},
	values:  []string{"time", "vs bare ES256 in the same run"},
	names:   []string{"madoguchi", "bare ES256"},
	unit:    "ms",
	axis:    "ms per operation (shorter is faster)",
	title:   "Offline face credential against bare ES256, 128-D, ms",
	desc: "Milliseconds to issue a credential (no QR code) and to verify it offline, 128-D templates, each beside a " +
		"bare ES256 sign or verify in the same run (docs/benchmarks.md, first table under its heading). Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-credential-sizes.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "Offline face credential (package credential)",
	table:   1,
	labels:  []string{"operation"},
	format:  "%s",
	cut:     true,
	rows:    []string{"issue", "offline verification"},
	values:  []string{"512-D", "128-D", "bare ES256 in the same run"},
	names:   []string{"512-D", "128-D", "bare ES256"},
	unit:    "ms",
	axis:    "ms per operation (shorter is faster)",
	title:   "Offline face credential, 512-D and 128-D against bare ES256, ms",
	desc: "Milliseconds to issue a credential (no QR code) and to verify it offline with 512-D and 128-D templates, " +
		"beside a bare ES256 sign or verify in the same run (docs/benchmarks.md, second table under its heading). " +
		"Shorter is faster.",
}, {
	out:     "../../docs/figures/bench-ekyc-cpu.svg",
	doc:     "../../docs/benchmarks.md",
	heading: "eKYC: whole sessions with the real face engine",
	labels:  []string{"method"},
	format:  "%s",
	values:  []string{"server CPU / session"},
	unit:    "s",
	axis:    "s of server CPU per session (shorter is faster)",
	width:   1120,
	title:   "Server CPU per eKYC session, by run and face engine",
	desc: "Seconds of server CPU per whole eKYC session (methods he and ho) in each run of the table, from the first " +
		"face engine under load to SSD with three detection passes and the default BlazeFace engine on a quiet machine " +
		"(docs/benchmarks.md, same table; runs at different machine loads). Shorter is faster.",
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
		if f.names != nil && len(f.names) != len(f.values) {
			return nil, fmt.Errorf("%s: %d names for %d value columns", f.heading, len(f.names), len(f.values))
		}
		for _, h := range append(append([]string(nil), f.labels...), f.values...) {
			if _, ok := col[h]; !ok {
				return nil, fmt.Errorf("%s: no column %q", f.heading, h)
			}
		}
		c := &BarChart{ID: "fig", Title: f.title, Desc: f.desc, ValueLabel: f.axis, Width: f.width}
		above := map[string]string{} // value column → the cell above, for f.same
	rows:
		for _, row := range tb.Rows {
			var parts []any
			for i, l := range f.labels {
				s := plainText(row[col[l]])
				if f.cut {
					s, _, _ = strings.Cut(s, " (")
				}
				if i == 0 && (slices.Contains(f.skip, s) || f.rows != nil && !slices.Contains(f.rows, s)) {
					continue rows
				}
				parts = append(parts, s)
			}
			label := fmt.Sprintf(f.format, parts...)
			for vi, vc := range f.values {
				cell := row[col[vc]]
				if f.same != "" && plainText(cell) == f.same {
					if above[vc] == "" {
						return nil, fmt.Errorf("%s: %s, %s: %q with nothing above", f.heading, label, vc, cell)
					}
					cell = above[vc]
				}
				above[vc] = cell
				if f.after != "" {
					_, rest, ok := strings.Cut(plainText(cell), f.after+" ")
					if !ok {
						return nil, fmt.Errorf("%s: %s, %s: %q has no %q", f.heading, label, vc, cell, f.after)
					}
					cell = rest
				}
				vs := []float64{0}
				var err error
				if f.runs {
					vs, err = runs(cell, f.unit)
				} else {
					vs[0], err = quantity(cell, f.unit)
				}
				if err != nil {
					return nil, fmt.Errorf("%s: %s, %s: %w", f.heading, label, vc, err)
				}
				l := label
				if len(f.values) > 1 {
					name := vc
					if f.names != nil {
						name = f.names[vi]
					}
					if f.cut {
						name, _, _ = strings.Cut(name, " (")
					}
					l += ": " + name
				}
				for i, v := range vs {
					li := l
					if f.runs {
						li = fmt.Sprintf("%s, run %d", l, i+1)
					}
					c.Bars = append(c.Bars, Bar{Label: li, Value: v})
				}
			}
		}
		if len(c.Bars) == 0 {
			return nil, fmt.Errorf("%s: no row to draw", f.heading)
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
	"MiB":   {"KiB": 1.0 / 1024, "MiB": 1, "GiB": 1024},
	"µs":    {"ns": 1e-3, "µs": 1, "ms": 1e3, "s": 1e6},
	"ms":    {"µs": 1e-3, "ms": 1, "s": 1e3},
	"s":     {"ms": 1e-3, "s": 1},
	"ms/op": {"ms/op": 1},
	"/s":    {"/s": 1},
}

var quantityRE = regexp.MustCompile(`\b([0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?)\s*([^\s,;)*_` + "`" + `]*)`)

// quantity reads a cell's number. With unit set it reads the first number
// followed by a unit convertible to it ("1 GiB" in MiB is 1024; in "bare
// ed25519.Sign of 300 bytes: 178 µs" it is the 178 µs), so that one axis
// never mixes units, and fails if there is none.
func quantity(cell, unit string) (float64, error) {
	if unit == "" {
		v, ok := Number(cell)
		if !ok {
			return 0, fmt.Errorf("%q is not a number", cell)
		}
		return v, nil
	}
	for _, m := range quantityRE.FindAllStringSubmatch(plainText(cell), -1) {
		if k, ok := units[unit][m[2]]; ok {
			v, err := strconv.ParseFloat(strings.ReplaceAll(m[1], ",", ""), 64)
			if err != nil {
				return 0, fmt.Errorf("%q: %w", cell, err)
			}
			return v * k, nil
		}
	}
	return 0, fmt.Errorf("%q has no quantity in a unit convertible to %s", cell, unit)
}

var runRE = regexp.MustCompile(`^[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?:\s*(\S+))?$`)

// runs reads a cell listing runs, "4.50, 5.06, 4.60 ms": every item is a
// number, and the unit written after the last applies to all.
func runs(cell, unit string) ([]float64, error) {
	parts := strings.Split(plainText(cell), ", ")
	var vs []float64
	for i, p := range parts {
		m := runRE.FindStringSubmatch(p)
		if m == nil || m[1] != "" && i < len(parts)-1 {
			return nil, fmt.Errorf("%q: run %q is not a number (with the unit on the last run only)", cell, p)
		}
		if i < len(parts)-1 {
			p += " " + runRE.FindStringSubmatch(parts[len(parts)-1])[1]
		}
		v, err := quantity(p, unit)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return vs, nil
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
		{"bare `ed25519.Sign` of 300 bytes: 178 µs", "µs", 178},
		{"13.9 ms", "µs", 13900},
		{"240/s (4.2 ms each)", "/s", 240},
		{"240/s (4.2 ms each)", "ms", 4.2},
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
		{"same baseline", "µs"},
		{"98,600 req/s", "/s"}, // req/s is not /s to this reader: no silent guess
	} {
		if got, err := quantity(tc.cell, tc.unit); err == nil {
			t.Errorf("quantity(%q, %q) = %v, want an error", tc.cell, tc.unit, got)
		}
	}
}

func TestRuns(t *testing.T) {
	for _, tc := range []struct {
		cell, unit string
		want       []float64
	}{
		{"4.50, 5.06, 4.60 ms", "ms", []float64{4.5, 5.06, 4.6}},
		{"99.6, 122.6, 82.9 /s", "/s", []float64{99.6, 122.6, 82.9}},
		{"31.4, 14.3, 24.2 ms/op", "ms/op", []float64{31.4, 14.3, 24.2}},
		{"1,632 /s", "/s", []float64{1632}},
	} {
		got, err := runs(tc.cell, tc.unit)
		if err != nil {
			t.Errorf("runs(%q, %q): %v", tc.cell, tc.unit, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("runs(%q, %q) (-want +got):\n%s", tc.cell, tc.unit, diff)
		}
	}
	for _, tc := range []struct{ cell, unit string }{
		{"1.35 / 18.1, 0.52 / 4.3, 1.41 / 22.9 ms", "ms"}, // pairs, not runs
		{"4.50 ms, 5.06 ms", "ms"},                        // unit on the last only
		{"4.50, 5.06, 4.60 ms", "/s"},                     // another dimension
		{"not measurable here", "ms"},
		{"", "ms"},
	} {
		if got, err := runs(tc.cell, tc.unit); err == nil {
			t.Errorf("runs(%q, %q) = %v, want an error", tc.cell, tc.unit, got)
		}
	}
}

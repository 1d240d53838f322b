package fraud

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// evalTemplates reads a `madoguchi face evaluate-lfw --cache-out` file
// (one JSON object per image: file, templates) and returns the first
// template of each analysed image, grouped by person (the file's folder).
// The file holds biometric templates of real people: it is never
// committed; MADOGUCHI_FRAUD_TEMPLATES names it (docs/fraud.md).
func evalTemplates(t *testing.T, path string) (model string, people map[string][][]float32) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	people = map[string][][]float32{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var c struct {
			File      string `json:"file"`
			Templates []struct {
				Model  string    `json:"model"`
				Values []float32 `json:"values"`
			} `json:"templates"`
		}
		if json.Unmarshal(sc.Bytes(), &c) != nil || len(c.Templates) == 0 {
			continue
		}
		person, _, _ := strings.Cut(c.File, "/")
		v := c.Templates[0].Values
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		for i := range v {
			v[i] /= float32(math.Sqrt(ss))
		}
		model = c.Templates[0].Model
		people[person] = append(people[person], v)
	}
	return model, people
}

func dot32(a, b []float32) float64 {
	var d float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
	}
	return d
}

// evalThresholds are the thresholds TestEvaluateOneToN reports: those of
// MADOGUCHI_FRAUD_THRESHOLDS (comma-separated cosines) if set, else the
// ones at which the per-pair FMR over imp (sorted) is 1e-3, 1e-4, 1e-5
// and 1e-6, as far as the impostor pairs resolve them (at least 10 false
// matches), each rounded up to 4 decimals: cosines differ too much between
// models (the dlib ResNet's impostors score 0.84 on average, ArcFace-style
// models' near 0) for one fixed list.
func evalThresholds(t *testing.T, imp []float64) []float64 {
	t.Helper()
	if env := os.Getenv("MADOGUCHI_FRAUD_THRESHOLDS"); env != "" {
		var out []float64
		for _, f := range strings.Split(env, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || !(v > -1 && v < 1) {
				t.Fatalf("MADOGUCHI_FRAUD_THRESHOLDS: %q is not a cosine in (-1, 1)", f)
			}
			out = append(out, v)
		}
		return out
	}
	var out []float64
	for _, fmr := range []float64{1e-3, 1e-4, 1e-5, 1e-6} {
		k := int(math.Ceil(fmr * float64(len(imp))))
		if k < 10 {
			break
		}
		out = append(out, math.Ceil(imp[len(imp)-k]*1e4)/1e4)
	}
	return out
}

// TestEvaluateOneToN measures the 1:N error rates of the duplicate search
// on real templates: a gallery of one template per person, mated probes
// (another image of a gallery person) and non-mated probes (people not in
// the gallery). FPIR(N, t) is the share of non-mated probes whose best
// gallery score exceeds t; FNIR(N, t) the share of mated probes whose mate
// does not. It also reports the per-pair FMR over every impostor pair and
// the threshold each target FPIR needs at larger N (FPIR ≈ N·FMR while
// small). Runs only with MADOGUCHI_FRAUD_TEMPLATES set.
func TestEvaluateOneToN(t *testing.T) {
	path := os.Getenv("MADOGUCHI_FRAUD_TEMPLATES")
	if path == "" {
		t.Skip("MADOGUCHI_FRAUD_TEMPLATES is not set (a face evaluate-lfw cache file; docs/fraud.md)")
	}
	model, people := evalTemplates(t, path)
	names := make([]string, 0, len(people))
	images := 0
	for n, vs := range people {
		names = append(names, n)
		images += len(vs)
	}
	sort.Strings(names)
	t.Logf("model %s: %d images of %d people", model, images, len(names))

	// Per-pair impostor scores (one template per person, all pairs) and
	// genuine scores (all pairs within a person).
	var imp, gen []float64
	for i, a := range names {
		for _, b := range names[i+1:] {
			imp = append(imp, dot32(people[a][0], people[b][0]))
		}
		vs := people[a]
		for x := range vs {
			for y := x + 1; y < len(vs); y++ {
				gen = append(gen, dot32(vs[x], vs[y]))
			}
		}
	}
	slices.Sort(imp)
	slices.Sort(gen)
	mean := func(x []float64) (m, s float64) {
		for _, v := range x {
			m += v
		}
		m /= float64(len(x))
		for _, v := range x {
			s += (v - m) * (v - m)
		}
		return m, math.Sqrt(s / float64(len(x)))
	}
	im, is := mean(imp)
	gm, gs := mean(gen)
	t.Logf("impostor pairs %d: mean %.4f sd %.4f max %.4f; genuine pairs %d: mean %.4f sd %.4f", len(imp), im, is, imp[len(imp)-1], len(gen), gm, gs)
	fmrAt := func(th float64) float64 {
		i := sort.SearchFloat64s(imp, math.Nextafter(th, 2))
		return float64(len(imp)-i) / float64(len(imp))
	}
	fnmrAt := func(th float64) float64 {
		return float64(sort.SearchFloat64s(gen, math.Nextafter(th, 2))) / float64(len(gen))
	}
	thresholds := evalThresholds(t, imp)
	var b strings.Builder
	fmt.Fprintf(&b, "\n| threshold | per-pair FMR | per-pair FNMR |")
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		fmt.Fprintf(&b, " FPIR est. N=%d |", n)
	}
	for _, th := range thresholds {
		f := fmrAt(th)
		fmt.Fprintf(&b, "\n| %.4f | %.2e | %.2f %% |", th, f, 100*fnmrAt(th))
		for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
			fmt.Fprintf(&b, " %.2e |", 1-math.Pow(1-f, float64(n)))
		}
	}
	t.Log(b.String())

	// Measured 1:N: galleries of the first N people with 2+ images (mated
	// probes: their second image) and of people with one image; non-mated
	// probes: the people left out.
	var multi, single []string
	for _, n := range names {
		if len(people[n]) >= 2 {
			multi = append(multi, n)
		} else {
			single = append(single, n)
		}
	}
	b.Reset()
	fmt.Fprintf(&b, "\n| N | threshold | FPIR measured (non-mated probes) | FNIR measured (mated probes) |")
	for _, n := range []int{100, 300, 1000, len(single) + len(multi)/2} {
		if n > len(single)+len(multi)/2 {
			continue
		}
		// The gallery: half of the multi-image people (mates exist) and
		// singles up to N; non-mated probes: the other half of multi.
		half := len(multi) / 2
		gallery := map[string][]float32{}
		for _, p := range multi[:min(half, n)] {
			gallery[p] = people[p][0]
		}
		for _, p := range single {
			if len(gallery) >= n {
				break
			}
			gallery[p] = people[p][0]
		}
		for _, th := range thresholds {
			var fp, nonMated, fn, mated int
			for _, p := range multi[:min(half, n)] {
				mated++
				if dot32(people[p][1], gallery[p]) <= th {
					fn++
				}
			}
			for _, p := range multi[half:] {
				nonMated++
				best := -1.0
				for _, g := range gallery {
					best = math.Max(best, dot32(people[p][0], g))
				}
				if best > th {
					fp++
				}
			}
			fmt.Fprintf(&b, "\n| %d | %.4f | %.4f (%d/%d) | %.4f (%d/%d) |", len(gallery), th,
				float64(fp)/float64(nonMated), fp, nonMated, float64(fn)/float64(mated), fn, mated)
		}
	}
	t.Log(b.String())
}

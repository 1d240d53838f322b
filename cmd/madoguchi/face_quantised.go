package main

import (
	"fmt"
	"io"
	"math"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
)

// addQuantised appends to every image's templates its first template as
// an offline credential carries it, once per credential encoding
// (credential.CompactAs, then Expand), and a label per encoding to
// labels (whose first entry is the first template's model). Callers
// score a credential column against the other image's float32 template,
// as the branch compares a credential with a live face.
func addQuantised(tpl map[string][]face.Template, labels *[]string) error {
	for f, ts := range tpl {
		for _, enc := range credential.Encodings {
			q, err := credential.CompactAs(ts[0], enc)
			if err != nil {
				return err
			}
			qt, err := credential.Expand(ts[0].Model(), q)
			if err != nil {
				return err
			}
			ts = append(ts, qt)
		}
		tpl[f] = ts
	}
	base := (*labels)[0]
	for _, enc := range credential.Encodings {
		*labels = append(*labels, fmt.Sprintf("%s, credential %s against float32", base, enc))
	}
	return nil
}

// writeQuantisedDeltas prints, per credential column (from first on), how
// far the pairs' cosines moved from column 0's (float32 against float32),
// and the error rates of that column at column 0's thresholds for FMR
// 1e-3 and 1e-4: what a branch gets when it applies a calibration made
// on float32 templates to credential comparisons.
func writeQuantisedDeltas(w io.Writer, pairs []labelledPair, scores [][]float64, labels []string, first int) {
	fmt.Fprintf(w, "\ncredential against float32, over %d pairs, at the float32 thresholds:\n", len(pairs))
	fmt.Fprintln(w, "| encoding | mean |Δcosine| | max |Δcosine| | FMR, FNMR at the float32 threshold for FMR 1e-3 | ... for 1e-4 |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	base := evaluatePairs(pairs, scores[0])
	for k := first; k < len(labels) && k < len(scores); k++ {
		var worst, sum float64
		for i := range pairs {
			d := math.Abs(scores[k][i] - scores[0][i])
			worst, sum = max(worst, d), sum+d
		}
		fmt.Fprintf(w, "| %s | %.5f | %.5f |", labels[k], sum/float64(max(len(pairs), 1)), worst)
		for _, target := range []float64{1e-3, 1e-4} {
			th, ok := thresholdAt(base, target)
			if !ok {
				fmt.Fprint(w, " not resolved |")
				continue
			}
			fmr, fnmr := ratesAt(pairs, scores[k], th)
			fmt.Fprintf(w, " %.2e, %.2f %% (%.4f) |", fmr, 100*fnmr, th)
		}
		fmt.Fprintln(w)
	}
}

// thresholdAt is ev's resolved threshold for target FMR.
func thresholdAt(ev face.Evaluation, target float64) (float64, bool) {
	for _, p := range ev.DET {
		if math.Abs(targetOf(p, ev)-target) < target/100 {
			return p.Threshold, p.Resolved
		}
	}
	return 0, false
}

// ratesAt is the FMR and FNMR of scores accepting above th.
func ratesAt(pairs []labelledPair, scores []float64, th float64) (fmr, fnmr float64) {
	var gen, imp, fa, fr int
	for i, p := range pairs {
		if p.genuine {
			gen++
			if !(scores[i] > th) {
				fr++
			}
		} else {
			imp++
			if scores[i] > th {
				fa++
			}
		}
	}
	return float64(fa) / float64(max(imp, 1)), float64(fr) / float64(max(gen, 1))
}

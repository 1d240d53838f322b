package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/internal/progress"
)

// evalReport is the ISO/IEC 19795-1 style report of one labelled set:
// acquisition (failure to acquire) and, per recogniser, the verification
// error rates.
type evalReport struct {
	Set        string `json:"set"`
	Identities int    `json:"identities"`
	Images     int    `json:"images"`
	// FailedToAcquire counts images where no face was found (or the image
	// could not be read); every pair touching one counts as a rejection.
	FailedToAcquire int           `json:"failed_to_acquire"`
	FTARate         float64       `json:"fta_rate"`
	Models          []modelReport `json:"models"`
}

type modelReport struct {
	Model string `json:"model"`
	// AllPairs: every pair of the images (at most MaxPerPerson per person).
	AllPairs *face.Evaluation `json:"all_pairs,omitempty"`
	// TenFold: a balanced pair list (every genuine pair, as many impostor
	// pairs drawn with a fixed seed) in ten shuffled folds, the threshold
	// chosen on nine folds and applied to the tenth (LFW's protocol, except
	// that folds are not identity-disjoint).
	TenFold *tenFoldReport `json:"ten_fold,omitempty"`
}

type tenFoldReport struct {
	Pairs    int     `json:"pairs"`
	Accuracy float64 `json:"accuracy"`
	SD       float64 `json:"sd"`
}

// faceEvaluate runs the verification evaluation on a labelled folder
// (<dir>/<person>/<image>) for one or more recognisers on the same
// detections and landmarks.
func faceEvaluate(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face evaluate", "face evaluate --dir FOLDER [--recognizers mfn512,resnet128] [--protocol all-pairs|10-fold|both] [--fusion] [--json FILE]")
	var ef engineFlags
	ef.register(fs, e)
	dir := fs.String("dir", "", "labelled `folder`: <person>/<image>, one folder per identity")
	name := fs.String("name", "", "name of the set in the report (default: the folder's name)")
	recs := fs.String("recognizers", "", "comma-separated recognisers to score on the same detections (default: --recognizer); the first one detects")
	protocol := fs.String("protocol", "both", "all-pairs (every pair; resolves the lowest FMR), 10-fold (balanced pairs, accuracy) or both")
	perPerson := fs.Int("max-per-person", 10, "use at most this many images per person (by sorted name)")
	maxImages := fs.Int("max-images", 8000, "refuse folders with more images (impostor pairs grow quadratically)")
	pick := fs.String("pick", "largest", "which face of an image is its subject: largest (eKYC's rule) or centre (for sets cut around their subject, like LFW)")
	fusion := fs.Bool("fusion", false, "also score the mean of the first two recognisers' z-normalised scores (score-level fusion)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this `file`")
	calOut := fs.String("calibration-out", "", "also write a calibration `file` for the first recogniser at --fmr from the all-pairs scores")
	fmr := fs.Float64("fmr", 1e-3, "target FMR for --calibration-out")
	plots := fs.String("plots", "", "also write the all-pairs DET curves and score distributions as det.svg and scores.svg into this `folder`")
	var cacheIn stringList
	fs.Var(&cacheIn, "cache-in", "reuse per-image results from this `file` written by --cache-out (repeatable)")
	cacheOut := fs.String("cache-out", "", "append per-image results (biometric templates: keep the file private) to this `file`")
	quantised := fs.Bool("quantised", false, "also score the first recogniser's templates as an offline face credential carries them, in every encoding (credential.CompactAs: int8, int6, int5, int4; docs/credential.md)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 {
		return usageError{"face evaluate needs --dir"}
	}
	if *protocol != "all-pairs" && *protocol != "10-fold" && *protocol != "both" {
		return usageError{"--protocol: want all-pairs, 10-fold or both"}
	}
	var pickFn func([]face.Face, int, int) *face.Face
	switch *pick {
	case "largest":
		pickFn = firstFace
	case "centre", "center":
		pickFn = lfwSubject
	default:
		return usageError{"--pick: want largest or centre"}
	}
	names := []string{ef.recognizer}
	if *recs != "" {
		names = strings.Split(*recs, ",")
	}
	if *fusion && len(names) < 2 {
		return usageError{"--fusion needs two --recognizers"}
	}
	people, total, err := readLabelled(*dir, *perPerson, *maxImages)
	if err != nil {
		return err
	}
	if len(people) < 2 {
		return fmt.Errorf("%s: %d identities; an evaluation needs at least two", *dir, len(people))
	}
	engines := make([]*face.Engine, len(names))
	for i, n := range names {
		f := ef
		f.recognizer = strings.TrimSpace(n)
		if i > 0 {
			f.align, f.calibration = "auto", ""
		}
		if engines[i], err = load(&f); err != nil {
			return fmt.Errorf("recognizer %s: %w", n, err)
		}
	}
	models := make([]string, len(engines))
	for i, eng := range engines {
		models[i] = eng.Model()
	}

	var files []string
	for _, p := range slices.Sorted(maps.Keys(people)) {
		files = append(files, people[p]...)
	}
	cached := map[string]cacheEntry{}
	for _, f := range cacheIn {
		if err := readCache(f, cached); err != nil {
			return err
		}
	}
	var todo []string
	for _, f := range files {
		rel, _ := filepath.Rel(*dir, f)
		if _, ok := cached[rel]; !ok {
			todo = append(todo, f)
		}
	}
	var enc *json.Encoder
	if *cacheOut != "" {
		cf, err := os.OpenFile(*cacheOut, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer cf.Close()
		enc = json.NewEncoder(cf)
	}
	onResult := func(c cacheEntry) {
		if enc != nil {
			c.File, _ = filepath.Rel(*dir, c.File)
			enc.Encode(c)
		}
	}
	pr, err := newProgress(e, "face evaluate", int64(len(todo)), "images")
	if err != nil {
		return err
	}
	tpl, failed, _ := embedAllWith(ctx, engines, todo, pickFn, pr, onResult)
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, f := range files {
		rel, _ := filepath.Rel(*dir, f)
		c, ok := cached[rel]
		if !ok {
			continue
		}
		if c.Error != "" {
			failed[f] = errors.New(c.Error)
			continue
		}
		ts, err := c.templates(models)
		if err != nil {
			return fmt.Errorf("cache entry %s: %w", rel, err)
		}
		tpl[f] = ts
	}

	labels := slices.Clone(models)
	if *quantised {
		if err := addQuantised(tpl, &labels); err != nil {
			return err
		}
	}
	rep := evalReport{Set: *name, Identities: len(people), Images: total, FailedToAcquire: len(failed)}
	if rep.Set == "" {
		rep.Set = filepath.Base(filepath.Clean(*dir))
	}
	rep.FTARate = float64(len(failed)) / float64(max(total, 1))
	pairs := allPairs(people)
	var tenFold []labelledPair
	if *protocol != "all-pairs" {
		tenFold = balancedPairs(pairs)
	}
	scoresOf := func(k int, ps []labelledPair) []float64 {
		out := make([]float64, len(ps))
		for i, p := range ps {
			out[i] = -1 // a failure to acquire counts as a rejection
			ta, oka := tpl[p.a]
			tb, okb := tpl[p.b]
			if oka && okb {
				// A credential column compares the credential's template
				// (a) with a live float32 one (b), as the branch does.
				kb := k
				if k >= len(engines) {
					kb = 0
				}
				if s, err := face.Compare(ta[k], tb[kb]); err == nil {
					out[i] = float64(s)
				}
			}
		}
		return out
	}
	var all [][]float64
	for k := range labels {
		mr := modelReport{Model: labels[k]}
		all = append(all, scoresOf(k, pairs))
		if *protocol != "10-fold" {
			ev := evaluatePairs(pairs, all[k])
			mr.AllPairs = &ev
		}
		if tenFold != nil {
			mr.TenFold = tenFoldOf(tenFold, scoresOf(k, tenFold))
		}
		rep.Models = append(rep.Models, mr)
	}
	if *plots != "" {
		var sets []scoreSet
		for k := range engines {
			s := scoreSet{model: models[k]}
			for i, p := range pairs {
				if p.genuine {
					s.gen = append(s.gen, all[k][i])
				} else {
					s.imp = append(s.imp, all[k][i])
				}
			}
			sets = append(sets, s)
		}
		written, err := writeFacePlots(*plots, rep.Set, sets)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "plots written to %s\n", strings.Join(written, ", "))
	}
	if *calOut != "" {
		if err := writeEvalCalibration(*calOut, models[0], *fmr, pairs, all[0], rep); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "calibration for %s at FMR %g written to %s\n", models[0], *fmr, *calOut)
	}
	if *fusion {
		mr := modelReport{Model: "fusion(" + models[0] + ", " + models[1] + ")"}
		fused := fuseScores(pairs, all[0], all[1])
		if *protocol != "10-fold" {
			ev := evaluatePairs(pairs, fused)
			mr.AllPairs = &ev
		}
		if tenFold != nil {
			idx := map[[2]string]int{}
			for i, p := range pairs {
				idx[[2]string{p.a, p.b}] = i
			}
			fs := make([]float64, len(tenFold))
			for i, p := range tenFold {
				fs[i] = fused[idx[[2]string{p.a, p.b}]]
			}
			mr.TenFold = tenFoldOf(tenFold, fs)
		}
		rep.Models = append(rep.Models, mr)
	}
	writeEvalReport(e.stdout, rep)
	if *quantised {
		writeQuantisedDeltas(e.stdout, pairs, all, labels, len(engines))
	}
	for _, f := range slices.Sorted(maps.Keys(failed)) {
		fmt.Fprintf(e.stderr, "no face: %s: %v\n", f, failed[f])
	}
	if *jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*jsonOut, append(b, '\n'), 0o644)
	}
	return nil
}

// labelledPair is two image files and whether they show the same person;
// fold is the ten-fold protocol's fold.
type labelledPair struct {
	a, b    string
	genuine bool
	fold    int
}

// allPairs lists every pair of the images, persons in sorted order.
func allPairs(people map[string][]string) []labelledPair {
	type item struct {
		person int
		file   string
	}
	var items []item
	for i, p := range slices.Sorted(maps.Keys(people)) {
		for _, f := range people[p] {
			items = append(items, item{i, f})
		}
	}
	var out []labelledPair
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			out = append(out, labelledPair{a: items[i].file, b: items[j].file,
				genuine: items[i].person == items[j].person})
		}
	}
	return out
}

// balancedPairs keeps every genuine pair and as many impostor pairs, drawn
// with a fixed seed so that runs and recognisers see the same list.
func balancedPairs(pairs []labelledPair) []labelledPair {
	var gen, imp []labelledPair
	for _, p := range pairs {
		if p.genuine {
			gen = append(gen, p)
		} else {
			imp = append(imp, p)
		}
	}
	r := rand.New(rand.NewPCG(19795, 1))
	r.Shuffle(len(imp), func(i, j int) { imp[i], imp[j] = imp[j], imp[i] })
	out := append(gen, imp[:min(len(gen), len(imp))]...)
	// Ten folds of equal size with genuine and impostor pairs in each.
	// LFW's folds are also identity-disjoint, which a set with few
	// identities cannot be; thresholds are still chosen on other pairs.
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		out[i].fold = i % 10
	}
	return out
}

func evaluatePairs(pairs []labelledPair, scores []float64) face.Evaluation {
	var gen, imp []float64
	for i, p := range pairs {
		if p.genuine {
			gen = append(gen, scores[i])
		} else {
			imp = append(imp, scores[i])
		}
	}
	return face.Evaluate(gen, imp)
}

func tenFoldOf(pairs []labelledPair, scores []float64) *tenFoldReport {
	genuine := make([]bool, len(pairs))
	for i, p := range pairs {
		genuine[i] = p.genuine
	}
	acc, sd := face.TenFoldAccuracy(scores, genuine, func(i int) int { return pairs[i].fold })
	return &tenFoldReport{Pairs: len(pairs), Accuracy: acc, SD: sd}
}

// fuseScores is score-level fusion: each recogniser's scores are
// z-normalised by the mean and standard deviation of its impostor scores
// (pairs where both faces were acquired) and the two are averaged. Pairs
// touching a failure to acquire keep the lowest fused score.
func fuseScores(pairs []labelledPair, a, b []float64) []float64 {
	stats := func(s []float64) (float64, float64) {
		var n, m, v float64
		for i, p := range pairs {
			if !p.genuine && s[i] > -1 {
				n++
				m += s[i]
			}
		}
		m /= max(n, 1)
		for i, p := range pairs {
			if !p.genuine && s[i] > -1 {
				v += (s[i] - m) * (s[i] - m)
			}
		}
		return m, math.Sqrt(v / max(n, 1))
	}
	ma, sa := stats(a)
	mb, sb := stats(b)
	out := make([]float64, len(pairs))
	for i := range pairs {
		if a[i] <= -1 || b[i] <= -1 || sa == 0 || sb == 0 {
			out[i] = math.Inf(-1)
			continue
		}
		out[i] = ((a[i]-ma)/sa + (b[i]-mb)/sb) / 2
	}
	return out
}

func writeEvalReport(w io.Writer, r evalReport) {
	fmt.Fprintf(w, "set %s: %d identities, %d images, failed to acquire %d (%.2f %%; pairs touching one count as rejections)\n",
		r.Set, r.Identities, r.Images, r.FailedToAcquire, 100*r.FTARate)
	for _, m := range r.Models {
		fmt.Fprintf(w, "\nmodel %s\n", m.Model)
		if m.TenFold != nil {
			fmt.Fprintf(w, "10-fold accuracy %.2f %% ± %.2f %% (%d balanced pairs)\n", 100*m.TenFold.Accuracy, 100*m.TenFold.SD, m.TenFold.Pairs)
		}
		if m.AllPairs != nil {
			fmt.Fprintf(w, "all pairs: %d genuine, %d impostor\n", m.AllPairs.Genuine, m.AllPairs.Impostor)
			writeDET(w, *m.AllPairs)
		}
	}
}

// embedAllWith analyses files with engines[0] and embeds the chosen face
// with every engine's own alignment on the same landmarks: templates[k] is
// engines[k]'s.
func embedAllWith(ctx context.Context, engines []*face.Engine, files []string, pick func([]face.Face, int, int) *face.Face, rep *progress.Reporter, onResult func(cacheEntry)) (map[string][]face.Template, map[string]error, int) {
	return embedAllMulti(ctx, engines[0], files, pick, rep, onResult, func(ctx context.Context, img *image.RGBA, f *face.Face) ([]face.Template, error) {
		ts := []face.Template{f.Embedding}
		for _, eng := range engines[1:] {
			t, err := eng.EmbedAligned(ctx, img, &f.Landmarks, eng.Alignment())
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	})
}

// writeEvalCalibration writes a calibration for model from the all-pairs
// scores of a labelled set.
func writeEvalCalibration(path, model string, fmr float64, pairs []labelledPair, scores []float64, rep evalReport) error {
	var gen, imp []float64
	for i, p := range pairs {
		if p.genuine {
			gen = append(gen, scores[i])
		} else {
			imp = append(imp, scores[i])
		}
	}
	c, err := face.NewCalibration(model, fmr, gen, imp)
	if err != nil {
		return err
	}
	c.Dataset = rep.Set + " (all pairs; failures to acquire scored -1)"
	c.Identities, c.Images, c.FailedToAcquire = rep.Identities, rep.Images, rep.FailedToAcquire
	var buf strings.Builder
	if err := c.Write(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(buf.String()), 0o644)
}

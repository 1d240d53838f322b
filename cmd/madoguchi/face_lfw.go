package main

// face evaluate-lfw: the LFW View-2 protocol, its template cache and the
// all-pairs and PAD reports.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/internal/progress"
)

// lfwSubject returns the face LFW is about: every LFW image is centred on
// its subject (the dataset was cut around a detection of the named person),
// so of several faces the one whose box centre is nearest the image centre
// is the subject; others are bystanders, often larger when they stand
// closer to the camera.
func lfwSubject(faces []face.Face, w, h int) *face.Face {
	best, bestD := 0, math.Inf(1)
	for i, f := range faces {
		dx := float64(f.Box[0]+f.Box[2]/2) - float64(w)/2
		dy := float64(f.Box[1]+f.Box[3]/2) - float64(h)/2
		if d := dx*dx + dy*dy; d < bestD {
			best, bestD = i, d
		}
	}
	return &faces[best]
}

// firstFace returns the largest face, the one eKYC compares (the engine
// lists faces largest first).
func firstFace(faces []face.Face, _, _ int) *face.Face { return &faces[0] }

// embedAllAligned is embedAll that also embeds the face pick chooses with
// the alignments in also (same detection and landmarks): templates[0] is
// the engine's own, templates[1+i] is also[i]. fallbacks counts images whose
// face was found only below the normal detection threshold.
func embedAllAligned(ctx context.Context, eng *face.Engine, files []string, also []face.Alignment, pick func(faces []face.Face, w, h int) *face.Face, rep *progress.Reporter, onResult func(cacheEntry)) (map[string][]face.Template, map[string]error, int) {
	return embedAllMulti(ctx, eng, files, pick, rep, onResult, func(ctx context.Context, img *image.RGBA, f *face.Face) ([]face.Template, error) {
		ts := []face.Template{f.Embedding}
		for _, a := range also {
			t, err := eng.EmbedAligned(ctx, img, &f.Landmarks, a)
			if err != nil {
				return nil, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	})
}

// embedAllMulti analyses files concurrently with eng, picks one face per
// image and lets templates compute that face's templates (the engine's own
// first). fallbacks counts images whose face was found only below the
// normal detection threshold.
func embedAllMulti(ctx context.Context, eng *face.Engine, files []string, pick func(faces []face.Face, w, h int) *face.Face, rep *progress.Reporter, onResult func(cacheEntry), templates func(context.Context, *image.RGBA, *face.Face) ([]face.Template, error)) (map[string][]face.Template, map[string]error, int) {
	type res struct {
		file     string
		ts       []face.Template
		fallback bool
		pad      *[2]float32
		err      error
	}
	one := func(path string) res {
		r := res{file: path}
		fh, err := os.Open(path)
		if err != nil {
			r.err = err
			return r
		}
		img, _, err := imageio.Read(fh, imageio.DefaultLimits())
		fh.Close()
		if err != nil {
			r.err = err
			return r
		}
		faces, err := eng.Analyze(ctx, img)
		if err == nil && len(faces) == 0 {
			err = face.ErrNoFace
		}
		if err != nil {
			r.err = err
			return r
		}
		f := pick(faces, img.Rect.Dx(), img.Rect.Dy())
		r.fallback = f.Fallback
		if f.Liveness.Available {
			r.pad = &[2]float32{f.Liveness.Real, f.Liveness.Live}
		}
		r.ts, r.err = templates(ctx, img, f)
		return r
	}
	jobs := make(chan string)
	out := make(chan res)
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				out <- one(f)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, f := range files {
			select {
			case jobs <- f:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()
	ok := map[string][]face.Template{}
	bad := map[string]error{}
	n, fallbacks := 0, 0
	for r := range out {
		n++
		if r.err != nil {
			bad[r.file] = r.err
		} else {
			ok[r.file] = r.ts
			if r.fallback {
				fallbacks++
			}
		}
		// An interrupted run's images are not results: caching them as
		// failures would count them as failures to acquire when resumed.
		interrupted := errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded)
		if onResult != nil && !interrupted {
			onResult(newCacheEntry(r.file, r.ts, r.fallback, r.pad, r.err))
		}
		if rep != nil {
			rep.Add(1)
		}
	}
	if rep != nil {
		rep.Done()
	}
	return ok, bad, fallbacks
}

func faceEvaluateLFW(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face evaluate-lfw", "face evaluate-lfw --lfw FOLDER --pairs FILE [--also-faceapi] [--quantised] [--detector ...] [--align ...]")
	var ef engineFlags
	ef.register(fs, e)
	lfw := fs.String("lfw", "", "LFW image `folder` (<Name>/<Name>_NNNN.jpg)")
	pairsFile := fs.String("pairs", "", "LFW View 2 pairs.txt")
	alsoFaceAPI := fs.Bool("also-faceapi", false, "also score face-api's box alignment on the same detections")
	alsoFlip := fs.Bool("also-flip", false, "also score the dlib chip averaged with its mirror image on the same detections")
	calOut := fs.String("calibration-out", "", "also write a calibration `file` at --fmr from these pairs (development only: LFW is not your customers)")
	fmr := fs.Float64("fmr", 1e-3, "target FMR for --calibration-out")
	var cacheIn stringList
	fs.Var(&cacheIn, "cache-in", "reuse per-image results from this `file` written by --cache-out (repeatable)")
	allPairs := fs.Bool("all-pairs", false, "also compare every pair of analysed images (same folder = genuine), which resolves lower FMRs than the 3,000 impostor pairs")
	perIdentity := fs.Int("max-per-identity", 10, "with --all-pairs, use at most this many images per person (by sorted name)")
	cacheOnly := fs.Bool("cache-only", false, "analyse nothing: evaluate only the pairs whose images are in --cache-in (a partial run; says how many)")
	quantised := fs.Bool("quantised", false, "also score the templates as an offline face credential carries them, in every encoding (credential.CompactAs), against the other image's float32 template (docs/credential.md)")
	cacheOut := fs.String("cache-out", "", "append per-image results (biometric templates: keep the file private) to this `file`, so that runs can be split and resumed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *lfw == "" || *pairsFile == "" || fs.NArg() != 0 {
		return usageError{"face evaluate-lfw needs --lfw and --pairs"}
	}
	pf, err := os.Open(*pairsFile)
	if err != nil {
		return err
	}
	pairs, err := face.ReadLFWPairs(pf)
	pf.Close()
	if err != nil {
		return err
	}
	if len(pairs) == 0 || len(pairs)%20 != 0 {
		return fmt.Errorf("%s: %d pairs, want a multiple of 20 (10 folds, genuine and impostor)", *pairsFile, len(pairs))
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	if (*alsoFaceAPI || *alsoFlip) && (eng.Alignment() == face.AlignArcFace || eng.Alignment() == face.AlignArcFaceFlip) {
		return usageError{"--also-faceapi and --also-flip score the dlib ResNet's alignments: add --recognizer resnet128"}
	}
	var also []face.Alignment
	if *alsoFaceAPI {
		also = append(also, face.AlignFaceAPI)
	}
	if *alsoFlip {
		also = append(also, face.AlignDlibFlip)
	}
	seen := map[string]bool{}
	var files []string
	for _, p := range pairs {
		for _, f := range []string{p.A, p.B} {
			if !seen[f] {
				seen[f] = true
				files = append(files, filepath.Join(*lfw, f))
			}
		}
	}
	wantModels := []string{eng.Model()}
	for _, a := range also {
		wantModels = append(wantModels, eng.ModelFor(a))
	}
	cached := map[string]cacheEntry{}
	for _, f := range cacheIn {
		if err := readCache(f, cached); err != nil {
			return err
		}
	}
	// Fold of each pair: this copy of pairs.txt lists all genuine pairs
	// (300 per fold, in fold order) then all impostor pairs; the official
	// file alternates 300 genuine and 300 impostor per fold.
	grouped := true
	for i := 0; i < len(pairs)/2; i++ {
		grouped = grouped && pairs[i].Genuine
	}
	pairFold := make([]int, len(pairs))
	for i := range pairs {
		per := len(pairs) / 20
		if grouped {
			pairFold[i] = (i % (len(pairs) / 2)) / per
		} else {
			pairFold[i] = i / (2 * per)
		}
	}
	if *cacheOnly {
		// Keep only the pairs whose images are both in the cache.
		var kp []face.LFWPair
		var kf []int
		for i, p := range pairs {
			_, oka := cached[p.A]
			_, okb := cached[p.B]
			if oka && okb {
				kp, kf = append(kp, p), append(kf, pairFold[i])
			}
		}
		fmt.Fprintf(e.stdout, "cache-only: %d of %d pairs have both images in the cache; the rest are left out\n", len(kp), len(pairs))
		pairs, pairFold = kp, kf
		files = files[:0]
		seen = map[string]bool{}
		for _, p := range pairs {
			for _, f := range []string{p.A, p.B} {
				if !seen[f] {
					seen[f] = true
					files = append(files, filepath.Join(*lfw, f))
				}
			}
		}
	}
	var todo []string
	for _, f := range files {
		rel, _ := filepath.Rel(*lfw, f)
		if _, ok := cached[rel]; !ok {
			todo = append(todo, f)
		}
	}
	pads := map[string][2]float32{} // relative path -> PAD scores
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
		c.File, _ = filepath.Rel(*lfw, c.File)
		if c.PAD != nil {
			pads[c.File] = *c.PAD
		}
		if enc != nil {
			enc.Encode(c)
		}
	}
	rep, err := newProgress(e, "face evaluate-lfw", int64(len(todo)), "images")
	if err != nil {
		return err
	}
	tpl, failed, fallbacks := embedAllAligned(ctx, eng, todo, also, lfwSubject, rep, onResult)
	if err := ctx.Err(); err != nil {
		return err
	}
	for rel, c := range cached {
		f := filepath.Join(*lfw, rel)
		if !seen[rel] {
			continue
		}
		ts, err := c.templates(wantModels)
		switch {
		case c.Error != "":
			failed[f] = errors.New(c.Error)
		case err != nil:
			return fmt.Errorf("cache entry %s: %w", rel, err)
		default:
			tpl[f] = ts
			if c.Fallback {
				fallbacks++
			}
			if c.PAD != nil {
				pads[rel] = *c.PAD
			}
		}
	}
	n := len(pairs)
	missingPairs := 0
	for _, p := range pairs {
		_, oka := tpl[filepath.Join(*lfw, p.A)]
		_, okb := tpl[filepath.Join(*lfw, p.B)]
		if !oka || !okb {
			missingPairs++
		}
	}
	fmt.Fprintf(e.stdout, "images %d, face found only by the fallback threshold %d, failed to acquire %d (%.2f %%), pairs touching a failure %d of %d\n",
		len(files), fallbacks, len(failed), 100*float64(len(failed))/float64(len(files)), missingPairs, n)
	columns := len(also) + 1
	var encodings []credential.Encoding
	if *quantised {
		// One more column per credential encoding: the recogniser's own
		// templates through the credential's compact form and back,
		// compared with the other image's float32 template as the
		// branch compares a credential with a live face.
		encodings = credential.Encodings
		labels := []string{eng.Model()}
		if err := addQuantised(tpl, &labels); err != nil { // after every alignment's template
			return err
		}
	}
	var plain []float64 // k = 0's scores, for the quantised columns' deltas
	for k := range columns + len(encodings) {
		kb := k
		if k >= columns {
			kb = 0
			enc := encodings[k-columns]
			note := ""
			if enc == credential.DefaultEncoding {
				note = " (the default)"
			}
			fmt.Fprintf(e.stdout, "\nas an offline credential carries it, %s%s, against float32:", enc, note)
		}
		scores := make([]float64, n)
		genuine := make([]bool, n)
		var gen, imp []float64
		model := eng.Model()
		for i, p := range pairs {
			genuine[i] = p.Genuine
			s := -1.0 // a failure to acquire counts as a reject
			ta, oka := tpl[filepath.Join(*lfw, p.A)]
			tb, okb := tpl[filepath.Join(*lfw, p.B)]
			if oka && okb {
				model = ta[k].Model()
				if c, err := face.Compare(ta[k], tb[kb]); err == nil {
					s = float64(c)
				}
			}
			scores[i] = s
			if p.Genuine {
				gen = append(gen, s)
			} else {
				imp = append(imp, s)
			}
		}
		if k == 0 {
			plain = scores
		} else if k >= columns {
			var worst, sum float64
			for i := range scores {
				d := math.Abs(scores[i] - plain[i])
				worst, sum = max(worst, d), sum+d
			}
			fmt.Fprintf(e.stdout, "\n|cosine(credential) - cosine(float32)| over %d pairs: mean %.5f, max %.5f", n, sum/float64(n), worst)
		}
		acc, sd := face.TenFoldAccuracy(scores, genuine, func(i int) int { return pairFold[i] })
		fmt.Fprintf(e.stdout, "\nmodel %s\n10-fold accuracy %.2f %% ± %.2f %%\n", model, 100*acc, 100*sd)
		writeDET(e.stdout, face.Evaluate(gen, imp))
		if k == 0 && *calOut != "" {
			c, err := face.NewCalibration(model, *fmr, gen, imp)
			if err != nil {
				return err
			}
			c.Dataset = "LFW View 2 pairs (" + filepath.Base(*pairsFile) + "), failures to acquire scored -1"
			c.Images, c.FailedToAcquire = len(files), len(failed)
			var buf strings.Builder
			if err := c.Write(&buf); err != nil {
				return err
			}
			if err := os.WriteFile(*calOut, []byte(buf.String()), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "calibration (threshold %.4f at FMR %g) written to %s\n", c.Threshold, c.TargetFMR, *calOut)
		}
	}
	if *allPairs {
		writeAllPairs(e.stdout, tpl, *lfw, 1+len(also), *perIdentity)
	}
	writeBonaFidePAD(e.stdout, pads)
	names := slices.Sorted(maps.Keys(failed))
	for _, f := range names {
		fmt.Fprintf(e.stderr, "no face: %s: %v\n", f, failed[f])
	}
	return nil
}

// writeBonaFidePAD reports ISO/IEC 30107-3 BPCER (bona fide presentations
// classified as attacks) of the PAD scores at fixed thresholds. Every LFW
// image is a bona fide presentation (a photograph of a person, not of a
// print or a screen), so LFW measures BPCER only: APCER needs attack
// presentations, which LFW has none of.
func writeBonaFidePAD(w io.Writer, pads map[string][2]float32) {
	if len(pads) == 0 {
		return
	}
	fmt.Fprintf(w, "\npresentation-attack detection on %d bona fide images (LFW has no attacks: APCER is not measurable here)\n", len(pads))
	fmt.Fprintf(w, "%-10s %12s %12s\n", "threshold", "antispoof", "liveness")
	for _, t := range []float32{0.1, 0.3, 0.5, 0.7, 0.9} {
		var real, live int
		for _, p := range pads {
			if p[0] < t {
				real++
			}
			if p[1] < t {
				live++
			}
		}
		n := float64(len(pads))
		fmt.Fprintf(w, "%-10.1f %11.2f%% %11.2f%%  (BPCER: score below the threshold)\n", t, 100*float64(real)/n, 100*float64(live)/n)
	}
}

// cacheEntry is one image's result in an evaluate-lfw cache file.
type cacheEntry struct {
	File     string `json:"file"`
	Fallback bool   `json:"fallback,omitempty"`
	// PAD is the subject's presentation-attack scores (antispoof "real",
	// liveness "live"), if the engine has PAD models.
	PAD       *[2]float32 `json:"pad,omitempty"`
	Error     string      `json:"error,omitempty"`
	Templates []struct {
		Model  string    `json:"model"`
		Values []float32 `json:"values"`
	} `json:"templates,omitempty"`
}

func newCacheEntry(file string, ts []face.Template, fallback bool, pad *[2]float32, err error) cacheEntry {
	c := cacheEntry{File: file, Fallback: fallback, PAD: pad}
	if err != nil {
		c.Error = err.Error()
	}
	for _, t := range ts {
		c.Templates = append(c.Templates, struct {
			Model  string    `json:"model"`
			Values []float32 `json:"values"`
		}{t.Model(), t.Values()})
	}
	return c
}

// templates returns the entry's templates for the models wanted, in that
// order; a cache made with other models or alignments is an error, never
// a silent substitute.
func (c cacheEntry) templates(want []string) ([]face.Template, error) {
	var ts []face.Template
	for _, m := range want {
		found := false
		for _, t := range c.Templates {
			if t.Model != m {
				continue
			}
			tpl, err := face.NewTemplate(t.Model, t.Values)
			if err != nil {
				return nil, err
			}
			ts, found = append(ts, tpl), true
			break
		}
		if !found {
			return nil, fmt.Errorf("no template for %s in the cache", m)
		}
	}
	return ts, nil
}

// readCache adds the entries of a cache file to m (later entries win).
func readCache(path string, m map[string]cacheEntry) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	sc := bufio.NewScanner(io.LimitReader(fh, 1<<30))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var c cacheEntry
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil || c.File == "" {
			continue // a line cut by an interrupted run
		}
		m[c.File] = c
	}
	return sc.Err()
}

// writeAllPairs scores every pair of analysed images, genuine when both
// lie in the same person's folder, per alignment k, and prints the DET
// table. Persons contribute at most perIdentity images (sorted by name),
// like the reference's protocol B.
func writeAllPairs(w io.Writer, tpl map[string][]face.Template, lfw string, alignments, perIdentity int) {
	byPerson := map[string][]string{}
	for f := range tpl {
		rel, _ := filepath.Rel(lfw, f)
		p := filepath.Dir(rel)
		byPerson[p] = append(byPerson[p], f)
	}
	type item struct {
		person int
		ts     []face.Template
	}
	persons := slices.Sorted(maps.Keys(byPerson))
	var items []item
	for i, p := range persons {
		fs := byPerson[p]
		sort.Strings(fs)
		if len(fs) > perIdentity {
			fs = fs[:perIdentity]
		}
		for _, f := range fs {
			items = append(items, item{i, tpl[f]})
		}
	}
	for k := 0; k < alignments; k++ {
		var gen, imp []float64
		for i := range items {
			for j := i + 1; j < len(items); j++ {
				s, err := face.Compare(items[i].ts[k], items[j].ts[k])
				if err != nil {
					continue
				}
				if items[i].person == items[j].person {
					gen = append(gen, float64(s))
				} else {
					imp = append(imp, float64(s))
				}
			}
		}
		fmt.Fprintf(w, "\nall pairs of %d images (%d persons, at most %d each): %d genuine, %d impostor pairs\nmodel %s\n",
			len(items), len(persons), perIdentity, len(gen), len(imp), items[0].ts[k].Model())
		writeDET(w, face.Evaluate(gen, imp))
	}
}

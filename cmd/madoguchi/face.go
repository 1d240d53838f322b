package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
)

// runFace implements "madoguchi face analyze|compare|calibrate|evaluate-lfw".
func runFace(ctx context.Context, e *env, args []string) error {
	const synopsis = "face analyze|compare|calibrate|evaluate-lfw [flags] ..."
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "analyze":
		return faceAnalyze(ctx, e, rest, loadEngine)
	case "compare":
		return faceCompare(ctx, e, rest, loadEngine)
	case "calibrate":
		return faceCalibrate(ctx, e, rest, loadEngine)
	case "evaluate-lfw":
		return faceEvaluateLFW(ctx, e, rest, loadEngine)
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return flag.ErrHelp
	}
	return usageError{fmt.Sprintf("unknown face subcommand %q", sub)}
}

// engineFlags are the flags every face subcommand shares.
type engineFlags struct {
	data, dir, detector, align, calibration string
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./madoguchi-data", "data `folder`")
	fs.StringVar(&f.dir, "models", "", "model `folder` (default <data>/models)")
	fs.StringVar(&f.detector, "detector", "ssd", "face detector: ssd, tiny or blazeface")
	fs.StringVar(&f.align, "align", "dlib", "alignment for the recogniser: dlib (similarity-warped chip) or faceapi (face-api's box, for parity)")
	fs.StringVar(&f.calibration, "calibration", "", "calibration `file` from 'face calibrate' (without one, decisions are 'refer')")
}

// engineLoader builds the engine; tests pass one over test stages.
type engineLoader func(f *engineFlags) (*face.Engine, error)

func loadEngine(f *engineFlags) (*face.Engine, error) {
	cfg := face.Config{}
	switch f.align {
	case "dlib":
		cfg.Align = face.AlignDlib
	case "faceapi":
		cfg.Align = face.AlignFaceAPI
	default:
		return nil, usageError{fmt.Sprintf("--align %q: want dlib or faceapi", f.align)}
	}
	if f.calibration != "" {
		fh, err := os.Open(f.calibration)
		if err != nil {
			return nil, err
		}
		c, err := face.ReadCalibration(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.calibration, err)
		}
		cfg.Calibration = c
	}
	return face.Load(resolveModelsDir(f.dir, f.data), face.LoadOptions{Detector: f.detector, Config: cfg})
}

// analyzeFile decodes and analyses one image file.
func analyzeFile(ctx context.Context, eng *face.Engine, path string) ([]face.Face, face.Timing, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, face.Timing{}, err
	}
	defer fh.Close()
	lim := imageio.DefaultLimits()
	b, err := io.ReadAll(io.LimitReader(fh, lim.MaxBytes+1))
	if err != nil {
		return nil, face.Timing{}, err
	}
	return eng.AnalyzeBytes(ctx, b)
}

type faceJSON struct {
	Box       [4]float32     `json:"box"`
	Score     float32        `json:"score"`
	Fallback  bool           `json:"fallback,omitempty"`
	Landmarks [68][2]float32 `json:"landmarks"`
	Quality   face.Quality   `json:"quality"`
	Liveness  face.Liveness  `json:"liveness"`
	Embedding []float32      `json:"embedding"`
	Model     string         `json:"model"`
}

type analyzeLine struct {
	File  string             `json:"file"`
	Faces []faceJSON         `json:"faces"`
	MS    map[string]float64 `json:"ms,omitempty"`
	Error string             `json:"error,omitempty"`
}

func faceAnalyze(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face analyze", "face analyze [--json] [--detector ssd|tiny|blazeface] [--align dlib|faceapi] IMAGE...")
	var ef engineFlags
	ef.register(fs)
	asJSON := fs.Bool("json", false, "one JSON line per image (with landmarks and embeddings)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"face analyze needs at least one IMAGE"}
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	failed := 0
	enc := json.NewEncoder(e.stdout)
	for _, path := range fs.Args() {
		faces, tm, err := analyzeFile(ctx, eng, path)
		line := analyzeLine{File: path, Faces: []faceJSON{}}
		if err != nil {
			failed++
			line.Error = err.Error()
		} else {
			line.MS = tm.Map()
			for _, f := range faces {
				fj := faceJSON{Box: f.Box, Score: f.Score, Fallback: f.Fallback, Quality: f.Quality,
					Liveness: f.Liveness, Embedding: f.Embedding.Values(), Model: f.Model}
				for i, p := range f.Landmarks {
					fj.Landmarks[i] = p
				}
				line.Faces = append(line.Faces, fj)
			}
		}
		if *asJSON {
			if err := enc.Encode(line); err != nil {
				return err
			}
			continue
		}
		if line.Error != "" {
			fmt.Fprintf(e.stdout, "%s: error: %s\n", path, line.Error)
			continue
		}
		fmt.Fprintf(e.stdout, "%s: %d face(s)\n", path, len(faces))
		for i, f := range faces {
			q := f.Quality
			fmt.Fprintf(e.stdout, "  #%d box [%.0f %.0f %.0f %.0f] score %.3f inter-eye %.0f px yaw %.0f pitch %.0f roll %.0f sharpness %.0f brightness %.2f\n",
				i, f.Box[0], f.Box[1], f.Box[2], f.Box[3], f.Score, q.InterEye, q.Yaw, q.Pitch, q.Roll, q.Sharpness, q.Brightness)
		}
	}
	if failed > 0 {
		return exitError{1}
	}
	return nil
}

// largestFace returns the template of the largest face in a file.
func largestFace(ctx context.Context, eng *face.Engine, path string) (face.Template, error) {
	faces, _, err := analyzeFile(ctx, eng, path)
	if err != nil {
		return face.Template{}, err
	}
	if len(faces) == 0 {
		return face.Template{}, face.ErrNoFace
	}
	return faces[0].Embedding, nil // Analyze orders faces largest first
}

func faceCompare(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face compare", "face compare [--calibration FILE] [--detector ...] [--align ...] IMAGE_A IMAGE_B")
	var ef engineFlags
	ef.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usageError{"face compare needs exactly two images"}
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	var ts [2]face.Template
	for i, p := range fs.Args() {
		if ts[i], err = largestFace(ctx, eng, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	s, err := face.Compare(ts[0], ts[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "similarity %.4f\n", float64(s))
	d, err := eng.Decide(s)
	if errors.Is(err, face.ErrUncalibrated) {
		fmt.Fprintf(e.stdout, "decision %s (no calibration for %s; run 'madoguchi face calibrate')\n", d, eng.Model())
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "decision %s\n", d)
	return nil
}

// embedAll analyses files concurrently and returns the largest face's
// template per file; files without a face (or failing) are absent.
func embedAll(ctx context.Context, eng *face.Engine, files []string, progress io.Writer) (map[string]face.Template, map[string]error) {
	multi, bad, _ := embedAllAligned(ctx, eng, files, nil, progress)
	ok := make(map[string]face.Template, len(multi))
	for f, ts := range multi {
		ok[f] = ts[0]
	}
	return ok, bad
}

// embedAllAligned is embedAll that also embeds each largest face with the
// alignments in also (same detection and landmarks): templates[0] is the
// engine's own, templates[1+i] is also[i]. fallbacks counts images whose
// face was found only below the normal detection threshold.
func embedAllAligned(ctx context.Context, eng *face.Engine, files []string, also []face.Alignment, progress io.Writer) (map[string][]face.Template, map[string]error, int) {
	type res struct {
		file     string
		ts       []face.Template
		fallback bool
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
		r.fallback = faces[0].Fallback
		r.ts = append(r.ts, faces[0].Embedding)
		for _, a := range also {
			t, err := eng.EmbedAligned(ctx, img, &faces[0].Landmarks, a)
			if err != nil {
				r.err = err
				return r
			}
			r.ts = append(r.ts, t)
		}
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
		if progress != nil && n%500 == 0 {
			fmt.Fprintf(progress, "analysed %d/%d images\n", n, len(files))
		}
	}
	return ok, bad, fallbacks
}

// readLabelled lists <dir>/<person>/<image> files, at most perPerson per
// person (by sorted name), persons with at least one image.
func readLabelled(dir string, perPerson, maxImages int) (map[string][]string, int, error) {
	people, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	out := map[string][]string{}
	total := 0
	for _, p := range people {
		if !p.IsDir() || strings.HasPrefix(p.Name(), ".") {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, p.Name()))
		if err != nil {
			return nil, 0, err
		}
		var imgs []string
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
				imgs = append(imgs, filepath.Join(dir, p.Name(), e.Name()))
			}
		}
		sort.Strings(imgs)
		if len(imgs) > perPerson {
			imgs = imgs[:perPerson]
		}
		if len(imgs) > 0 {
			out[p.Name()] = imgs
			total += len(imgs)
		}
		if total > maxImages {
			return nil, 0, fmt.Errorf("%s holds more than %d images; raise --max-images or use a subset", dir, maxImages)
		}
	}
	return out, total, nil
}

func faceCalibrate(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face calibrate", "face calibrate --dir FOLDER --out FILE [--fmr 1e-3] [--detector ...] [--align ...]")
	var ef engineFlags
	ef.register(fs)
	dir := fs.String("dir", "", "labelled `folder`: <person>/<image>, the operator's own consented faces")
	out := fs.String("out", "", "calibration `file` to write")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate")
	perPerson := fs.Int("max-per-person", 10, "use at most this many images per person")
	maxImages := fs.Int("max-images", 8000, "refuse folders with more images (impostor pairs grow quadratically)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *out == "" || fs.NArg() != 0 {
		return usageError{"face calibrate needs --dir and --out"}
	}
	if !(*fmr > 0 && *fmr < 1) {
		return usageError{"--fmr must be in (0, 1)"}
	}
	people, total, err := readLabelled(*dir, *perPerson, *maxImages)
	if err != nil {
		return err
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	var files []string
	for _, imgs := range people {
		files = append(files, imgs...)
	}
	tpl, failed := embedAll(ctx, eng, files, e.stderr)
	if err := ctx.Err(); err != nil {
		return err
	}
	gen, imp := pairScores(people, tpl)
	c, err := face.NewCalibration(eng.Model(), *fmr, gen, imp)
	if err != nil {
		return err
	}
	c.Dataset = filepath.Base(*dir)
	c.Identities, c.Images, c.FailedToAcquire = len(people), total, len(failed)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := c.Write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "model %s\nimages %d (%d identities), failed to acquire %d\ngenuine pairs %d, impostor pairs %d\n",
		c.Model, total, len(people), len(failed), len(gen), len(imp))
	writeDET(e.stdout, c.Evaluation)
	fmt.Fprintf(e.stdout, "threshold %.4f at FMR %g (FNMR %.4f) written to %s\n", c.Threshold, c.TargetFMR, c.FNMR, *out)
	return nil
}

// pairScores compares every pair of embedded images: same person =
// genuine, different persons = impostor. Failed images take part in no pair
// (their count is reported as failure to acquire).
func pairScores(people map[string][]string, tpl map[string]face.Template) (gen, imp []float64) {
	type item struct {
		person int
		t      face.Template
	}
	names := make([]string, 0, len(people))
	for n := range people {
		names = append(names, n)
	}
	sort.Strings(names)
	var items []item
	for i, n := range names {
		for _, f := range people[n] {
			if t, ok := tpl[f]; ok {
				items = append(items, item{i, t})
			}
		}
	}
	for i := range items {
		for j := i + 1; j < len(items); j++ {
			s, err := face.Compare(items[i].t, items[j].t)
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
	return gen, imp
}

func writeDET(w io.Writer, ev face.Evaluation) {
	fmt.Fprintf(w, "EER %.2f %% (threshold %.4f)\n", 100*ev.EER, ev.EERAt)
	fmt.Fprintln(w, "| FMR target | threshold (accept if >) | measured FMR | FNMR | resolved |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, p := range ev.DET {
		fmt.Fprintf(w, "| %g | %.4f | %.2e | %.2f %% | %v |\n", targetOf(p, ev), p.Threshold, p.FMR, 100*p.FNMR, p.Resolved)
	}
}

func targetOf(p face.DETPoint, ev face.Evaluation) float64 {
	for i, q := range ev.DET {
		if q == p {
			return math.Pow(10, -float64(i+1))
		}
	}
	return math.NaN()
}

// lfwPair is one line of LFW's pairs.txt.
type lfwPair struct {
	a, b    string // relative image paths
	genuine bool
}

// readLFWPairs parses pairs.txt (View 2 with a "3000" header, or the
// official "10 300" header): genuine "name i j", impostor "name1 i name2 j".
func readLFWPairs(r io.Reader) ([]lfwPair, error) {
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	img := func(name, num string) (string, error) {
		n, err := strconv.Atoi(num)
		if err != nil || n <= 0 || n > 9999 || strings.ContainsAny(name, `/\.`) {
			return "", fmt.Errorf("bad pair entry %q %q", name, num)
		}
		return filepath.Join(name, fmt.Sprintf("%s_%04d.jpg", name, n)), nil
	}
	var pairs []lfwPair
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) <= 2 {
				continue // header
			}
		}
		var p lfwPair
		var err1, err2 error
		switch len(f) {
		case 0:
			continue
		case 3:
			p.a, err1 = img(f[0], f[1])
			p.b, err2 = img(f[0], f[2])
			p.genuine = true
		case 4:
			p.a, err1 = img(f[0], f[1])
			p.b, err2 = img(f[2], f[3])
		default:
			return nil, fmt.Errorf("pairs line %d: %d fields", len(pairs)+2, len(f))
		}
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
		if len(pairs) > 100000 {
			return nil, errors.New("pairs file has more than 100000 pairs")
		}
	}
	return pairs, sc.Err()
}

// tenFold returns the mean and standard deviation of LFW 10-fold accuracy:
// for each fold the threshold maximising accuracy on the other nine is
// applied to it. fold(i) gives pair i's fold.
func tenFold(scores []float64, genuine []bool, fold func(int) int) (float64, float64) {
	var accs []float64
	for k := 0; k < 10; k++ {
		var train []int
		for i := range scores {
			if fold(i) != k {
				train = append(train, i)
			}
		}
		cands := make([]float64, 0, len(train))
		for _, i := range train {
			cands = append(cands, scores[i])
		}
		slices.Sort(cands)
		bestT, bestAcc := 0.0, -1.0
		for _, t := range cands {
			acc := accuracy(scores, genuine, train, t)
			if acc > bestAcc {
				bestAcc, bestT = acc, t
			}
		}
		var test []int
		for i := range scores {
			if fold(i) == k {
				test = append(test, i)
			}
		}
		accs = append(accs, accuracy(scores, genuine, test, bestT))
	}
	var m, v float64
	for _, a := range accs {
		m += a / 10
	}
	for _, a := range accs {
		v += (a - m) * (a - m) / 10
	}
	return m, math.Sqrt(v)
}

// accuracy: a pair is called genuine if its score is > t.
func accuracy(scores []float64, genuine []bool, idx []int, t float64) float64 {
	ok := 0
	for _, i := range idx {
		if (scores[i] > t) == genuine[i] {
			ok++
		}
	}
	return float64(ok) / float64(max(len(idx), 1))
}

func faceEvaluateLFW(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face evaluate-lfw", "face evaluate-lfw --lfw FOLDER --pairs FILE [--also-faceapi] [--detector ...] [--align ...]")
	var ef engineFlags
	ef.register(fs)
	lfw := fs.String("lfw", "", "LFW image `folder` (<Name>/<Name>_NNNN.jpg)")
	pairsFile := fs.String("pairs", "", "LFW View 2 pairs.txt")
	alsoFaceAPI := fs.Bool("also-faceapi", false, "also score face-api's box alignment on the same detections")
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
	pairs, err := readLFWPairs(pf)
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
	var also []face.Alignment
	if *alsoFaceAPI {
		also = append(also, face.AlignFaceAPI)
	}
	seen := map[string]bool{}
	var files []string
	for _, p := range pairs {
		for _, f := range []string{p.a, p.b} {
			if !seen[f] {
				seen[f] = true
				files = append(files, filepath.Join(*lfw, f))
			}
		}
	}
	tpl, failed, fallbacks := embedAllAligned(ctx, eng, files, also, e.stderr)
	if err := ctx.Err(); err != nil {
		return err
	}
	n := len(pairs)
	grouped := true // this copy lists all genuine pairs first
	for i := 0; i < n/2; i++ {
		grouped = grouped && pairs[i].genuine
	}
	per := n / 20
	fold := func(i int) int {
		if grouped {
			return (i % (n / 2)) / per
		}
		return i / (2 * per)
	}
	missingPairs := 0
	for _, p := range pairs {
		_, oka := tpl[filepath.Join(*lfw, p.a)]
		_, okb := tpl[filepath.Join(*lfw, p.b)]
		if !oka || !okb {
			missingPairs++
		}
	}
	fmt.Fprintf(e.stdout, "images %d, face found only by the fallback threshold %d, failed to acquire %d (%.2f %%), pairs touching a failure %d of %d\n",
		len(files), fallbacks, len(failed), 100*float64(len(failed))/float64(len(files)), missingPairs, n)
	for k := 0; k <= len(also); k++ {
		scores := make([]float64, n)
		genuine := make([]bool, n)
		var gen, imp []float64
		model := eng.Model()
		for i, p := range pairs {
			genuine[i] = p.genuine
			s := -1.0 // a failure to acquire counts as a reject
			ta, oka := tpl[filepath.Join(*lfw, p.a)]
			tb, okb := tpl[filepath.Join(*lfw, p.b)]
			if oka && okb {
				model = ta[k].Model()
				if c, err := face.Compare(ta[k], tb[k]); err == nil {
					s = float64(c)
				}
			}
			scores[i] = s
			if p.genuine {
				gen = append(gen, s)
			} else {
				imp = append(imp, s)
			}
		}
		acc, sd := tenFold(scores, genuine, fold)
		fmt.Fprintf(e.stdout, "\nmodel %s\n10-fold accuracy %.2f %% ± %.2f %%\n", model, 100*acc, 100*sd)
		writeDET(e.stdout, face.Evaluate(gen, imp))
	}
	names := make([]string, 0, len(failed))
	for f := range failed {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		fmt.Fprintf(e.stderr, "no face: %s: %v\n", f, failed[f])
	}
	return nil
}

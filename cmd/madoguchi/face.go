package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/internal/progress"
)

// runFace implements "madoguchi face analyze|compare|calibrate|evaluate-lfw".
func runFace(ctx context.Context, e *env, args []string) error {
	const synopsis = "face analyze|compare|calibrate|evaluate|evaluate-lfw|evaluate-pad|bench [flags] ..."
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
	case "evaluate":
		return faceEvaluate(ctx, e, rest, loadEngine)
	case "evaluate-lfw":
		return faceEvaluateLFW(ctx, e, rest, loadEngine)
	case "evaluate-pad":
		return faceEvaluatePAD(ctx, e, rest, loadEngine)
	case "bench":
		return faceBench(ctx, e, rest, loadEngine)
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return flag.ErrHelp
	}
	return usageError{fmt.Sprintf("unknown face subcommand %q", sub)}
}

// engineFlags are the flags every face subcommand shares.
type engineFlags struct {
	data, dir, detector, recognizer, align, calibration string
	zoomOut                                             bool
}

func (f *engineFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.data, "data", "./madoguchi-data", "data `folder`")
	// The same variable as serve's --models, so that one installed folder
	// serves the server, the branch verifier and the face tools alike.
	envString(fs, e, &f.dir, "models", "MADOGUCHI_MODELS", "", "model `folder` (default <data>/models)")
	fs.StringVar(&f.detector, "detector", "blazeface", "face detector: blazeface (the default), ssd or tiny")
	fs.StringVar(&f.recognizer, "recognizer", face.DefaultRecognizer, "face recogniser: mfn512 (faceplugin MobileFaceNet, ArcFace five-point chip, 512-D) or resnet128 (face-api's dlib ResNet, 128-D); see docs/face-accuracy.md")
	fs.StringVar(&f.align, "align", "auto", "alignment for the recogniser: auto (the recogniser's own: arcface-flip for mfn512, dlib-flip for resnet128), arcface-flip or arcface (five-point 112x112 chip, with or without its mirror image), dlib-flip or dlib (dlib's similarity-warped chip), faceapi (face-api's box, for parity)")
	fs.StringVar(&f.calibration, "calibration", "", "calibration `file` from 'face calibrate' (without one, decisions are 'refer')")
	fs.BoolVar(&f.zoomOut, "zoom-out", true, "also detect on the image zoomed out 2x and 3x and keep each face's best-scoring box (the default, see docs/face-accuracy.md); --zoom-out=false --align faceapi is face-api's own pipeline end to end")
}

// engineLoader builds the engine; tests pass one over test stages.
type engineLoader func(f *engineFlags) (*face.Engine, error)

func loadEngine(f *engineFlags) (*face.Engine, error) {
	cfg := face.Config{NoZoomOut: !f.zoomOut}
	switch f.align {
	case "auto", "":
		cfg.Align = face.AlignAuto
	case "arcface":
		cfg.Align = face.AlignArcFace
	case "arcface-flip":
		cfg.Align = face.AlignArcFaceFlip
	case "dlib":
		cfg.Align = face.AlignDlib
	case "faceapi":
		cfg.Align = face.AlignFaceAPI
	case "dlib-flip":
		cfg.Align = face.AlignDlibFlip
	default:
		return nil, usageError{fmt.Sprintf("--align %q: want auto, arcface, arcface-flip, dlib, dlib-flip or faceapi", f.align)}
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
	return face.Load(resolveModelsDir(f.dir, f.data), face.LoadOptions{Detector: f.detector, Recognizer: f.recognizer, Config: cfg})
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
	ef.register(fs, e)
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
	ef.register(fs, e)
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
func embedAll(ctx context.Context, eng *face.Engine, files []string, rep *progress.Reporter) (map[string]face.Template, map[string]error) {
	multi, bad, _ := embedAllAligned(ctx, eng, files, nil, firstFace, rep, nil)
	ok := make(map[string]face.Template, len(multi))
	for f, ts := range multi {
		ok[f] = ts[0]
	}
	return ok, bad
}

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
	ef.register(fs, e)
	dir := fs.String("dir", "", "labelled `folder`: <person>/<image>, the operator's own consented faces")
	out := fs.String("out", "", "calibration `file` to write")
	fmr := fs.Float64("fmr", 1e-3, "target false-match rate")
	perPerson := fs.Int("max-per-person", 10, "use at most this many images per person")
	maxImages := fs.Int("max-images", 8000, "refuse folders with more images (impostor pairs grow quadratically)")
	plots := fs.String("plots", "", "also write the DET curve and score distributions as det.svg and scores.svg into this `folder`")
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
	rep, err := newProgress(e, "face calibrate", int64(len(files)), "images")
	if err != nil {
		return err
	}
	tpl, failed := embedAll(ctx, eng, files, rep)
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
	if *plots != "" {
		written, err := writeFacePlots(*plots, c.Dataset, []scoreSet{{model: c.Model, gen: gen, imp: imp}})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "plots written to %s\n", strings.Join(written, ", "))
	}
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
	names := slices.Sorted(maps.Keys(people))
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

// faceBench times the engine per stage on a folder of images and, with
// --reference, runs face-api's own pipeline (tools/face-reference/harness.js
// under Node) on the same images in the same run, and prints both.
func faceBench(ctx context.Context, e *env, args []string, load engineLoader) error {
	fs := newFlagSet(e, "face bench", "face bench --images FOLDER [--limit N] [--runs N] [--reference tools/face-reference]")
	var ef engineFlags
	ef.register(fs, e)
	dir := fs.String("images", "", "image `folder` (walked recursively, sorted)")
	limit := fs.Int("limit", 50, "use the first N images")
	runs := fs.Int("runs", 3, "timed runs per image (the median is kept), after one warm-up pass")
	ref := fs.String("reference", "", "reference harness `folder` (runs 'node harness.js --engine faceapi' there)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || *runs < 1 || *limit < 1 || fs.NArg() != 0 {
		return usageError{"face bench needs --images, --runs >= 1, --limit >= 1"}
	}
	var files []string
	err := filepath.WalkDir(*dir, func(p string, d os.DirEntry, err error) error {
		ext := strings.ToLower(filepath.Ext(p))
		if err == nil && d.Type().IsRegular() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	if len(files) > *limit {
		files = files[:*limit]
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no images", *dir)
	}
	if *ref != "" {
		list := filepath.Join(os.TempDir(), fmt.Sprintf("madoguchi-bench-%d.txt", os.Getpid()))
		out := list + ".jsonl"
		defer os.Remove(list)
		defer os.Remove(out)
		defer os.Remove(out + ".summary.json")
		var rel []string
		for _, f := range files {
			r, _ := filepath.Rel(*dir, f)
			rel = append(rel, r)
		}
		if err := os.WriteFile(list, []byte(strings.Join(rel, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		abs, _ := filepath.Abs(*dir)
		cmd := exec.CommandContext(ctx, "node", "harness.js", "--input", abs, "--list", list, "--out", out,
			"--engine", "faceapi", "--runs", strconv.Itoa(*runs), "--warmup", "3")
		cmd.Dir = *ref
		cmd.Stderr = e.stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("reference harness: %w", err)
		}
		if err := printReference(e.stdout, out); err != nil {
			return err
		}
	}
	eng, err := load(&ef)
	if err != nil {
		return err
	}
	imgs := make([]*image.RGBA, len(files))
	for i, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		imgs[i], _, err = imageio.Read(fh, imageio.DefaultLimits())
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	for _, img := range imgs { // warm-up
		if _, err := eng.Analyze(ctx, img); err != nil {
			return err
		}
	}
	// total covers the stages face-api also runs; pad is reported beside it.
	stages := []string{"detect", "landmarks", "align", "embed", "quality", "total", "pad"}
	per := map[string][]float64{}
	for _, img := range imgs {
		var rs []face.Timing
		for r := 0; r < *runs; r++ {
			_, tm, err := eng.AnalyzeTimed(ctx, img)
			if err != nil {
				return err
			}
			rs = append(rs, tm)
		}
		for _, st := range stages {
			var v []float64
			for _, tm := range rs {
				m := tm.Map()
				if st == "total" {
					v = append(v, m["detect"]+m["landmarks"]+m["align"]+m["embed"]+m["quality"])
				} else {
					v = append(v, m[st])
				}
			}
			per[st] = append(per[st], median(v))
		}
	}
	fmt.Fprintf(e.stdout, "madoguchi %s, %d images, GOMAXPROCS %d, median over images of the per-image median of %d runs:\n",
		eng.Model(), len(imgs), runtime.GOMAXPROCS(0), *runs)
	for _, st := range stages {
		fmt.Fprintf(e.stdout, "  %-10s %8.1f ms\n", st, median(per[st]))
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// printReference summarises the harness's per-image face-api timings.
func printReference(w io.Writer, jsonl string) error {
	fh, err := os.Open(jsonl)
	if err != nil {
		return err
	}
	defer fh.Close()
	var det, lm, emb, tot []float64
	sc := bufio.NewScanner(io.LimitReader(fh, 256<<20))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var rec struct {
			FaceAPI *struct {
				Timing struct {
					Detect    float64 `json:"detect_ms"`
					Landmarks float64 `json:"landmarks_ms"`
					Embed     float64 `json:"embed_ms"`
				} `json:"timing"`
			} `json:"faceapi"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.FaceAPI == nil {
			continue
		}
		t := rec.FaceAPI.Timing
		det, lm, emb = append(det, t.Detect), append(lm, t.Landmarks), append(emb, t.Embed)
		tot = append(tot, t.Detect+t.Landmarks+t.Embed)
	}
	if len(det) == 0 {
		return fmt.Errorf("reference harness wrote no face-api timings to %s", jsonl)
	}
	fmt.Fprintf(w, "reference face-api (tfjs-wasm, Node), %d images, median over images:\n", len(det))
	fmt.Fprintf(w, "  %-10s %8.1f ms\n  %-10s %8.1f ms\n  %-10s %8.1f ms\n  %-10s %8.1f ms\n",
		"detect", median(det), "landmarks", median(lm), "embed", median(emb), "total", median(tot))
	return sc.Err()
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

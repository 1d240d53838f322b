package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

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

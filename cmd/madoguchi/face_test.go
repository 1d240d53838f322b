package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face"
)

// Test stages: a whole-image detector, landmarks that make the box the
// chip, and an embedder of the chip's mean colour per quadrant. They are
// real functions of the pixels, so identities (colours) separate.

type wholeImage struct{}

func (wholeImage) Detect(_ context.Context, img *image.RGBA, _ float32) ([]face.Detection, error) {
	b := img.Rect
	return []face.Detection{{Box: face.Box{0, 0, float32(b.Dx()), float32(b.Dy())}, Score: 0.9}}, nil
}

type gridLandmarks struct{}

func (gridLandmarks) Landmarks(_ context.Context, _ *image.RGBA, b face.Box) ([68]face.Point, error) {
	var lm [68]face.Point
	for i := range lm { // eyes, nose and mouth at fixed fractions of the box
		fx, fy := 0.2+0.6*float32(i%9)/8, 0.2+0.6*float32(i/9)/7
		lm[i] = face.Point{b[0] + fx*b[2], b[1] + fy*b[3]}
	}
	return lm, nil
}

// redPAD scores a face "real" by the red share of its box and "live" by
// its green share: a real function of the pixels, so that bona fide error
// rates can be computed on synthetic folders.
type redPAD struct{}

func (redPAD) Liveness(_ context.Context, img *image.RGBA, b face.Box) (face.Liveness, error) {
	var r, g, sum float64
	for y := int(b[1]); y < int(b[1]+b[3]) && y < img.Rect.Dy(); y++ {
		for x := int(b[0]); x < int(b[0]+b[2]) && x < img.Rect.Dx(); x++ {
			p := img.Pix[y*img.Stride+4*x:]
			r, g, sum = r+float64(p[0]), g+float64(p[1]), sum+float64(p[0])+float64(p[1])+float64(p[2])+1
		}
	}
	return face.Liveness{Available: true, Real: float32(r / sum), Live: float32(g / sum)}, nil
}

type quadrantColour struct{}

func (quadrantColour) Embed(_ context.Context, chip *image.RGBA) ([]float32, error) {
	v := make([]float32, 16) // 12 features, padded to a credential template's multiple of 8

	w, h := chip.Rect.Dx(), chip.Rect.Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			q := 2*(2*y/h) + 2*x/w
			for c := 0; c < 3; c++ {
				v[3*q+c] += float32(chip.Pix[y*chip.Stride+4*x+c]) + 1
			}
		}
	}
	return v, nil
}

func testLoader(t *testing.T) engineLoader {
	return func(f *engineFlags) (*face.Engine, error) {
		cfg := face.Config{}
		if f.calibration != "" {
			fh, err := os.Open(f.calibration)
			if err != nil {
				return nil, err
			}
			defer fh.Close()
			if cfg.Calibration, err = face.ReadCalibration(fh); err != nil {
				return nil, err
			}
		}
		return face.New(face.Stages{Detector: wholeImage{}, Landmarker: gridLandmarks{}, Embedder: quadrantColour{}, PAD: redPAD{}, Name: "test"}, cfg)
	}
}

// writePerson writes n noisy images of one "person" (a colour layout).
func writePerson(t *testing.T, dir, name string, base color.RGBA, n int) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, name), 0o755)
	for k := 0; k < n; k++ {
		img := image.NewRGBA(image.Rect(0, 0, 64, 64))
		for y := 0; y < 64; y++ {
			for x := 0; x < 64; x++ {
				d := uint8((x*7 + y*13 + k*29) % 23)
				c := base
				if x > 32 {
					c = color.RGBA{base.B, base.R, base.G, 255}
				}
				img.SetRGBA(x, y, color.RGBA{c.R + d, c.G + d, c.B + d, 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, name, fmt.Sprintf("%s_%04d.png", name, k+1)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
}

func TestFaceCalibrateCompare(t *testing.T) {
	dir := t.TempDir()
	people := t.TempDir()
	for i := 0; i < 12; i++ {
		writePerson(t, people, fmt.Sprintf("p%02d", i), color.RGBA{uint8(20 * i), uint8(200 - 15*i), uint8(90 + 11*i), 255}, 4)
	}
	os.WriteFile(filepath.Join(people, "p00", "broken.jpg"), []byte("not an image"), 0o644)
	out := filepath.Join(dir, "cal.json")
	e, stdout, _ := testEnv()
	load := testLoader(t)
	err := faceCalibrate(context.Background(), e, []string{"--dir", people, "--out", out, "--fmr", "0.01"}, load)
	if err != nil {
		t.Fatalf("face calibrate = %v\n%s", err, stdout)
	}
	for _, want := range []string{"failed to acquire 1", "genuine pairs 72", "impostor pairs 1056", "threshold "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("face calibrate output lacks %q:\n%s", want, stdout)
		}
	}
	fh, _ := os.Open(out)
	c, err := face.ReadCalibration(fh)
	fh.Close()
	if err != nil || c.Model != "test+dlib-chip-flip" || c.Images != 49 || c.Identities != 12 {
		t.Fatalf("calibration file = %+v, %v", c, err)
	}

	same := []string{filepath.Join(people, "p03", "p03_0001.png"), filepath.Join(people, "p03", "p03_0002.png")}
	diff := []string{filepath.Join(people, "p03", "p03_0001.png"), filepath.Join(people, "p09", "p09_0001.png")}
	tests := []struct {
		args []string
		want string
	}{
		{same, "decision refer"}, // no calibration given
		{append([]string{"--calibration", out}, same...), "decision match"},
		{append([]string{"--calibration", out}, diff...), "decision no-match"},
	}
	for _, tt := range tests {
		e, stdout, _ := testEnv()
		if err := faceCompare(context.Background(), e, tt.args, load); err != nil {
			t.Fatalf("face compare %q = %v", tt.args, err)
		}
		if !strings.Contains(stdout.String(), tt.want) || !strings.Contains(stdout.String(), "similarity ") {
			t.Errorf("face compare %q printed %q, want %q", tt.args, stdout, tt.want)
		}
	}
	e, _, _ = testEnv()
	err = faceCompare(context.Background(), e, []string{same[0], filepath.Join(people, "p00", "broken.jpg")}, load)
	if err == nil {
		t.Errorf("face compare with a broken image = nil, want an error")
	}
}

func TestFaceAnalyzeJSON(t *testing.T) {
	people := t.TempDir()
	writePerson(t, people, "a", color.RGBA{10, 100, 200, 255}, 1)
	img := filepath.Join(people, "a", "a_0001.png")
	e, stdout, _ := testEnv()
	err := faceAnalyze(context.Background(), e, []string{"--json", img, filepath.Join(people, "missing.png")}, testLoader(t))
	if err != (exitError{1}) {
		t.Fatalf("face analyze with a missing file = %v, want exit 1", err)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"box":[0,0,64,64]`) || !strings.Contains(lines[0], `"embedding":[`) ||
		!strings.Contains(lines[0], `"ms":{`) || !strings.Contains(lines[1], `"error":`) {
		t.Errorf("face analyze --json printed:\n%s", stdout)
	}
}

func TestFaceUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"analyze"}, {"compare", "a"}, {"calibrate", "--dir", "x"}, {"calibrate", "--dir", "x", "--out", "y", "--fmr", "2"}, {"evaluate-lfw"}} {
		e, _, _ := testEnv()
		var ue usageError
		if err := runFace(context.Background(), e, args); !errors.As(err, &ue) {
			t.Errorf("runFace(%q) = %v, want usageError", args, err)
		}
	}
}

// TestFaceEvaluateLFW runs evaluate-lfw on a synthetic LFW-shaped folder
// (20 people, genuine pairs within a person, impostors across) and checks
// that a second run from the cache gives the same report.
func TestFaceEvaluateLFW(t *testing.T) {
	lfw := t.TempDir()
	for i := 0; i < 20; i++ {
		writePerson(t, lfw, fmt.Sprintf("P%02d", i), color.RGBA{uint8(12 * i), uint8(240 - 11*i), uint8(40 + 9*i), 255}, 3)
	}
	// LFW names files <Name>_NNNN.jpg; copy the PNGs to such names (the
	// decoder goes by content, not by name).
	var gen, imp []string
	for i := 0; i < 20; i++ {
		gen = append(gen, fmt.Sprintf("P%02d 1 2", i))
		imp = append(imp, fmt.Sprintf("P%02d 1 P%02d 3", i, (i+7)%20))
		for k := 1; k <= 3; k++ {
			src := filepath.Join(lfw, fmt.Sprintf("P%02d", i), fmt.Sprintf("P%02d_%04d.png", i, k))
			b, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(strings.TrimSuffix(src, ".png")+".jpg", b, 0o644)
		}
	}
	pairs := filepath.Join(t.TempDir(), "pairs.txt")
	os.WriteFile(pairs, []byte("20\n"+strings.Join(gen, "\n")+"\n"+strings.Join(imp, "\n")+"\n"), 0o644)
	cache := filepath.Join(t.TempDir(), "cache.jsonl")
	cal := filepath.Join(t.TempDir(), "cal.json")
	args := []string{"--lfw", lfw, "--pairs", pairs, "--also-faceapi", "--also-flip", "--fmr", "0.1", "--all-pairs"}
	e, out1, _ := testEnv()
	if err := faceEvaluateLFW(context.Background(), e, append(args, "--cache-out", cache, "--calibration-out", cal), testLoader(t)); err != nil {
		t.Fatalf("evaluate-lfw = %v\n%s", err, out1)
	}
	for _, want := range []string{"images 60,", "failed to acquire 0", "+faceapi-box\n", "+dlib-chip-flip\n", "10-fold accuracy", "calibration (threshold", "all pairs of 60 images (20 persons, at most 10 each): 60 genuine, 1710 impostor pairs",
		"presentation-attack detection on 60 bona fide images", "0.3              45.00%       25.00%"} {
		if !strings.Contains(out1.String(), want) {
			t.Errorf("evaluate-lfw output lacks %q:\n%s", want, out1)
		}
	}
	e, out2, _ := testEnv()
	if err := faceEvaluateLFW(context.Background(), e, append(args, "--cache-in", cache), testLoader(t)); err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(out1.String(), "\n") {
		if !strings.HasPrefix(l, "calibration (") {
			kept = append(kept, l)
		}
	}
	if got := out2.String(); got != strings.Join(kept, "\n") {
		t.Errorf("evaluate-lfw from cache printed\n%s\nwant\n%s", got, strings.Join(kept, "\n"))
	}
	// --quantised adds the templates as an offline credential carries them.
	e, out3, _ := testEnv()
	if err := faceEvaluateLFW(context.Background(), e, append(args, "--cache-in", cache, "--quantised"), testLoader(t)); err != nil {
		t.Fatal(err)
	}
	if q := out3.String(); !strings.HasPrefix(q, out2.String()[:strings.Index(out2.String(), "all pairs of")]) ||
		!strings.Contains(q, "as an offline credential carries it, int6 (the default), against float32:\n|cosine(credential) - cosine(float32)| over 40 pairs: mean 0.0") ||
		!strings.Contains(q, "int4, against float32") {
		t.Errorf("evaluate-lfw --quantised printed\n%s", q)
	}
	fh, err := os.Open(cal)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if c, err := face.ReadCalibration(fh); err != nil || c.Model != "test+dlib-chip-flip" {
		t.Errorf("calibration-out = %+v, %v", c, err)
	}
}

// TestLFWSubject: of several faces, LFW's subject is the one centred in the
// image, even when a bystander's face is larger.
func TestLFWSubject(t *testing.T) {
	for _, tt := range []struct {
		name  string
		boxes []face.Box
		want  int
	}{
		{"one face", []face.Box{{10, 10, 40, 40}}, 0},
		{"larger bystander at the edge", []face.Box{{150, 0, 100, 120}, {80, 80, 90, 90}}, 1},
		{"small bystander", []face.Box{{75, 70, 100, 110}, {0, 0, 30, 30}}, 0},
	} {
		faces := make([]face.Face, len(tt.boxes))
		for i, b := range tt.boxes {
			faces[i].Box = b
		}
		if got := lfwSubject(faces, 250, 250); got != &faces[tt.want] {
			t.Errorf("%s: lfwSubject = box %v, want %v", tt.name, got.Box, tt.boxes[tt.want])
		}
	}
}

// TestServeFaceZoomOutFlag: serve takes on or off, from the flag or the
// environment, and refuses anything else before touching the data folder.
func TestServeFaceZoomOutFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		env  string
	}{
		{[]string{"--face-zoom-out", "sometimes"}, ""},
		{nil, "maybe"},
	} {
		e, _, _ := testEnv()
		e.getenv = func(k string) string {
			if k == "MADOGUCHI_FACE_ZOOM_OUT" {
				return tt.env
			}
			return ""
		}
		dir := filepath.Join(t.TempDir(), "data")
		var ue usageError
		err := runServe(context.Background(), e, append([]string{"--data", dir}, tt.args...))
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "face-zoom-out") {
			t.Errorf("serve %v (env %q) = %v, want a usage error naming --face-zoom-out", tt.args, tt.env, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("serve %v wrote %s before refusing", tt.args, dir)
		}
	}
}

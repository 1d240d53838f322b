package face

import (
	"context"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
	"github.com/madoguchi/madoguchi/face/nn"
)

// knownSimilarity maps chip coordinates to image coordinates: scale s,
// rotation th, translation (tx, ty).
func knownSimilarity(s, th, tx, ty float64) similarity {
	return similarity{a: s * math.Cos(th), b: s * math.Sin(th), tx: tx, ty: ty}
}

// TestArcFaceMapRecoversKnownTransform: five points placed by a known
// similarity transform of the reference are mapped back exactly.
func TestArcFaceMapRecoversKnownTransform(t *testing.T) {
	for _, tc := range []struct{ s, th, tx, ty float64 }{
		{1, 0, 0, 0}, {2.3, 17 * math.Pi / 180, 40, 25}, {0.6, -35 * math.Pi / 180, 300, -12}, {4, math.Pi / 2, 10, 900},
	} {
		T := knownSimilarity(tc.s, tc.th, tc.tx, tc.ty)
		var pts [5]Point
		for i, r := range ArcFaceReference {
			x, y := T.apply(float64(r[0]), float64(r[1]))
			pts[i] = Point{float32(x), float32(y)}
		}
		m, ok := arcFaceMap(pts, ArcFaceChipSize)
		if !ok {
			t.Fatalf("arcFaceMap(%+v) not ok", tc)
		}
		want := chipMap{T.a, -T.b, T.tx, T.b, T.a, T.ty}
		for i := range m {
			if math.Abs(m[i]-want[i]) > 1e-4*math.Max(1, math.Abs(want[i])) {
				t.Errorf("arcFaceMap(%+v) = %v, want %v", tc, m, want)
				break
			}
		}
	}
}

// TestArcFaceChipSamplesTheTransform: on an image whose red and green
// channels are x and y, every chip pixel holds the image position the
// known transform maps it to (bilinear sampling of a linear ramp is exact
// up to rounding).
func TestArcFaceChipSamplesTheTransform(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			o := img.PixOffset(x, y)
			img.Pix[o], img.Pix[o+1], img.Pix[o+2], img.Pix[o+3] = uint8(x), uint8(y), 100, 255
		}
	}
	T := knownSimilarity(1.5, 20*math.Pi/180, 60, 30)
	var pts [5]Point
	for i, r := range ArcFaceReference {
		x, y := T.apply(float64(r[0]), float64(r[1]))
		pts[i] = Point{float32(x), float32(y)}
	}
	chip, inFrame, ok := ArcFaceChip(img, pts, ArcFaceChipSize)
	if !ok {
		t.Fatal("ArcFaceChip not ok")
	}
	checked := 0
	for r := 0; r < ArcFaceChipSize; r++ {
		for c := 0; c < ArcFaceChipSize; c++ {
			x, y := T.apply(float64(c), float64(r))
			if x < 0 || y < 0 || x >= 255 || y >= 255 {
				continue
			}
			o := chip.PixOffset(c, r)
			if dx, dy := math.Abs(float64(chip.Pix[o])-x), math.Abs(float64(chip.Pix[o+1])-y); dx > 0.51 || dy > 0.51 {
				t.Fatalf("chip(%d,%d) = (%d,%d), want (%.2f,%.2f)", c, r, chip.Pix[o], chip.Pix[o+1], x, y)
			}
			checked++
		}
	}
	if checked < 100 || !(inFrame > 0 && inFrame <= 1) {
		t.Fatalf("checked %d pixels, inFrame %v", checked, inFrame)
	}
	// The reference points land where the reference says.
	for i, p := range pts {
		c, r := ArcFaceReference[i][0], ArcFaceReference[i][1]
		o := chip.PixOffset(int(math.Round(float64(c))), int(math.Round(float64(r))))
		if math.Abs(float64(chip.Pix[o])-float64(p[0])) > 2 || math.Abs(float64(chip.Pix[o+1])-float64(p[1])) > 2 {
			t.Errorf("reference point %d samples (%d,%d), want near (%.1f,%.1f)", i, chip.Pix[o], chip.Pix[o+1], p[0], p[1])
		}
	}
}

func TestArcFaceChipRefusesDegeneratePoints(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	nan := float32(math.NaN())
	for name, pts := range map[string][5]Point{
		"all equal": {{10, 10}, {10, 10}, {10, 10}, {10, 10}, {10, 10}},
		"NaN":       {{nan, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}},
		"infinite":  {{float32(math.Inf(1)), 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}},
	} {
		if _, _, ok := ArcFaceChip(img, pts, ArcFaceChipSize); ok {
			t.Errorf("ArcFaceChip(%s) ok, want refused", name)
		}
	}
}

func TestFivePoints(t *testing.T) {
	var lm [68]Point
	for i := range lm {
		lm[i] = Point{float32(i), float32(2 * i)}
	}
	got := FivePoints(&lm)
	want := [5]Point{{38.5, 77}, {44.5, 89}, {30, 60}, {48, 96}, {54, 108}}
	if got != want {
		t.Errorf("FivePoints = %v, want %v", got, want)
	}
}

// arcTestEmbedder is an ArcFace-family embedder for engine tests: it
// reports the mean colour of the four chip quadrants.
type arcTestEmbedder struct{ side int }

func (a arcTestEmbedder) ChipSide() int { return a.side }
func (a arcTestEmbedder) Embed(_ context.Context, chip *image.RGBA) ([]float32, error) {
	if chip.Rect.Dx() != a.side {
		return nil, errors.New("wrong chip size")
	}
	v := make([]float32, 12)
	h := a.side / 2
	for y := 0; y < a.side; y++ {
		for x := 0; x < a.side; x++ {
			q := 2*(y/h) + x/h
			for c := 0; c < 3; c++ {
				v[3*q+c] += float32(chip.Pix[chip.PixOffset(x, y)+c]) + 1
			}
		}
	}
	return v, nil
}

// TestAlignmentFitsRecognizer: an ArcFace-family recogniser gets the
// five-point chip by default and refuses the dlib chip and face-api's box;
// the dlib ResNet refuses the five-point chip; templates of the two never
// compare, and a calibration for the other is refused.
func TestAlignmentFitsRecognizer(t *testing.T) {
	det := &fixedDetector{dets: []Detection{{Box: Box{60, 60, 150, 150}, Score: 0.9}}}
	arc := Stages{Detector: det, Landmarker: boxLandmarker{}, Embedder: arcTestEmbedder{112}, Name: "test/lm68/arc"}
	e, err := New(arc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Alignment() != AlignArcFaceFlip || e.Model() != "test/lm68/arc+arcface5-flip" {
		t.Fatalf("default alignment %s, model %s; want arcface5-flip", e.Alignment(), e.Model())
	}
	for _, a := range []Alignment{AlignDlib, AlignDlibFlip, AlignFaceAPI, Alignment(99)} {
		if _, err := New(arc, Config{Align: a}); !errors.Is(err, ErrConfig) {
			t.Errorf("New(arcface recogniser, %s) error = %v, want ErrConfig", a, err)
		}
	}
	dlib := newTestEngine(t, det, Config{})
	if dlib.Alignment() != AlignDlibFlip {
		t.Fatalf("dlib engine default alignment %s, want dlib-chip-flip", dlib.Alignment())
	}
	if _, err := New(Stages{Detector: det, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, Name: "x"}, Config{Align: AlignArcFace}); !errors.Is(err, ErrConfig) {
		t.Errorf("New(dlib recogniser, arcface5) error = %v, want ErrConfig", err)
	}
	img := testImage()
	fa, err := e.Analyze(context.Background(), img)
	if err != nil || len(fa) == 0 {
		t.Fatalf("Analyze = %d faces, %v", len(fa), err)
	}
	fd, err := dlib.Analyze(context.Background(), img)
	if err != nil || len(fd) == 0 {
		t.Fatalf("Analyze (dlib) = %d faces, %v", len(fd), err)
	}
	if _, err := Compare(fa[0].Embedding, fd[0].Embedding); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("Compare(arcface template, dlib template) error = %v, want ErrModelMismatch", err)
	}
	if _, err := e.EmbedAligned(context.Background(), img, &fa[0].Landmarks, AlignDlib); !errors.Is(err, ErrConfig) {
		t.Errorf("EmbedAligned(arcface recogniser, dlib chip) error = %v, want ErrConfig", err)
	}
	same, err := e.EmbedAligned(context.Background(), img, &fa[0].Landmarks, AlignArcFaceFlip)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Compare(same, fa[0].Embedding); err != nil || s < 0.9999 {
		t.Errorf("EmbedAligned(same alignment) vs Analyze = %v, %v; want 1", s, err)
	}
	gen := []float64{0.9, 0.8, 0.95}
	imp := make([]float64, 2000)
	cal, err := NewCalibration(dlib.Model(), 1e-3, gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(arc, Config{Calibration: cal}); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("New(arcface recogniser, calibration for %s) error = %v, want ErrModelMismatch", dlib.Model(), err)
	}
	cal.Model = e.Model()
	if _, err := New(arc, Config{Calibration: cal}); err != nil {
		t.Errorf("New(arcface recogniser, its own calibration) = %v, want nil", err)
	}
}

// TestLoadONNXRecognizerRefusesMalformed: a file that is not an ONNX
// model, or is empty, is refused as malformed, never run.
func TestLoadONNXRecognizerRefusesMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, b := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("this is not a protobuf \xff\xff\xff\xff"),
		"truncated": {0x3a, 0xff, 0x01},
	} {
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadONNXRecognizer(p, ArcFaceChipSize, 127, 128); !errors.Is(err, nn.ErrFormat) {
			t.Errorf("loadONNXRecognizer(%s) error = %v, want nn.ErrFormat", name, err)
		}
	}
}

// TestLoadMFN512WithoutItsModel: an mfn512 engine over a model folder
// without the faceplugin package is an ErrModels, never a fallback to
// another recogniser.
func TestLoadMFN512WithoutItsModel(t *testing.T) {
	real := facetest.Models(t)
	dir := t.TempDir()
	for _, sub := range []string{"face-api", "human"} {
		if err := os.Symlink(filepath.Join(real, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load(dir, LoadOptions{Recognizer: "resnet128"}); err != nil {
		t.Fatalf("Load(face-api and human, resnet128) = %v", err)
	}
	if _, err := Load(dir, LoadOptions{Recognizer: "mfn512"}); !errors.Is(err, ErrModels) || !strings.Contains(err.Error(), "mfn512") {
		t.Errorf("Load(no faceplugin folder, mfn512) error = %v, want ErrModels", err)
	}
	if _, err := Load(dir, LoadOptions{Recognizer: "arcface-r100"}); !errors.Is(err, ErrConfig) {
		t.Errorf("Load(unknown recognizer) error = %v, want ErrConfig", err)
	}
}

package face

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"math"
	"os"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Test stages: deterministic functions of the input, so that the engine's
// wiring (selection, alignment, normalisation, bounds) is what is tested.

// fixedDetector finds dets in testImage, and the same faces where testImage
// was pasted when it is shown on a zoom-out canvas (as a real detector
// would, with the same scores).
type fixedDetector struct {
	dets  []Detection
	block chan struct{} // if non-nil, Detect waits for it
	err   error
}

func (d *fixedDetector) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	if d.block != nil {
		select {
		case <-d.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// testImage is 300x300; a canvas k times its size holds it centred.
	off := float32(img.Rect.Dx()-300) / 2
	var out []Detection
	for _, x := range d.dets {
		if x.Score >= minScore {
			x.Box[0] += off
			x.Box[1] += off
			out = append(out, x)
		}
	}
	return out, d.err
}

// boxLandmarker places the mean face so that the box is its chip rect.
type boxLandmarker struct{}

func (boxLandmarker) Landmarks(_ context.Context, _ *image.RGBA, b Box) ([68]Point, error) {
	return templateLandmarks(ChipSize, float64(b[2])/ChipSize, 0, float64(b[0]), float64(b[1])), nil
}

// meanEmbedder returns the mean colour of chip quadrants: a real function
// of the aligned pixels.
type meanEmbedder struct{}

func (meanEmbedder) Embed(_ context.Context, chip *image.RGBA) ([]float32, error) {
	if chip.Rect.Dx() != ChipSize || chip.Rect.Dy() != ChipSize {
		return nil, fmt.Errorf("chip %v", chip.Rect)
	}
	v := make([]float32, 12)
	for y := 0; y < ChipSize; y++ {
		for x := 0; x < ChipSize; x++ {
			q := 2*(2*y/ChipSize) + 2*x/ChipSize
			for c := 0; c < 3; c++ {
				v[3*q+c] += float32(chip.Pix[y*chip.Stride+4*x+c]) + 1
			}
		}
	}
	return v, nil
}

func testImage() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 300, 300))
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	return img
}

func newTestEngine(t *testing.T, d Detector, cfg Config) *Engine {
	t.Helper()
	e, err := New(Stages{Detector: d, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, Name: "test/v1"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAnalyze(t *testing.T) {
	det := &fixedDetector{dets: []Detection{
		{Box: Box{10, 10, 60, 60}, Score: 0.9},
		{Box: Box{100, 100, 150, 150}, Score: 0.8},
		{Box: Box{0, 0, 20, 20}, Score: 0.3}, // below MinScore: dropped
	}}
	e := newTestEngine(t, det, Config{})
	faces, err := e.Analyze(context.Background(), testImage())
	if err != nil {
		t.Fatal(err)
	}
	if len(faces) != 2 || faces[0].Box != (Box{100, 100, 150, 150}) || faces[0].Fallback {
		t.Fatalf("Analyze = %d faces, first %v; want 2, largest first", len(faces), faces[0].Box)
	}
	for _, f := range faces {
		if f.Model != "test/v1+dlib-chip-flip" || f.Embedding.Model() != f.Model || f.Embedding.Len() != 12 {
			t.Errorf("face model %q, template %v", f.Model, f.Embedding)
		}
		var n float64
		for _, x := range f.Embedding.Values() {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("template norm^2 = %v, want 1", n)
		}
		if math.Abs(f.Quality.Roll) > 1e-3 || f.Quality.InFrame != 1 || f.Quality.InterEye <= 0 {
			t.Errorf("quality %+v, want frontal, in frame", f.Quality)
		}
	}
	// Different regions of the image give different templates; the same
	// region gives the same template.
	s, err := Compare(faces[0].Embedding, faces[1].Embedding)
	if err != nil || s > 0.9999 {
		t.Errorf("Compare(two regions) = %v, %v; want < 1", s, err)
	}
	again, _ := e.Analyze(context.Background(), testImage())
	if s, _ := Compare(faces[0].Embedding, again[0].Embedding); s < 0.999999 {
		t.Errorf("Compare(same face twice) = %v, want 1", s)
	}
}

func TestAnalyzeFallbackAndNoFace(t *testing.T) {
	det := &fixedDetector{dets: []Detection{{Box: Box{10, 10, 60, 60}, Score: 0.3}, {Box: Box{100, 100, 60, 60}, Score: 0.05}}}
	e := newTestEngine(t, det, Config{})
	faces, err := e.Analyze(context.Background(), testImage())
	if err != nil || len(faces) != 1 || !faces[0].Fallback || faces[0].Score != 0.3 {
		t.Fatalf("Analyze(low scores) = %+v, %v; want the 0.3 face as fallback", faces, err)
	}
	e = newTestEngine(t, &fixedDetector{}, Config{})
	faces, err = e.Analyze(context.Background(), testImage())
	if err != nil || len(faces) != 0 {
		t.Fatalf("Analyze(no face) = %d faces, %v; want 0, nil", len(faces), err)
	}
	boom := errors.New("boom")
	e = newTestEngine(t, &fixedDetector{err: boom}, Config{})
	if _, err := e.Analyze(context.Background(), testImage()); !errors.Is(err, boom) {
		t.Fatalf("Analyze(detector error) = %v, want wrapping it", err)
	}
	if _, err := e.Analyze(context.Background(), nil); !errors.Is(err, ErrNoFace) {
		t.Fatalf("Analyze(nil) = %v, want ErrNoFace", err)
	}
}

func TestEngineBusy(t *testing.T) {
	block := make(chan struct{})
	det := &fixedDetector{dets: []Detection{{Box: Box{10, 10, 60, 60}, Score: 0.9}}, block: block}
	e := newTestEngine(t, det, Config{Workers: 1, Queue: 1})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ { // one runs, one waits
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Analyze(ctx, testImage())
			errs <- err
		}()
	}
	// Wait until one call holds the worker and one waits in the queue.
	for len(e.slots) != 1 || e.waiting.Load() != 1 {
		runtime.Gosched()
	}
	if _, err := e.Analyze(ctx, testImage()); !errors.Is(err, ErrBusy) {
		t.Errorf("third Analyze = %v, want ErrBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.Analyze(cctx, testImage()); !errors.Is(err, ErrBusy) && !errors.Is(err, context.Canceled) {
		t.Errorf("Analyze(cancelled) = %v, want ErrBusy or Canceled", err)
	}
	close(block)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("queued Analyze = %v, want nil", err)
		}
	}
}

func TestDecideNeedsCalibration(t *testing.T) {
	e := newTestEngine(t, &fixedDetector{}, Config{})
	if d, err := e.Decide(0.99); d != Refer || !errors.Is(err, ErrUncalibrated) {
		t.Errorf("Decide(uncalibrated) = %v, %v; want refer, ErrUncalibrated", d, err)
	}
	gen, imp := scoreSets(200, 2000)
	c, err := NewCalibration("other/v1+dlib-chip-flip", 1e-2, gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(Stages{Detector: &fixedDetector{}, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, Name: "test/v1"}, Config{Calibration: c})
	if !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("New(calibration for another model) = %v, want ErrModelMismatch", err)
	}
	c.Model = "test/v1+dlib-chip-flip"
	e = newTestEngine(t, &fixedDetector{}, Config{Calibration: c})
	for _, tt := range []struct {
		s    Score
		want Decision
	}{{Score(c.Threshold) + 0.01, Match}, {Score(c.Threshold), NoMatch}, {-1, NoMatch}} {
		if d, err := e.Decide(tt.s); d != tt.want || err != nil {
			t.Errorf("Decide(%v) = %v, %v; want %v", tt.s, d, err, tt.want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	ok := Stages{Detector: &fixedDetector{}, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, Name: "x"}
	tests := []struct {
		name string
		st   Stages
		cfg  Config
	}{
		{"no detector", Stages{Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, Name: "x"}, Config{}},
		{"no name", Stages{Detector: &fixedDetector{}, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}}, Config{}},
		{"fallback above min", ok, Config{MinScore: 0.3, FallbackScore: 0.4}},
		{"bad alignment", ok, Config{Align: 7}},
	}
	for _, tt := range tests {
		if _, err := New(tt.st, tt.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%s) = %v, want ErrConfig", tt.name, err)
		}
	}
}

func TestTemplate(t *testing.T) {
	a, err := NewTemplate("m", []float32{3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Values(); got[0] != 0.6 || got[1] != 0.8 {
		t.Errorf("NewTemplate(3,4) = %v, want [0.6 0.8]", got)
	}
	b, _ := NewTemplate("m", []float32{-4, 3})
	if s, err := Compare(a, b); err != nil || math.Abs(float64(s)) > 1e-7 {
		t.Errorf("Compare(orthogonal) = %v, %v; want 0", s, err)
	}
	if s, _ := Compare(a, a); math.Abs(float64(s)-1) > 1e-7 {
		t.Errorf("Compare(a, a) = %v, want 1", s)
	}
	other, _ := NewTemplate("n", []float32{3, 4})
	if _, err := Compare(a, other); !errors.Is(err, ErrModelMismatch) {
		t.Errorf("Compare(other model) = %v, want ErrModelMismatch", err)
	}
	if _, err := Compare(a, Template{}); !errors.Is(err, ErrTemplate) {
		t.Errorf("Compare(zero template) = %v, want ErrTemplate", err)
	}
	for _, v := range [][]float32{nil, {0, 0}, {float32(math.NaN()), 1}, {float32(math.Inf(1))}} {
		if _, err := NewTemplate("m", v); !errors.Is(err, ErrTemplate) {
			t.Errorf("NewTemplate(%v) = %v, want ErrTemplate", v, err)
		}
	}
}

func TestTemplateRedacts(t *testing.T) {
	tpl, _ := NewTemplate("m", []float32{0.123456, 0.654321})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "t", tpl, "face", Face{Embedding: tpl})
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", tpl, tpl, tpl, tpl)
	for _, leak := range []string{"0.12", "0.65", "0.99", "0.18"} {
		if strings.Contains(out, leak) {
			t.Errorf("template value %s leaked: %s", leak, out)
		}
	}
	if !strings.Contains(out, "redacted") {
		t.Errorf("log output %s, want a redaction marker", out)
	}
}

// contentDetector finds the bounding box of non-black pixels and, like SSD
// on close-ups, under-scores it when it fills most of the image.
type contentDetector struct{}

func (contentDetector) Detect(_ context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	x0, y0, x1, y1 := img.Rect.Dx(), img.Rect.Dy(), -1, -1
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			p := img.Pix[y*img.Stride+4*x:]
			if p[0]|p[1]|p[2] != 0 {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return nil, nil
	}
	b := Box{float32(x0), float32(y0), float32(x1 - x0 + 1), float32(y1 - y0 + 1)}
	score := float32(0.9)
	if b[2]*b[3] > 0.5*float32(img.Rect.Dx()*img.Rect.Dy()) {
		score = 0.3
	}
	return []Detection{{Box: b, Score: score}}, nil
}

func TestZoomOut(t *testing.T) {
	img := testImage() // no black pixel: content fills the frame
	for _, tt := range []struct {
		noZoom       bool
		wantScore    float32
		wantFallback bool
	}{{false, 0.9, false}, {true, 0.3, true}} {
		e := newTestEngine(t, contentDetector{}, Config{NoZoomOut: tt.noZoom})
		faces, err := e.Analyze(context.Background(), img)
		if err != nil || len(faces) != 1 {
			t.Fatalf("Analyze(NoZoomOut %v) = %d faces, %v", tt.noZoom, len(faces), err)
		}
		f := faces[0]
		if f.Score != tt.wantScore || f.Fallback != tt.wantFallback || f.Box != (Box{0, 0, 300, 300}) {
			t.Errorf("Analyze(NoZoomOut %v) = score %v fallback %v box %v; want %v, %v, [0 0 300 300]",
				tt.noZoom, f.Score, f.Fallback, f.Box, tt.wantScore, tt.wantFallback)
		}
	}
}

func TestEmbedAligned(t *testing.T) {
	e := newTestEngine(t, &fixedDetector{dets: []Detection{{Box: Box{50, 50, 150, 150}, Score: 0.9}}}, Config{})
	img := testImage()
	faces, err := e.Analyze(context.Background(), img)
	if err != nil || len(faces) != 1 {
		t.Fatal(faces, err)
	}
	same, err := e.EmbedAligned(context.Background(), img, &faces[0].Landmarks, AlignDlibFlip)
	if s, _ := Compare(same, faces[0].Embedding); err != nil || s < 0.999999 {
		t.Errorf("EmbedAligned(dlib-flip) = %v, %v; want the Analyze template", s, err)
	}
	other, err := e.EmbedAligned(context.Background(), img, &faces[0].Landmarks, AlignFaceAPI)
	if err != nil || other.Model() != "test/v1+faceapi-box" {
		t.Errorf("EmbedAligned(faceapi) model %q, %v", other.Model(), err)
	}
}

func TestFlipAverages(t *testing.T) {
	det := &fixedDetector{dets: []Detection{{Box: Box{50, 50, 150, 150}, Score: 0.9}}}
	plain := newTestEngine(t, det, Config{Align: AlignDlib})
	flip := newTestEngine(t, det, Config{Align: AlignDlibFlip})
	img := testImage()
	a, err := plain.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	b, err := flip.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	// meanEmbedder sums quadrants: mirroring swaps left and right, so the
	// average has equal left and right halves.
	v := b[0].Embedding.Values()
	for c := 0; c < 3; c++ {
		if math.Abs(float64(v[c]-v[3+c])) > 1e-6 || math.Abs(float64(v[6+c]-v[9+c])) > 1e-6 {
			t.Fatalf("flip template %v, want left/right symmetric", v)
		}
	}
	if b[0].Model != "test/v1+dlib-chip-flip" || a[0].Embedding.Values()[0] == v[0] {
		t.Errorf("flip model %q, template equal to the plain one", b[0].Model)
	}
}

// closeUpDetector behaves like SSD on a portrait with a bystander: the
// frame-filling face scores 0.3 (content box over half the image) and 0.9
// when seen smaller; a small bystander face in the content's top-left
// corner scores 0.8 at every scale.
type closeUpDetector struct{ contentDetector }

func (d closeUpDetector) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	dets, _ := d.contentDetector.Detect(ctx, img, minScore)
	if len(dets) == 0 {
		return nil, nil
	}
	b := dets[0].Box
	return append(dets, Detection{Box: Box{b[0], b[1], b[2] / 10, b[3] / 10}, Score: 0.8}), nil
}

// TestZoomOutFindsCloseUpBesideBystander: a small face found at full score
// must not stop the zoomed passes that find the close-up SSD under-scores;
// with NoZoomOut the close-up is lost (this is what cost LFW pairs).
func TestZoomOutFindsCloseUpBesideBystander(t *testing.T) {
	for _, tt := range []struct {
		noZoom bool
		want   []Detection
	}{
		{false, []Detection{{Box: Box{0, 0, 300, 300}, Score: 0.9}, {Box: Box{0, 0, 30, 30}, Score: 0.8}}},
		{true, []Detection{{Box: Box{0, 0, 30, 30}, Score: 0.8}}},
	} {
		e := newTestEngine(t, closeUpDetector{}, Config{NoZoomOut: tt.noZoom})
		faces, err := e.Analyze(context.Background(), testImage())
		if err != nil {
			t.Fatal(err)
		}
		var got []Detection
		for _, f := range faces {
			got = append(got, Detection{Box: f.Box, Score: f.Score})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Analyze(NoZoomOut %v) = %v, want %v", tt.noZoom, got, tt.want)
		}
	}
}

func TestMergeDetections(t *testing.T) {
	nan := float32(math.NaN())
	for _, tt := range []struct {
		name     string
		in, want []Detection
	}{
		{"empty", nil, nil},
		{"same face, two scales: the higher score wins",
			[]Detection{{Box: Box{10, 10, 100, 100}, Score: 0.4}, {Box: Box{14, 12, 96, 104}, Score: 0.95}},
			[]Detection{{Box: Box{14, 12, 96, 104}, Score: 0.95}}},
		{"disjoint faces both stay, best first",
			[]Detection{{Box: Box{0, 0, 50, 50}, Score: 0.6}, {Box: Box{100, 100, 50, 50}, Score: 0.7}},
			[]Detection{{Box: Box{100, 100, 50, 50}, Score: 0.7}, {Box: Box{0, 0, 50, 50}, Score: 0.6}}},
		{"overlap at IoU 0.25 is two faces",
			[]Detection{{Box: Box{0, 0, 100, 100}, Score: 0.9}, {Box: Box{60, 0, 100, 100}, Score: 0.8}},
			[]Detection{{Box: Box{0, 0, 100, 100}, Score: 0.9}, {Box: Box{60, 0, 100, 100}, Score: 0.8}}},
		{"NaN score dropped",
			[]Detection{{Box: Box{0, 0, 50, 50}, Score: nan}, {Box: Box{0, 0, 50, 50}, Score: 0.5}},
			[]Detection{{Box: Box{0, 0, 50, 50}, Score: 0.5}}},
		{"empty box never suppresses",
			[]Detection{{Box: Box{0, 0, 0, 0}, Score: 0.9}, {Box: Box{0, 0, 50, 50}, Score: 0.5}},
			[]Detection{{Box: Box{0, 0, 0, 0}, Score: 0.9}, {Box: Box{0, 0, 50, 50}, Score: 0.5}}},
	} {
		if got := mergeDetections(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: mergeDetections = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// zoomPreferringDetector finds one face in testImage wherever it was
// pasted, scoring it higher the larger the canvas (0.6 at 1x, 0.9 at 3x),
// with a PAD crop that reaches outside testImage.
type zoomPreferringDetector struct{}

func (zoomPreferringDetector) Detect(_ context.Context, img *image.RGBA, _ float32) ([]Detection, error) {
	k := float32(img.Rect.Dx()) / 300
	off := (float32(img.Rect.Dx()) - 300) / 2
	return []Detection{{
		Box:   Box{100 + off, 80 + off, 90, 110},
		Score: 0.45 + 0.15*k,
		Crop:  Box{-20 + off, 40 + off, 190, 190},
	}}, nil
}

// cropRecorder is a CropPAD that records the regions it was asked to score.
type cropRecorder struct{ crops []Box }

func (r *cropRecorder) Liveness(context.Context, *image.RGBA, Box) (Liveness, error) {
	return Liveness{Available: true}, errors.New("Liveness called: want LivenessCrop")
}

func (r *cropRecorder) LivenessCrop(_ context.Context, _ *image.RGBA, _, c Box) (Liveness, error) {
	r.crops = append(r.crops, c)
	return Liveness{Available: true, Real: 0.5, Live: 0.5}, nil
}

// TestZoomedDetectionKeepsPADCrop: the box and the PAD crop of the winning
// (zoomed) pass come back in image coordinates, the crop unclipped, and a
// CropPAD scores that crop.
func TestZoomedDetectionKeepsPADCrop(t *testing.T) {
	pad := &cropRecorder{}
	e, err := New(Stages{Detector: zoomPreferringDetector{}, Landmarker: boxLandmarker{}, Embedder: meanEmbedder{}, PAD: pad, Name: "test/v1"}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := e.Analyze(context.Background(), testImage())
	if err != nil || len(faces) != 1 {
		t.Fatalf("Analyze = %d faces, %v", len(faces), err)
	}
	if f := faces[0]; f.Score != 0.9 || f.Box != (Box{100, 80, 90, 110}) {
		t.Errorf("face = score %v box %v, want the 3x pass's 0.9 at [100 80 90 110]", f.Score, f.Box)
	}
	if want := []Box{{-20, 40, 190, 190}}; !reflect.DeepEqual(pad.crops, want) {
		t.Errorf("PAD crops = %v, want %v", pad.crops, want)
	}
}

// canvasRecorder is contentDetector that records the size of every image it
// is shown.
type canvasRecorder struct {
	contentDetector
	mu    sync.Mutex
	sizes []image.Point
}

func (d *canvasRecorder) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	d.mu.Lock()
	d.sizes = append(d.sizes, img.Rect.Size())
	d.mu.Unlock()
	return d.contentDetector.Detect(ctx, img, minScore)
}

// TestZoomOutBoundsCanvas: a large photo is halved before it is put on a
// zoom-out canvas, so no canvas exceeds maxCanvasSide, and the boxes still
// come back in the photo's pixels.
func TestZoomOutBoundsCanvas(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2100, 1400))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	det := &canvasRecorder{}
	e := newTestEngine(t, det, Config{})
	faces, err := e.Analyze(context.Background(), img)
	if err != nil || len(faces) != 1 {
		t.Fatalf("Analyze = %d faces, %v", len(faces), err)
	}
	if len(det.sizes) != 3 || det.sizes[0] != img.Rect.Size() {
		t.Fatalf("detector saw %v, want the photo then two canvases", det.sizes)
	}
	for _, s := range det.sizes[1:] {
		if max(s.X, s.Y) > maxCanvasSide {
			t.Errorf("canvas %v exceeds %d pixels", s, maxCanvasSide)
		}
	}
	// the photo was halved three times for the 2x canvas: 2100 -> 262 px,
	// so the box is exact to within 8 pixels
	if f := faces[0]; f.Score != 0.9 || f.Box[0] != 0 || f.Box[1] != 0 || f.Box[2] < 2092 || f.Box[2] > 2100 || f.Box[3] < 1392 || f.Box[3] > 1400 {
		t.Errorf("face = score %v box %v, want 0.9 and about [0 0 2100 1400]", f.Score, f.Box)
	}
}

// TestAnalyzeBytesDecodesInsideTheSlot: with every worker busy and the
// queue full, AnalyzeBytes answers ErrBusy before it decodes anything —
// even a 4096x4096 image costs nothing then — so at most Workers decoded
// images exist at once.
func TestAnalyzeBytesDecodesInsideTheSlot(t *testing.T) {
	block := make(chan struct{})
	det := &fixedDetector{dets: []Detection{{Box: Box{10, 10, 60, 60}, Score: 0.9}}, block: block}
	e := newTestEngine(t, det, Config{Workers: 1, Queue: -1})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := e.Analyze(ctx, testImage())
		done <- err
	}()
	for len(e.slots) != 1 {
		runtime.Gosched()
	}
	big, err := os.ReadFile("imageio/testdata/zeros-4096x4096-rgba16.png") // 192 MiB decoded
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, _, err := e.AnalyzeBytes(ctx, big); !errors.Is(err, ErrBusy) {
		t.Errorf("AnalyzeBytes(busy engine) = %v, want ErrBusy", err)
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("AnalyzeBytes on a busy engine allocated %d MiB: it decoded outside the worker slot", grew>>20)
	}
	if _, _, err := e.AnalyzeBytes(ctx, []byte("not an image")); !errors.Is(err, ErrBusy) {
		t.Errorf("AnalyzeBytes(garbage, busy engine) = %v, want ErrBusy (the slot is taken before decoding)", err)
	}
	close(block)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

package face

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"sort"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/face/imageio"
)

// Detection is one detector output: a box in image pixels and a score.
type Detection struct {
	Box   Box
	Score float32
	// Crop, if not zero, is the region the detector's own pipeline cuts
	// for its presentation-attack models (human's BlazeFace box, enlarged
	// 1.4x and squared with integer corners); it may reach outside the
	// image. A PAD that implements CropPAD scores that region, so that the
	// engine reproduces the reference's PAD scores end to end.
	Crop Box
}

// Detector finds faces. It returns every detection scoring at least
// minScore, in any order.
type Detector interface {
	Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error)
}

// Landmarker locates the 68 iBUG landmarks of the face in box.
type Landmarker interface {
	Landmarks(ctx context.Context, img *image.RGBA, box Box) ([68]Point, error)
}

// Embedder maps an aligned ChipSize x ChipSize chip to a raw descriptor.
type Embedder interface {
	Embed(ctx context.Context, chip *image.RGBA) ([]float32, error)
}

// boxEmbedder is implemented by embedders that can crop an axis-aligned box
// themselves, avoiding an 8-bit intermediate chip (face-api's exact path).
type boxEmbedder interface {
	EmbedBox(ctx context.Context, img *image.RGBA, box Box) ([]float32, error)
}

// PAD scores a face for presentation attacks.
type PAD interface {
	Liveness(ctx context.Context, img *image.RGBA, box Box) (Liveness, error)
}

// CropPAD is a PAD that can also score a crop region given directly
// (Detection.Crop) instead of deriving it from the face box.
type CropPAD interface {
	PAD
	LivenessCrop(ctx context.Context, img *image.RGBA, box, crop Box) (Liveness, error)
}

// Stages are the networks an Engine runs. Detector, Landmarker and
// Embedder are required; PAD is optional.
type Stages struct {
	Detector   Detector
	Landmarker Landmarker
	Embedder   Embedder
	PAD        PAD
	// Name identifies detector, landmarks and embedder weights, e.g.
	// "faceapi-ssd/lm68/resnet128@1.7.15"; the alignment is appended to
	// form Engine.Model.
	Name string
}

// Config tunes an Engine. The zero value is usable: the flip-averaged dlib
// chip, GOMAXPROCS workers, a queue of 4 per worker, face-api's score
// thresholds, and detection on the image and on two zoomed-out copies
// (see Engine.detect).
type Config struct {
	Align Alignment
	// Workers bounds concurrent analyses (default GOMAXPROCS); Queue bounds
	// callers waiting for a worker (default 4*Workers; negative: none).
	Workers int
	Queue   int
	// MinScore keeps detections at or above it (default 0.5). If none
	// qualifies, the best detection at or above FallbackScore (default 0.1)
	// is kept and marked Fallback: SSD under-scores close-up portraits.
	MinScore      float32
	FallbackScore float32
	// NoZoomOut disables the detection passes on zoomed-out copies of the
	// image (see Engine.detect): one detector run per image instead of
	// three, at the cost of missed close-ups and worse boxes.
	NoZoomOut bool
	// MaxFaces bounds the faces analysed per image, largest first (default 10).
	MaxFaces int
	// Calibration enables automatic decisions; it must name Engine.Model.
	Calibration *Calibration
	// Limits bound image intake in AnalyzeBytes (default imageio.DefaultLimits).
	Limits imageio.Limits
}

// Engine runs the face pipeline. It is safe for concurrent use.
type Engine struct {
	st      Stages
	cfg     Config
	model   string
	slots   chan struct{}
	waiting atomic.Int64
}

// New returns an Engine over the given stages. It fails if a required stage
// is missing or the calibration was made for another model.
func New(st Stages, cfg Config) (*Engine, error) {
	if st.Detector == nil || st.Landmarker == nil || st.Embedder == nil || st.Name == "" {
		return nil, fmt.Errorf("%w: detector, landmarker, embedder and name are required", ErrConfig)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case cfg.Queue == 0:
		cfg.Queue = 4 * cfg.Workers
	case cfg.Queue < 0:
		cfg.Queue = 0
	}
	if cfg.MinScore == 0 {
		cfg.MinScore = 0.5
	}
	if cfg.FallbackScore == 0 {
		cfg.FallbackScore = 0.1
	}
	if cfg.FallbackScore > cfg.MinScore || cfg.MinScore > 1 || cfg.FallbackScore < 0 {
		return nil, fmt.Errorf("%w: scores min %g, fallback %g", ErrConfig, cfg.MinScore, cfg.FallbackScore)
	}
	if cfg.MaxFaces <= 0 {
		cfg.MaxFaces = 10
	}
	if cfg.Limits == (imageio.Limits{}) {
		cfg.Limits = imageio.DefaultLimits()
	}
	_, arcFace := st.Embedder.(arcFaceEmbedder)
	if cfg.Align == AlignAuto {
		cfg.Align = AlignDlibFlip
		if arcFace {
			cfg.Align = AlignArcFaceFlip
		}
	}
	if err := checkAlignment(st.Embedder, cfg.Align); err != nil {
		return nil, err
	}
	e := &Engine{st: st, cfg: cfg, model: st.Name + "+" + cfg.Align.String(), slots: make(chan struct{}, cfg.Workers)}
	if c := cfg.Calibration; c != nil {
		if err := c.check(); err != nil {
			return nil, err
		}
		if c.Model != e.model {
			return nil, fmt.Errorf("%w: calibration is for %q, engine runs %q", ErrModelMismatch, c.Model, e.model)
		}
	}
	return e, nil
}

// Model identifies the whole pipeline (weights and alignment); templates,
// scores and calibrations are only comparable within one Model.
func (e *Engine) Model() string { return e.model }

// Alignment is the alignment the engine embeds with (AlignAuto resolved).
func (e *Engine) Alignment() Alignment { return e.cfg.Align }

// ModelFor is the model identifier of templates made with alignment a
// (see EmbedAligned).
func (e *Engine) ModelFor(a Alignment) string { return e.st.Name + "+" + a.String() }

// Calibrated reports whether Decide can return Match or NoMatch.
func (e *Engine) Calibrated() bool { return e.cfg.Calibration != nil }

// Decide turns a score into a decision at the calibrated FMR. Without a
// calibration for this model it returns Refer and ErrUncalibrated.
func (e *Engine) Decide(s Score) (Decision, error) {
	if e.cfg.Calibration == nil {
		return Refer, ErrUncalibrated
	}
	return e.cfg.Calibration.Decide(s), nil
}

// acquire takes a worker slot, waiting in the bounded queue if needed.
func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.slots <- struct{}{}:
		return nil
	default:
	}
	if e.waiting.Add(1) > int64(e.cfg.Queue) {
		e.waiting.Add(-1)
		return ErrBusy
	}
	defer e.waiting.Add(-1)
	select {
	case e.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) release() { <-e.slots }

// Timing is the time spent per stage, summed over faces.
type Timing struct {
	Decode, Detect, Landmarks, Align, Embed, Quality, PAD time.Duration
}

// Map returns the timings in milliseconds keyed by stage name.
func (t Timing) Map() map[string]float64 {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return map[string]float64{
		"decode": ms(t.Decode), "detect": ms(t.Detect), "landmarks": ms(t.Landmarks),
		"align": ms(t.Align), "embed": ms(t.Embed), "quality": ms(t.Quality), "pad": ms(t.PAD),
	}
}

// AnalyzeBytes decodes an image (see package imageio) and analyses it.
// The decoding happens inside the worker slot, so the decoded pixels of at
// most Workers images exist at once however many callers wait.
func (e *Engine) AnalyzeBytes(ctx context.Context, b []byte) ([]Face, Timing, error) {
	if err := e.acquire(ctx); err != nil {
		return nil, Timing{}, err
	}
	defer e.release()
	t0 := time.Now()
	img, _, err := imageio.Decode(b, e.cfg.Limits)
	if err != nil {
		return nil, Timing{}, err
	}
	dec := time.Since(t0)
	faces, tm, err := e.analyzeHeld(ctx, img)
	tm.Decode = dec
	return faces, tm, err
}

// Analyze finds, aligns, embeds and measures every face in img, largest
// first. No face is not an error: the result is empty.
func (e *Engine) Analyze(ctx context.Context, img *image.RGBA) ([]Face, error) {
	faces, _, err := e.AnalyzeTimed(ctx, img)
	return faces, err
}

// AnalyzeTimed is Analyze with per-stage timings.
func (e *Engine) AnalyzeTimed(ctx context.Context, img *image.RGBA) ([]Face, Timing, error) {
	var tm Timing
	if img == nil || img.Rect.Dx() <= 0 || img.Rect.Dy() <= 0 {
		return nil, tm, fmt.Errorf("%w: empty image", ErrNoFace)
	}
	if err := e.acquire(ctx); err != nil {
		return nil, tm, err
	}
	defer e.release()
	return e.analyzeHeld(ctx, img)
}

// analyzeHeld is AnalyzeTimed for a caller holding a worker slot.
func (e *Engine) analyzeHeld(ctx context.Context, img *image.RGBA) ([]Face, Timing, error) {
	var tm Timing
	if img == nil || img.Rect.Dx() <= 0 || img.Rect.Dy() <= 0 {
		return nil, tm, fmt.Errorf("%w: empty image", ErrNoFace)
	}
	if img.Rect.Min != (image.Point{}) {
		img = rebase(img)
	}

	t := time.Now()
	dets, err := e.detect(ctx, img)
	tm.Detect = time.Since(t)
	if err != nil {
		return nil, tm, fmt.Errorf("detect: %w", err)
	}
	dets, fallback := selectDetections(dets, e.cfg.MinScore, e.cfg.MaxFaces)
	faces := make([]Face, 0, len(dets))
	for _, d := range dets {
		if err := ctx.Err(); err != nil {
			return nil, tm, err
		}
		f := Face{Box: d.Box, Score: d.Score, Fallback: fallback, Model: e.model}
		t = time.Now()
		lm, err := e.st.Landmarker.Landmarks(ctx, img, d.Box)
		tm.Landmarks += time.Since(t)
		if err != nil {
			return nil, tm, fmt.Errorf("landmarks: %w", err)
		}
		f.Landmarks = lm

		t = time.Now()
		var chip, qchip *image.RGBA
		var inFrame float64
		var ok bool
		switch {
		case e.cfg.Align == AlignFaceAPI:
			chip, inFrame, ok = FaceAPIChip(img, FaceAPIAlignBox(&lm), ChipSize)
			qchip = chip
		case e.cfg.Align.arcFace():
			chip, _, ok = ArcFaceChip(img, FivePoints(&lm), e.st.Embedder.(arcFaceEmbedder).ChipSide())
			if ok {
				// quality is measured on the dlib chip whatever the
				// recogniser, so its numbers keep one meaning
				qchip, inFrame, ok = DlibChip(img, &lm, ChipSize)
			}
		default:
			chip, inFrame, ok = DlibChip(img, &lm, ChipSize)
			qchip = chip
		}
		tm.Align += time.Since(t)
		if !ok {
			continue // degenerate landmarks: not a usable face
		}

		t = time.Now()
		var raw []float32
		if be, ok := e.st.Embedder.(boxEmbedder); ok && e.cfg.Align == AlignFaceAPI {
			raw, err = be.EmbedBox(ctx, img, FaceAPIAlignBox(&lm))
		} else {
			raw, err = e.embedChip(ctx, chip, e.cfg.Align.flip())
		}
		tm.Embed += time.Since(t)
		if err != nil {
			return nil, tm, fmt.Errorf("embed: %w", err)
		}
		if f.Embedding, err = NewTemplate(e.model, raw); err != nil {
			return nil, tm, fmt.Errorf("embed: %w", err)
		}

		t = time.Now()
		landmarkQuality(&f.Quality, d.Box, &lm)
		chipQuality(&f.Quality, qchip)
		f.Quality.InFrame = inFrame
		tm.Quality += time.Since(t)

		if e.st.PAD != nil {
			t = time.Now()
			if cp, ok := e.st.PAD.(CropPAD); ok && d.Crop[2] > 0 && d.Crop[3] > 0 {
				f.Liveness, err = cp.LivenessCrop(ctx, img, d.Box, d.Crop)
			} else {
				f.Liveness, err = e.st.PAD.Liveness(ctx, img, d.Box)
			}
			tm.PAD += time.Since(t)
			if err != nil {
				return nil, tm, fmt.Errorf("pad: %w", err)
			}
		}
		faces = append(faces, f)
	}
	return faces, tm, nil
}

// detect runs the detector on img and, unless NoZoomOut is set, on img
// centred in black canvases 2 and 3 times its size, and merges the passes:
// where boxes of two passes overlap (IoU > mergeIoU) the higher-scoring one
// is kept. If still nothing reaches MinScore, a 4x canvas is tried too.
//
// Detectors trained on wide scenes (SSD on WIDER FACE) under-score faces
// that fill the frame, as in selfies, ID portraits and LFW; seen smaller,
// the same face scores higher and its box is tighter. Two things follow,
// both measured on LFW (docs/face-accuracy.md): a close-up may be missed
// while a small face in the background is found, so the zoomed passes run
// for every image, not only when nothing was found; and the box from the
// pass that scores the face highest gives the landmark net, and so the
// alignment, a better start. The cost is two more detector runs per image.
func (e *Engine) detect(ctx context.Context, img *image.RGBA) ([]Detection, error) {
	dets, err := e.st.Detector.Detect(ctx, img, e.cfg.FallbackScore)
	if err != nil || e.cfg.NoZoomOut {
		return dets, err
	}
	for _, k := range []int{2, 3, 4} {
		if k == 4 && bestScore(dets) >= e.cfg.MinScore {
			break
		}
		zoomed, err := e.detectZoomed(ctx, img, k)
		if err != nil {
			return nil, err
		}
		dets = mergeDetections(append(dets, zoomed...))
	}
	return dets, nil
}

// maxCanvasSide bounds the longer side of a zoom-out canvas. The detectors
// look at 512 pixels or less, so a larger canvas costs only memory: a 12
// megapixel selfie on a 2x canvas would take 192 MB. The image is halved
// (2x2 mean) until its canvas fits; LFW-sized images (250 pixels) are never
// halved.
const maxCanvasSide = 1024

// detectZoomed runs the detector on img centred in a black canvas k times
// its size (from a halved copy if that canvas would exceed maxCanvasSide)
// and maps the boxes back to img, clipped to it; crops are mapped back
// unclipped.
func (e *Engine) detectZoomed(ctx context.Context, img *image.RGBA, k int) ([]Detection, error) {
	src, f := img, float32(1)
	for k*max(src.Rect.Dx(), src.Rect.Dy()) > maxCanvasSide && min(src.Rect.Dx(), src.Rect.Dy()) >= 4 {
		src, f = halve(src), 2*f
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	canvas := image.NewRGBA(image.Rect(0, 0, k*w, k*h))
	for i := 3; i < len(canvas.Pix); i += 4 {
		canvas.Pix[i] = 255
	}
	ox, oy := (k*w-w)/2, (k*h-h)/2
	for y := 0; y < h; y++ {
		copy(canvas.Pix[(y+oy)*canvas.Stride+4*ox:], src.Pix[y*src.Stride:y*src.Stride+4*w])
	}
	zoomed, err := e.st.Detector.Detect(ctx, canvas, e.cfg.FallbackScore)
	if err != nil {
		return nil, err
	}
	// back to img: undo the canvas offset, then the halving
	fx, fy := float32(ox), float32(oy)
	iw, ih := float32(img.Rect.Dx()), float32(img.Rect.Dy())
	out := make([]Detection, 0, len(zoomed))
	for _, d := range zoomed {
		x0 := max((d.Box[0]-fx)*f, 0)
		y0 := max((d.Box[1]-fy)*f, 0)
		x1 := min((d.Box[0]+d.Box[2]-fx)*f, iw)
		y1 := min((d.Box[1]+d.Box[3]-fy)*f, ih)
		if x1 > x0 && y1 > y0 {
			c := d.Crop
			if c[2] > 0 && c[3] > 0 {
				c = Box{(c[0] - fx) * f, (c[1] - fy) * f, c[2] * f, c[3] * f}
			}
			out = append(out, Detection{Box: Box{x0, y0, x1 - x0, y1 - y0}, Score: d.Score, Crop: c})
		}
	}
	return out, nil
}

// mergeIoU is the overlap above which detections of different passes are
// taken for the same face. It is lower than a detector's own NMS threshold
// because one face seen at two scales gets boxes of somewhat different
// shape.
const mergeIoU = 0.3

// mergeDetections keeps, highest score first, every detection that does
// not overlap a kept one by more than mergeIoU.
func mergeDetections(dets []Detection) []Detection {
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].Score > dets[j].Score })
	keep := dets[:0:0]
	for _, d := range dets {
		if d.Score != d.Score {
			continue
		}
		dup := false
		for _, k := range keep {
			if iou(k.Box, d.Box) > mergeIoU {
				dup = true
				break
			}
		}
		if !dup {
			keep = append(keep, d)
		}
	}
	return keep
}

// iou is the intersection over union of two boxes (0 if either is empty).
func iou(a, b Box) float64 {
	x0, y0 := max(a[0], b[0]), max(a[1], b[1])
	x1, y1 := min(a[0]+a[2], b[0]+b[2]), min(a[1]+a[3], b[1]+b[3])
	if !(x1 > x0 && y1 > y0) {
		return 0
	}
	in := float64(x1-x0) * float64(y1-y0)
	union := float64(a[2])*float64(a[3]) + float64(b[2])*float64(b[3]) - in
	if !(union > 0) {
		return 0
	}
	return in / union
}

func bestScore(dets []Detection) float32 {
	var b float32
	for _, d := range dets {
		b = max(b, d.Score)
	}
	return b
}

// selectDetections applies the detection policy: every detection at or
// above minScore, largest first, at most maxFaces; if there is none, the
// single best detection (fallback).
func selectDetections(dets []Detection, minScore float32, maxFaces int) ([]Detection, bool) {
	var keep []Detection
	var best *Detection
	for i, d := range dets {
		if !(d.Box[2] > 0 && d.Box[3] > 0) || d.Score != d.Score {
			continue
		}
		if d.Score >= minScore {
			keep = append(keep, d)
		}
		if best == nil || d.Score > best.Score {
			best = &dets[i]
		}
	}
	if len(keep) == 0 {
		if best == nil {
			return nil, false
		}
		return []Detection{*best}, true
	}
	sort.SliceStable(keep, func(i, j int) bool { return keep[i].Box[2]*keep[i].Box[3] > keep[j].Box[2]*keep[j].Box[3] })
	if len(keep) > maxFaces {
		keep = keep[:maxFaces]
	}
	return keep, false
}

func rebase(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, img.Rect.Dx(), img.Rect.Dy()))
	for y := 0; y < out.Rect.Dy(); y++ {
		copy(out.Pix[y*out.Stride:y*out.Stride+4*out.Rect.Dx()], img.Pix[img.PixOffset(img.Rect.Min.X, img.Rect.Min.Y+y):])
	}
	return out
}

// EmbedAligned embeds the face with landmarks lm in img using alignment a,
// which may differ from the engine's; the template's model names a. It lets
// an evaluation compare alignments on the same detections.
func (e *Engine) EmbedAligned(ctx context.Context, img *image.RGBA, lm *[68]Point, a Alignment) (Template, error) {
	if err := checkAlignment(e.st.Embedder, a); err != nil {
		return Template{}, err
	}
	if err := e.acquire(ctx); err != nil {
		return Template{}, err
	}
	defer e.release()
	var raw []float32
	var err error
	if a.arcFace() {
		chip, _, ok := ArcFaceChip(img, FivePoints(lm), e.st.Embedder.(arcFaceEmbedder).ChipSide())
		if !ok {
			return Template{}, fmt.Errorf("%w: degenerate landmarks", ErrNoFace)
		}
		raw, err = e.embedChip(ctx, chip, a.flip())
	} else if a == AlignFaceAPI {
		if be, ok := e.st.Embedder.(boxEmbedder); ok {
			raw, err = be.EmbedBox(ctx, img, FaceAPIAlignBox(lm))
		} else if chip, _, ok := FaceAPIChip(img, FaceAPIAlignBox(lm), ChipSize); ok {
			raw, err = e.st.Embedder.Embed(ctx, chip)
		} else {
			return Template{}, fmt.Errorf("%w: alignment box outside the image", ErrNoFace)
		}
	} else {
		chip, _, ok := DlibChip(img, lm, ChipSize)
		if !ok {
			return Template{}, fmt.Errorf("%w: degenerate landmarks", ErrNoFace)
		}
		raw, err = e.embedChip(ctx, chip, a.flip())
	}
	if err != nil {
		return Template{}, err
	}
	return NewTemplate(e.ModelFor(a), raw)
}

// checkAlignment refuses an alignment the embedder was not trained with:
// ArcFace-family recognisers take only the five-point chip, the others
// only the dlib chip or face-api's box.
func checkAlignment(emb Embedder, a Alignment) error {
	_, arcFace := emb.(arcFaceEmbedder)
	switch {
	case a < AlignDlibFlip || a > AlignArcFaceFlip:
		return fmt.Errorf("%w: alignment %d", ErrConfig, a)
	case arcFace != a.arcFace():
		return fmt.Errorf("%w: alignment %s does not fit this recogniser", ErrConfig, a)
	}
	return nil
}

// embedChip embeds chip, averaged with its mirror image if flip is set.
func (e *Engine) embedChip(ctx context.Context, chip *image.RGBA, flip bool) ([]float32, error) {
	raw, err := e.st.Embedder.Embed(ctx, chip)
	if err != nil || !flip {
		return raw, err
	}
	m, err := e.st.Embedder.Embed(ctx, mirror(chip))
	if err != nil {
		return nil, err
	}
	if len(m) != len(raw) {
		return nil, fmt.Errorf("%w: mirrored descriptor has %d values, want %d", ErrTemplate, len(m), len(raw))
	}
	out := make([]float32, len(raw))
	for i := range raw {
		out[i] = (raw[i] + m[i]) / 2
	}
	return out, nil
}

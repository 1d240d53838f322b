// Package face is the face engine: it finds faces in an image, locates 68
// landmarks, aligns each face the way the recognition model was trained
// (the ArcFace five-point 112x112 chip for the default mfn512 recogniser;
// dlib's similarity-warped 150x150 chip, or face-api's axis-aligned box for
// parity with the reference, for the dlib ResNet), embeds it into an
// L2-normalised Template, measures quality and presentation-attack scores,
// and decides 1:1 matches at a calibrated false-match rate.
//
// Invariants:
//   - A Template is L2-normalised and tagged with the model (and alignment)
//     that produced it; Compare refuses templates of different models.
//     Templates, like images, are biometric data: they redact themselves in
//     slog and never appear in errors.
//   - An Engine auto-approves only with a Calibration made for its exact
//     model identifier (see Engine.Model and `madoguchi face calibrate`);
//     without one, Decide returns Refer and ErrUncalibrated. A missing
//     model file is an error at construction, never a silent approve.
//   - An Engine is safe for concurrent use and bounded: at most Workers
//     analyses run at once, at most Queue callers wait, and the next caller
//     gets ErrBusy at once instead of queueing without bound.
//   - Quality components are numbers with a documented meaning (see
//     Quality); the engine does not hide a face because of low quality, the
//     caller's policy decides.
//
// Models come from package face/models; the networks run in face/nn through
// face/faceapi (detection, landmarks, the ResNet), face/human (BlazeFace,
// antispoof and liveness) and face/nn/onnx (the faceplugin recogniser and
// liveness model; docs/face-models.md). Load builds the default Engine from an
// installed model folder; New takes any Stages (other weights, tests).
package face

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
)

// Sentinel errors.
var (
	// ErrBusy: all workers are busy and the wait queue is full; retry later.
	ErrBusy = errors.New("face: engine busy")
	// ErrUncalibrated: no calibration for this model; never auto-approve.
	ErrUncalibrated = errors.New("face: no calibration for this model")
	// ErrModelMismatch: two templates (or a template and a calibration)
	// come from different models.
	ErrModelMismatch = errors.New("face: model mismatch")
	// ErrTemplate: a template is empty, not finite or has a zero norm.
	ErrTemplate = errors.New("face: invalid template")
	// ErrCalibration: a calibration file is malformed or insufficient.
	ErrCalibration = errors.New("face: invalid calibration")
	// ErrConfig: the engine configuration is invalid.
	ErrConfig = errors.New("face: invalid configuration")
	// ErrNoFace: no face was found where one was required.
	ErrNoFace = errors.New("face: no face found")
)

// Box is an axis-aligned rectangle in image pixels: X, Y (top-left), W, H.
type Box [4]float32

// Point is an image position in pixels.
type Point [2]float32

// Template is an L2-normalised face embedding tagged with its model. The
// zero Template is invalid.
type Template struct {
	v     []float32
	model string
}

// NewTemplate L2-normalises a copy of v and tags it with model.
func NewTemplate(model string, v []float32) (Template, error) {
	if len(v) == 0 || len(v) > 1<<16 || model == "" {
		return Template{}, fmt.Errorf("%w: %d values", ErrTemplate, len(v))
	}
	var ss float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return Template{}, fmt.Errorf("%w: not finite", ErrTemplate)
		}
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return Template{}, fmt.Errorf("%w: zero norm", ErrTemplate)
	}
	inv := 1 / math.Sqrt(ss)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return Template{v: out, model: model}, nil
}

// Model returns the identifier of the model that produced t.
func (t Template) Model() string { return t.model }

// Len returns the dimension of t.
func (t Template) Len() int { return len(t.v) }

// Values returns a copy of the normalised embedding.
func (t Template) Values() []float32 { return append([]float32(nil), t.v...) }

// LogValue redacts the embedding: only the model and dimension are logged.
func (t Template) LogValue() slog.Value {
	return slog.GroupValue(slog.String("model", t.model), slog.Int("dim", len(t.v)), slog.String("values", "[redacted]"))
}

// String redacts like LogValue, so fmt never prints biometric data.
func (t Template) String() string {
	return fmt.Sprintf("Template(%s, %d-D, redacted)", t.model, len(t.v))
}

// GoString redacts for %#v as well.
func (t Template) GoString() string { return t.String() }

var _ slog.LogValuer = Template{}

// Score is the similarity of two templates: the cosine of their angle, in
// [-1, 1]; higher means more similar.
type Score float64

// Compare returns the cosine similarity of two templates of the same model.
func Compare(a, b Template) (Score, error) {
	if len(a.v) == 0 || len(b.v) == 0 {
		return 0, fmt.Errorf("%w: empty", ErrTemplate)
	}
	if a.model != b.model || len(a.v) != len(b.v) {
		return 0, fmt.Errorf("%w: %s (%d-D) vs %s (%d-D)", ErrModelMismatch, a.model, len(a.v), b.model, len(b.v))
	}
	var dot float64
	for i, x := range a.v {
		dot += float64(x) * float64(b.v[i])
	}
	return Score(max(-1, min(1, dot))), nil
}

// Decision is the outcome of a 1:1 comparison.
type Decision int

const (
	// Refer: no automatic decision; a person reviews (目視審査).
	Refer Decision = iota
	// Match: the score clears the calibrated threshold.
	Match
	// NoMatch: the score is below the calibrated threshold.
	NoMatch
)

func (d Decision) String() string {
	switch d {
	case Match:
		return "match"
	case NoMatch:
		return "no-match"
	}
	return "refer"
}

// Liveness holds presentation-attack scores, each in [0, 1] with 1 = bona
// fide; Available is false when no PAD model ran. Both models are small and
// uncalibrated (see docs/face-accuracy.md): weak signals, not a PAD
// decision.
type Liveness struct {
	Available bool    `json:"available"`
	Real      float32 `json:"real"` // human antispoof sigmoid
	Live      float32 `json:"live"` // human liveness softmax[0]
	// MiniFAS is the faceplugin liveness model's bona fide probability
	// (a MiniFASNet-style network on a 2.7x face crop), valid when
	// HasMiniFAS is set (the model loads with the mfn512 recogniser).
	// Unlike Real and Live it separates printed-photo attacks
	// (docs/face-accuracy.md).
	MiniFAS    float32 `json:"minifas,omitempty"`
	HasMiniFAS bool    `json:"has_minifas,omitempty"`
}

// Min is the least of the available scores: the conservative passive PAD
// score (eKYC compares it with its policy's threshold).
func (l Liveness) Min() float32 {
	m := min(l.Real, l.Live)
	if l.HasMiniFAS {
		m = min(m, l.MiniFAS)
	}
	return m
}

// Face is one analysed face.
type Face struct {
	Box       Box       // detector box, image pixels
	Score     float32   // detector confidence in [0, 1]
	Fallback  bool      // found only below the normal detection threshold
	Landmarks [68]Point // iBUG 68-point layout, image pixels
	Quality   Quality
	Liveness  Liveness
	Embedding Template
	Model     string // identifier of detector+landmarks+alignment+embedder
}

// LogValue keeps biometric data (landmarks, embedding) out of logs.
func (f Face) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("box", f.Box), slog.Float64("score", float64(f.Score)),
		slog.String("model", f.Model), slog.String("landmarks", "[redacted]"),
		slog.Any("embedding", f.Embedding))
}

var _ slog.LogValuer = Face{}

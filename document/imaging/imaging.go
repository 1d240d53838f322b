package imaging

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
)

// Sentinel errors. Quality problems are not errors: they are failed checks
// in a report. Errors mean the input could not be examined at all.
var (
	// ErrImage: a frame is missing or empty.
	ErrImage = errors.New("imaging: no image")
	// ErrTooLarge: a frame exceeds Config.MaxSide or Config.MaxPixels.
	ErrTooLarge = errors.New("imaging: image too large")
	// ErrConfig: the configuration is invalid or a required component
	// (the face finder) is missing.
	ErrConfig = errors.New("imaging: invalid configuration")
	// ErrFaceFinder: the face finder failed (not: found no face).
	ErrFaceFinder = errors.New("imaging: face finder failed")
)

// FrameKind names what a frame must show.
type FrameKind string

// Frame kinds of method ホ.
const (
	Front FrameKind = "front" // the face of the document, with the portrait
	Back  FrameKind = "back"  // the reverse side
	Tilt  FrameKind = "tilt"  // the document tilted so that its thickness shows
)

// Status is a check's outcome.
type Status string

// Outcomes. Refer means automation cannot decide and a reviewer must look;
// it is never a silent pass.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Refer Status = "refer"
)

// worse returns the more severe of two statuses (fail > refer > pass).
func worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case Pass:
			return 0
		case Refer:
			return 1
		}
		return 2 // Fail, and anything unknown
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Check is one automated check: a measured value, the limit it was held
// to, and a reason a reviewer can read. Reasons never contain personal data.
type Check struct {
	Name   string  `json:"name"`
	Status Status  `json:"status"`
	Value  float64 `json:"value"`
	Limit  string  `json:"limit,omitempty"`
	Reason string  `json:"reason"`
}

// Check names.
const (
	CheckSize         = "image_size"
	CheckFound        = "document_found"
	CheckInFrame      = "document_in_frame"
	CheckFill         = "document_fill"
	CheckAspect       = "aspect_ratio"
	CheckSkew         = "perspective_skew"
	CheckResolution   = "resolution"
	CheckBlur         = "blur"
	CheckExposure     = "exposure"
	CheckContrast     = "contrast"
	CheckGlare        = "glare"
	CheckPortrait     = "portrait"
	CheckDuplicate    = "not_duplicate"
	CheckSameDocument = "same_document"
	CheckTilted       = "tilted"
	CheckPoseDiffers  = "tilt_differs_from_front"
	CheckSidesDiffer  = "front_back_differ"
	CheckThickness    = "thickness_band"
	CheckAllFrames    = "frames_present"
)

// FaceBox is a face found by a FaceFinder, in image pixels.
type FaceBox struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	W     float64 `json:"w"`
	H     float64 `json:"h"`
	Score float64 `json:"score"` // detector confidence in [0, 1]
	// Weak: found only below the face engine's normal detection threshold
	// (its fallback for faces it under-scores). A weak face never passes
	// as a document's portrait: a card without a photo must not.
	Weak bool `json:"weak,omitempty"`
}

func (b FaceBox) centre() Point { return Point{b.X + b.W/2, b.Y + b.H/2} }

// FaceFinder finds faces in an image. It returns every face it finds (none
// is not an error), with boxes in img's pixel coordinates relative to
// img.Bounds().Min. An error means the finder could not run. The face
// engine satisfies it through the adapter in document/imaging/faceadapt.
type FaceFinder interface {
	FindFaces(ctx context.Context, img image.Image) ([]FaceBox, error)
}

// Config holds limits and thresholds. DefaultConfig documents each value;
// docs/document-images.md explains how they were chosen.
type Config struct {
	// Intake limits: larger frames are refused with ErrTooLarge.
	MaxSide   int
	MaxPixels int
	// MinSide: shorter frames fail CheckSize.
	MinSide int

	MinFill, MaxFill float64 // card area / frame area
	MinMarginFrac    float64 // corner distance to the frame border / shorter frame side
	CardAspect       float64 // true width/height (ID-1: 85.60/53.98)
	AspectTol        float64 // relative tolerance on Quad.Aspect for front and back
	MaxFlatSkewDeg   float64 // front and back: largest corner-angle deviation
	MaxFlatKeystone  float64 // front and back: largest Quad.Keystone
	MinWidthPx       float64 // pixels across the card (Quad.WidthPx)
	MaxBlur          float64 // Crete blur metric on the rectified card, 0 sharp .. 1 flat
	MinDetail        float64 // mean absolute neighbour difference below which blur cannot be judged
	MinMean, MaxMean float64 // mean luma of the card
	MinStdDev        float64 // luma standard deviation of the card
	MaxClipDark      float64 // fraction of card pixels at luma <= 8
	MaxClipBright    float64 // fraction of card pixels at luma >= 250
	MaxGlareBlob     float64 // largest saturated blob / card area
	MinPortraitFrac  float64 // face box height / card height, lower bound
	MaxPortraitFrac  float64 // upper bound
	MinPortraitPx    float64 // face box height in pixels

	// Cross-frame thresholds.
	MinTiltKeystone  float64 // tilt frame: Keystone at or above, or
	MinTiltSkewDeg   float64 // CornerSkew at or above
	MinPoseDistance  float64 // tilt vs front: Procrustes distance of outlines
	SameDocNCC       float64 // rectified-card correlation at or above: same document
	DifferentDocNCC  float64 // below: a different document (between: refer)
	NearDuplicateNCC float64 // whole-frame thumbnail correlation at or above: the same picture
}

// DefaultConfig returns the thresholds used in production unless a
// deployment overrides them.
func DefaultConfig() Config {
	return Config{
		MaxSide:          4096,
		MaxPixels:        4096 * 4096,
		MinSide:          480,
		MinFill:          0.20,
		MaxFill:          0.95,
		MinMarginFrac:    0.01,
		CardAspect:       85.60 / 53.98,
		AspectTol:        0.08,
		MaxFlatSkewDeg:   8,
		MaxFlatKeystone:  0.10,
		MinWidthPx:       600,
		MaxBlur:          0.55,
		MinDetail:        0.8,
		MinMean:          60,
		MaxMean:          215,
		MinStdDev:        18,
		MaxClipDark:      0.10,
		MaxClipBright:    0.05,
		MaxGlareBlob:     0.01,
		MinPortraitFrac:  0.15,
		MaxPortraitFrac:  0.80,
		MinPortraitPx:    60,
		MinTiltKeystone:  0.06,
		MinTiltSkewDeg:   5,
		MinPoseDistance:  0.03,
		SameDocNCC:       0.80,
		DifferentDocNCC:  0.50,
		NearDuplicateNCC: 0.97,
	}
}

func (c Config) validate() error {
	switch {
	case c.MaxSide <= 0 || c.MaxPixels <= 0 || c.MinSide <= 0 || c.MinSide > c.MaxSide:
		return fmt.Errorf("%w: size limits %d..%d px, %d pixels", ErrConfig, c.MinSide, c.MaxSide, c.MaxPixels)
	case !(c.MinFill > 0 && c.MinFill < c.MaxFill && c.MaxFill <= 1):
		return fmt.Errorf("%w: fill %g..%g", ErrConfig, c.MinFill, c.MaxFill)
	case !(c.CardAspect > 1 && c.AspectTol > 0):
		return fmt.Errorf("%w: aspect %g ± %g", ErrConfig, c.CardAspect, c.AspectTol)
	case !(c.MaxBlur > 0 && c.MaxBlur < 1):
		return fmt.Errorf("%w: max blur %g", ErrConfig, c.MaxBlur)
	case !(c.MinMean < c.MaxMean):
		return fmt.Errorf("%w: mean %g..%g", ErrConfig, c.MinMean, c.MaxMean)
	case !(c.DifferentDocNCC < c.SameDocNCC && c.SameDocNCC < c.NearDuplicateNCC && c.NearDuplicateNCC <= 1):
		return fmt.Errorf("%w: correlation thresholds %g < %g < %g", ErrConfig, c.DifferentDocNCC, c.SameDocNCC, c.NearDuplicateNCC)
	case !(c.MinPortraitFrac < c.MaxPortraitFrac):
		return fmt.Errorf("%w: portrait fraction %g..%g", ErrConfig, c.MinPortraitFrac, c.MaxPortraitFrac)
	case !(c.MinTiltKeystone > 0 && c.MinTiltSkewDeg > 0 && c.MinPoseDistance > 0):
		return fmt.Errorf("%w: tilt thresholds must be positive", ErrConfig)
	}
	return nil
}

// Checker runs the checks. It is safe for concurrent use.
type Checker struct {
	cfg   Config
	faces FaceFinder
}

// New returns a Checker. The face finder is required: without it the
// portrait cannot be looked for, and that must be a start-up error, not a
// skipped check.
func New(cfg Config, faces FaceFinder) (*Checker, error) {
	if faces == nil {
		return nil, fmt.Errorf("%w: a face finder is required", ErrConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Checker{cfg: cfg, faces: faces}, nil
}

// Set is the frames of one method-ホ capture. Images are personal data:
// Set redacts itself in logs.
type Set struct {
	Front, Back, Tilt image.Image
}

// LogValue implements slog.LogValuer without revealing the images.
func (s Set) LogValue() slog.Value {
	d := func(m image.Image) string {
		if m == nil {
			return "absent"
		}
		return fmt.Sprintf("[image %dx%d redacted]", m.Bounds().Dx(), m.Bounds().Dy())
	}
	return slog.GroupValue(slog.String("front", d(s.Front)), slog.String("back", d(s.Back)), slog.String("tilt", d(s.Tilt)))
}

var _ slog.LogValuer = Set{}

package face

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrModels: the model folder is missing, incomplete, or a model cannot run
// in this build.
var ErrModels = errors.New("face: models unavailable")

// LoadOptions select the pipeline Load builds.
type LoadOptions struct {
	// Detector is "blazeface" (human's BlazeFace, the default: as accurate
	// as SSD on LFW with the zoom-out passes and about 6x cheaper, see
	// docs/face-accuracy.md), "ssd" (face-api SsdMobilenetv1) or "tiny"
	// (face-api TinyFaceDetector).
	Detector string
	// Recognizer is "mfn512" (the faceplugin MobileFaceNet, ArcFace-style,
	// 512-D, on the five-point 112x112 chip) or "resnet128" (face-api's
	// dlib ResNet, 128-D, on the dlib chip). Empty means DefaultRecognizer.
	Recognizer string
	Config     Config
}

// DefaultRecognizer is the recogniser Load uses unless told otherwise,
// chosen by measurement on East Asian faces (docs/face-accuracy.md).
const DefaultRecognizer = "mfn512"

// Load builds an Engine from a model folder installed by `madoguchi models
// install` (see package face/models).
func Load(dir string, opt LoadOptions) (*Engine, error) {
	if opt.Detector == "" {
		opt.Detector = "blazeface"
	}
	switch opt.Detector {
	case "ssd", "tiny", "blazeface":
	default:
		return nil, fmt.Errorf("%w: unknown detector %q (want ssd, tiny or blazeface)", ErrConfig, opt.Detector)
	}
	if opt.Recognizer == "" {
		opt.Recognizer = DefaultRecognizer
	}
	switch opt.Recognizer {
	case "resnet128", "mfn512":
	default:
		return nil, fmt.Errorf("%w: unknown recognizer %q (want mfn512 or resnet128)", ErrConfig, opt.Recognizer)
	}
	if st, err := os.Stat(filepath.Join(dir, "face-api")); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s has no face-api folder; run 'madoguchi models install'", ErrModels, dir)
	}
	st, err := loadStages(dir, opt.Detector, opt.Recognizer)
	if err != nil {
		return nil, err
	}
	return New(st, opt.Config)
}

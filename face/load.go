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
	Config   Config
}

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
	if st, err := os.Stat(filepath.Join(dir, "face-api")); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%w: %s has no face-api folder; run 'madoguchi models install'", ErrModels, dir)
	}
	st, err := loadStages(dir, opt.Detector)
	if err != nil {
		return nil, err
	}
	return New(st, opt.Config)
}

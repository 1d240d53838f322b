package face

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Recognizers lists the recognisers Load can build, the default first.
func Recognizers() []string { return []string{"mfn512", "resnet128"} }

// normalize fills in the default detector and recogniser and refuses
// unknown names.
func (opt LoadOptions) normalize() (LoadOptions, error) {
	if opt.Detector == "" {
		opt.Detector = "blazeface"
	}
	switch opt.Detector {
	case "ssd", "tiny", "blazeface":
	default:
		return opt, fmt.Errorf("%w: unknown detector %q (want ssd, tiny or blazeface)", ErrConfig, opt.Detector)
	}
	if opt.Recognizer == "" {
		opt.Recognizer = DefaultRecognizer
	}
	if !slices.Contains(Recognizers(), opt.Recognizer) {
		return opt, fmt.Errorf("%w: unknown recognizer %q (want %s)", ErrConfig, opt.Recognizer, strings.Join(Recognizers(), " or "))
	}
	return opt, nil
}

// ModelID returns the Engine.Model that Load builds with opt, without
// reading any weights: a server checks its calibration and fraud
// thresholds against it at start, before the models are loaded.
func ModelID(opt LoadOptions) (string, error) {
	opt, err := opt.normalize()
	if err != nil {
		return "", err
	}
	align := opt.Config.Align
	if align == AlignAuto {
		align = AlignDlibFlip
		if opt.Recognizer == "mfn512" {
			align = AlignArcFaceFlip
		}
	}
	if align.arcFace() != (opt.Recognizer == "mfn512") {
		return "", fmt.Errorf("%w: alignment %s does not fit recognizer %s", ErrConfig, align, opt.Recognizer)
	}
	return stagesName(opt.Detector, opt.Recognizer) + "+" + align.String(), nil
}

// ModelFolders returns the folders of the model directory (as `madoguchi
// models install` lays them out, one per package) whose weights Load reads
// with opt.
func ModelFolders(opt LoadOptions) ([]string, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
	}
	// face-api: the 68-point landmarks (and ResNet, SSD, Tiny); human:
	// BlazeFace and the PAD models; faceplugin: mfn512 and MiniFAS.
	out := []string{"face-api", "human"}
	if opt.Recognizer == "mfn512" {
		out = append(out, "faceplugin")
	}
	return out, nil
}

// Load builds an Engine from a model folder installed by `madoguchi models
// install` (see package face/models).
func Load(dir string, opt LoadOptions) (*Engine, error) {
	opt, err := opt.normalize()
	if err != nil {
		return nil, err
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

package face

import (
	"context"
	"fmt"
	"image"
	"math"
	"path/filepath"

	"github.com/madoguchi/madoguchi/face/faceapi"
	"github.com/madoguchi/madoguchi/face/human"
)

// faceAPIVersion is the face-api release whose weights the stages run.
const faceAPIVersion = "1.7.15"

// landmarks68 adapts faceapi.Landmarks68 to Landmarker.
type landmarks68 struct{ m *faceapi.Landmarks68 }

func (l landmarks68) Landmarks(ctx context.Context, img *image.RGBA, b Box) ([68]Point, error) {
	pts, err := l.m.Detect(ctx, img, [4]float32(b))
	var out [68]Point
	for i, p := range pts {
		out[i] = Point(p)
	}
	return out, err
}

// resnet128 adapts faceapi.Recognizer to Embedder and boxEmbedder.
type resnet128 struct{ m *faceapi.Recognizer }

func (r resnet128) Embed(ctx context.Context, chip *image.RGBA) ([]float32, error) {
	return r.m.Embed(ctx, chip)
}

// EmbedBox embeds face-api's box crop from the float image, exactly as
// face-api does (no intermediate 8-bit chip).
func (r resnet128) EmbedBox(ctx context.Context, img *image.RGBA, b Box) ([]float32, error) {
	return r.m.EmbedBox(ctx, img, [4]float32(b))
}

var (
	_ Landmarker  = landmarks68{}
	_ Embedder    = resnet128{}
	_ boxEmbedder = resnet128{}
)

// loadFaceAPIRest loads the landmark and recognition networks shared by
// every face-api pipeline.
func loadFaceAPIRest(dir string) (Landmarker, Embedder, error) {
	fa := filepath.Join(dir, "face-api")
	lm, err := faceapi.LoadLandmarks68(fa)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: landmarks: %v", ErrModels, err)
	}
	rec, err := faceapi.LoadRecognizer(fa)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: recognizer: %v", ErrModels, err)
	}
	return landmarks68{lm}, resnet128{rec}, nil
}

// facepluginVersion is the faceplugin-face-recognition-js release whose
// ONNX models the mfn512 recogniser runs.
const facepluginVersion = "0.0.1"

// loadMFN512 loads the faceplugin recogniser: input [1,3,112,112] RGB,
// (x-127)/128 as the package's own preprocessing, output 512-D.
func loadMFN512(dir string) (Embedder, error) {
	r, err := loadONNXRecognizer(filepath.Join(dir, "faceplugin", "fr_feature.onnx"), ArcFaceChipSize, 127, 128)
	if err != nil {
		return nil, fmt.Errorf("%w: mfn512 recognizer: %v", ErrModels, err)
	}
	return r, nil
}

// stagesName is the Stages.Name loadStages gives a pipeline.
func stagesName(detector, recognizer string) string {
	if recognizer == "mfn512" {
		return fmt.Sprintf("faceapi-%s/lm68/mfn512@faceplugin-%s", detector, facepluginVersion)
	}
	return fmt.Sprintf("faceapi-%s/lm68/resnet128@%s", detector, faceAPIVersion)
}

// loadStages wires the networks of face/faceapi, face/human and the
// faceplugin recogniser into Stages.
func loadStages(dir, detector, recognizer string) (Stages, error) {
	var lm Landmarker
	var emb Embedder
	var err error
	name := stagesName(detector, recognizer)
	if recognizer == "mfn512" {
		m, lerr := faceapi.LoadLandmarks68(filepath.Join(dir, "face-api"))
		if lerr != nil {
			return Stages{}, fmt.Errorf("%w: landmarks: %v", ErrModels, lerr)
		}
		lm = landmarks68{m}
		if emb, err = loadMFN512(dir); err != nil {
			return Stages{}, err
		}
	} else if lm, emb, err = loadFaceAPIRest(dir); err != nil {
		return Stages{}, err
	}
	det, err := loadDetector(dir, detector)
	if err != nil {
		return Stages{}, err
	}
	pad, err := loadPAD(dir, recognizer)
	if err != nil {
		return Stages{}, err
	}
	return Stages{
		Detector: det, Landmarker: lm, Embedder: emb, PAD: pad, Name: name,
	}, nil
}

// humanPAD runs human's antispoof and liveness models on human's crop: the
// face box enlarged 1.4x about its centre, squared, cut and resized to 192
// (outside the image is black), as human's cutAndResize.
//
// mini, if set, is the faceplugin liveness model, scored on its own crop
// of the face box.
type humanPAD struct {
	anti *human.Antispoof
	live *human.Liveness
	mini *miniFAS
}

func (p humanPAD) Liveness(ctx context.Context, img *image.RGBA, b Box) (Liveness, error) {
	side := 1.4 * max(b[2], b[3])
	cx, cy := b[0]+b[2]/2, b[1]+b[3]/2
	x0, y0 := float32(math.Round(float64(cx-side/2))), float32(math.Round(float64(cy-side/2)))
	x1, y1 := float32(math.Round(float64(cx+side/2))), float32(math.Round(float64(cy+side/2)))
	return p.LivenessCrop(ctx, img, b, Box{x0, y0, x1 - x0, y1 - y0})
}

// LivenessCrop scores the region c (human's crop box, image pixels) with
// human's models, and the face box b with the faceplugin model.
func (p humanPAD) LivenessCrop(ctx context.Context, img *image.RGBA, b, c Box) (Liveness, error) {
	crop, err := human.Crop(img, [4]float32(c), 192)
	if err != nil {
		return Liveness{}, err
	}
	real, err := p.anti.Score(ctx, crop)
	if err != nil {
		return Liveness{}, err
	}
	live, err := p.live.Score(ctx, crop)
	if err != nil {
		return Liveness{}, err
	}
	l := Liveness{Available: true, Real: real, Live: live}
	if p.mini != nil {
		if l.MiniFAS, err = p.mini.Score(ctx, img, b); err != nil {
			return Liveness{}, err
		}
		l.HasMiniFAS = true
	}
	return l, nil
}

func loadPAD(dir, recognizer string) (PAD, error) {
	hd := filepath.Join(dir, "human")
	anti, err := human.LoadAntispoof(hd)
	if err != nil {
		return nil, fmt.Errorf("%w: antispoof: %v", ErrModels, err)
	}
	live, err := human.LoadLiveness(hd)
	if err != nil {
		return nil, fmt.Errorf("%w: liveness: %v", ErrModels, err)
	}
	pad := humanPAD{anti: anti, live: live}
	if recognizer == "mfn512" { // the faceplugin package is required then
		if pad.mini, err = loadMiniFAS(dir); err != nil {
			return nil, err
		}
	}
	return pad, nil
}

// blazeface adapts human.BlazeFace to Detector. human reports its crop box
// (the detection enlarged 1.4x and squared); the landmark net expects a
// tight face box, so the box is shrunk back by 1.4 about its centre.
type blazeface struct{ m *human.BlazeFace }

func (d blazeface) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	faces, err := d.m.Detect(ctx, img)
	if err != nil {
		return nil, err
	}
	var out []Detection
	for _, f := range faces {
		if f.Score < minScore {
			continue
		}
		w, h := f.Box[2]/1.4, f.Box[3]/1.4
		cx, cy := f.Box[0]+f.Box[2]/2, f.Box[1]+f.Box[3]/2
		out = append(out, Detection{Box: Box{cx - w/2, cy - h/2, w, h}, Score: f.Score, Crop: Box(f.Box)})
	}
	return out, nil
}

// faceapiDetector adapts face-api's detectors (faceapi.SSD, and
// faceapi.Tiny with its 416 px input) to Detector.
type faceapiDetector struct {
	m interface {
		Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]faceapi.Detection, error)
	}
}

func (d faceapiDetector) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	dets, err := d.m.Detect(ctx, img, minScore)
	out := make([]Detection, len(dets))
	for i, x := range dets {
		out[i] = Detection{Box: Box(x.Box), Score: x.Score}
	}
	return out, err
}

// loadDetector loads the named detector; one that is not in this build is
// an ErrModels, never a substitute.
func loadDetector(dir, name string) (Detector, error) {
	switch name {
	case "ssd":
		m, err := faceapi.LoadSSD(filepath.Join(dir, "face-api"))
		if err != nil {
			return nil, fmt.Errorf("%w: ssd: %v", ErrModels, err)
		}
		return faceapiDetector{m}, nil
	case "tiny":
		m, err := faceapi.LoadTiny(filepath.Join(dir, "face-api"))
		if err != nil {
			return nil, fmt.Errorf("%w: tiny: %v", ErrModels, err)
		}
		return faceapiDetector{m}, nil
	case "blazeface":
		m, err := human.LoadBlazeFace(filepath.Join(dir, "human"))
		if err != nil {
			return nil, fmt.Errorf("%w: blazeface: %v", ErrModels, err)
		}
		return blazeface{m}, nil
	}
	return nil, fmt.Errorf("%w: the %s detector is not in this build of face/faceapi yet", ErrModels, name)
}

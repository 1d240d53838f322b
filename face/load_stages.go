package face

import (
	"context"
	"fmt"
	"image"
	"path/filepath"

	"github.com/madoguchi/madoguchi/face/faceapi"
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

// loadStages wires the networks of face/faceapi into Stages.
func loadStages(dir, detector string) (Stages, error) {
	lm, emb, err := loadFaceAPIRest(dir)
	if err != nil {
		return Stages{}, err
	}
	det, err := loadDetector(dir, detector)
	if err != nil {
		return Stages{}, err
	}
	return Stages{
		Detector: det, Landmarker: lm, Embedder: emb,
		Name: fmt.Sprintf("faceapi-%s/lm68/resnet128@%s", detector, faceAPIVersion),
	}, nil
}

// ssd adapts faceapi.SSD to Detector.
type ssd struct{ m *faceapi.SSD }

func (d ssd) Detect(ctx context.Context, img *image.RGBA, minScore float32) ([]Detection, error) {
	dets, err := d.m.Detect(ctx, img, minScore)
	out := make([]Detection, len(dets))
	for i, x := range dets {
		out[i] = Detection{Box: Box(x.Box), Score: x.Score}
	}
	return out, err
}

// loadDetector loads the named detector. The detector networks are being
// ported in face/faceapi and face/human; one that is not in this build is
// an ErrModels, never a substitute.
func loadDetector(dir, name string) (Detector, error) {
	switch name {
	case "ssd":
		m, err := faceapi.LoadSSD(filepath.Join(dir, "face-api"))
		if err != nil {
			return nil, fmt.Errorf("%w: ssd: %v", ErrModels, err)
		}
		return ssd{m}, nil
	}
	return nil, fmt.Errorf("%w: the %s detector is not in this build of face/faceapi yet", ErrModels, name)
}

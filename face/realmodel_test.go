package face

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/face/internal/facetest"
)

// goldenFace is one face recorded by the reference harness
// (tools/face-reference) running face-api under Node.
type goldenFace struct {
	File      string
	Box       Box
	Embedding []float32
}

// pipelineGolden is what the reference harness recorded per image
// (testdata/golden/pipeline.json, written by tools/face-reference).
type pipelineGolden struct {
	Images []struct {
		File    string `json:"file"`
		FaceAPI struct {
			Box       [4]float32   `json:"box"`
			Embedding []float32    `json:"embedding"`
			Landmarks [][2]float32 `json:"landmarks68"`
			AlignBox  [4]float32   `json:"alignBox"`
		} `json:"faceapi"`
		Human struct {
			NumFaces int        `json:"numFaces"`
			Box      [4]float32 `json:"box"`
			Real     float32    `json:"real"`
			Live     float32    `json:"live"`
		} `json:"human"`
	} `json:"images"`
}

func readPipelineGolden(t *testing.T) pipelineGolden {
	t.Helper()
	var g pipelineGolden
	b, err := os.ReadFile("testdata/golden/pipeline.json")
	if err != nil {
		t.Skipf("no goldens: %v", err)
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func readGolden(t *testing.T) []goldenFace {
	t.Helper()
	g := readPipelineGolden(t)
	var out []goldenFace
	for _, im := range g.Images {
		if len(im.FaceAPI.Embedding) == 128 {
			out = append(out, goldenFace{im.File, Box(im.FaceAPI.Box), im.FaceAPI.Embedding})
		}
	}
	if testing.Short() && len(out) > 2 {
		out = out[:2] // CI's -race run: two images are enough to test the wiring
	}
	return out
}

func goldenImage(t *testing.T, name string) *image.RGBA {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/golden/images", name))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := imageio.Decode(b, imageio.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// boxDetector returns a fixed box: the reference's own detection, so that
// the stages after detection are compared like for like.
type boxDetector struct{ b Box }

func (d boxDetector) Detect(context.Context, *image.RGBA, float32) ([]Detection, error) {
	return []Detection{{Box: d.b, Score: 1}}, nil
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// realStages loads the real landmark and recognition networks.
func realStages(t *testing.T) (Landmarker, Embedder) {
	t.Helper()
	lm, emb, err := loadFaceAPIRest(facetest.Models(t))
	if err != nil {
		t.Fatal(err)
	}
	return lm, emb
}

// realEngine runs from the reference's detection (det), so without the
// engine's own zoom-out passes.
func realEngine(t *testing.T, lm Landmarker, emb Embedder, det Detector, align Alignment) *Engine {
	t.Helper()
	e, err := New(Stages{Detector: det, Landmarker: lm, Embedder: emb, Name: "faceapi-golden/lm68/resnet128"}, Config{Align: align, NoZoomOut: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestEngineReproducesFaceAPI: from the reference's detection box on, the
// engine's face-api path reproduces face-api's embedding.
func TestEngineReproducesFaceAPI(t *testing.T) {
	lm, emb := realStages(t)
	for _, g := range readGolden(t) {
		e := realEngine(t, lm, emb, boxDetector{g.Box}, AlignFaceAPI)
		faces, err := e.Analyze(context.Background(), goldenImage(t, g.File))
		if err != nil || len(faces) != 1 {
			t.Fatalf("Analyze(%s) = %d faces, %v", g.File, len(faces), err)
		}
		if c := cosine(faces[0].Embedding.Values(), g.Embedding); c < 0.999 {
			t.Errorf("Analyze(%s, faceapi-box) embedding cosine to reference = %.5f, want >= 0.999", g.File, c)
		}
	}
}

// TestDlibAlignmentSameFace: the dlib chip gives an embedding close to
// face-api's for the same face, and the same person in different framings
// and in grey stays above the reference's FMR 1e-3 threshold (0.9267).
func TestDlibAlignmentSameFace(t *testing.T) {
	tpl := map[string]Template{}
	lm, emb := realStages(t)
	for _, g := range readGolden(t) {
		e := realEngine(t, lm, emb, boxDetector{g.Box}, AlignDlib)
		faces, err := e.Analyze(context.Background(), goldenImage(t, g.File))
		if err != nil || len(faces) != 1 {
			t.Fatalf("Analyze(%s) = %d faces, %v", g.File, len(faces), err)
		}
		c := cosine(faces[0].Embedding.Values(), g.Embedding)
		t.Logf("%s: dlib-chip vs face-api box cosine %.4f, quality %+v", g.File, c, faces[0].Quality)
		tpl[g.File] = faces[0].Embedding
	}
	same := []string{"astronaut_512.png", "astronaut_face_250.png", "astronaut_gray_250.png", "astronaut_wide_256x170.png"}
	for i := range same {
		for j := i + 1; j < len(same); j++ {
			a, ok1 := tpl[same[i]]
			b, ok2 := tpl[same[j]]
			if !ok1 || !ok2 {
				continue
			}
			s, err := Compare(a, b)
			t.Logf("Compare(%s, %s) = %.4f", same[i], same[j], s)
			if err != nil || s < 0.9267 {
				t.Errorf("Compare(%s, %s) = %.4f, %v; want > 0.9267 (same person)", same[i], same[j], s, err)
			}
		}
	}
}

// TestLoadEndToEnd runs the default pipeline (BlazeFace, landmarks,
// five-point chip, mfn512, PAD with the faceplugin liveness model) on the
// two-face test image.
func TestLoadEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every model")
	}
	e, err := Load(facetest.Models(t), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	faces, err := e.Analyze(context.Background(), goldenImage(t, "two_faces_400x250.png"))
	if err != nil || len(faces) != 2 {
		t.Fatalf("Analyze(two faces) = %d faces, %v; want 2", len(faces), err)
	}
	for _, f := range faces {
		l := f.Liveness
		if !l.Available || !l.HasMiniFAS || l.Real < 0 || l.Real > 1 || l.Live < 0 || l.Live > 1 || l.MiniFAS < 0 || l.MiniFAS > 1 {
			t.Errorf("face %v liveness %+v, want three scores in [0, 1]", f.Box, f.Liveness)
		}
		if f.Model != "faceapi-blazeface/lm68/mfn512@faceplugin-0.0.1+arcface5-flip" || f.Embedding.Len() != 512 {
			t.Errorf("face model %q", f.Model)
		}
	}
	if d, err := e.Decide(0.99); d != Refer || err == nil {
		t.Errorf("Decide without calibration = %v, %v; want refer and an error", d, err)
	}
}

// TestLoadRefusesBrokenModels: a truncated weight file is a load error.
func TestLoadRefusesBrokenModels(t *testing.T) {
	src := facetest.Models(t)
	dir := t.TempDir()
	for _, sub := range []string{"face-api", "human", "faceplugin"} {
		ents, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		for _, en := range ents {
			b, err := os.ReadFile(filepath.Join(src, sub, en.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if en.Name() == "face_recognition_model.bin" || en.Name() == "fr_feature.onnx" {
				b = b[:len(b)/2]
			}
			os.WriteFile(filepath.Join(dir, sub, en.Name()), b, 0o644)
		}
	}
	for _, rec := range []string{"mfn512", "resnet128"} {
		if _, err := Load(dir, LoadOptions{Recognizer: rec}); !errors.Is(err, ErrModels) {
			t.Errorf("Load(truncated %s) = %v, want ErrModels", rec, err)
		}
	}
	if _, err := Load(t.TempDir(), LoadOptions{}); !errors.Is(err, ErrModels) {
		t.Errorf("Load(empty folder) = %v, want ErrModels", err)
	}
}

// TestLoadDetectors: every detector Load offers runs the whole pipeline and
// finds both faces of the two-face test image; its name is in the model id.
func TestLoadDetectors(t *testing.T) {
	if testing.Short() {
		t.Skip("loads every model")
	}
	for _, det := range []string{"ssd", "tiny", "blazeface"} {
		t.Run(det, func(t *testing.T) {
			e, err := Load(facetest.Models(t), LoadOptions{Detector: det})
			if err != nil {
				t.Fatal(err)
			}
			faces, err := e.Analyze(context.Background(), goldenImage(t, "two_faces_400x250.png"))
			if err != nil || len(faces) != 2 {
				t.Fatalf("Analyze(two faces) with %s = %d faces, %v; want 2", det, len(faces), err)
			}
			if !strings.Contains(faces[0].Model, det) {
				t.Errorf("model id %q does not name the %s detector", faces[0].Model, det)
			}
		})
	}
	if _, err := Load(facetest.Models(t), LoadOptions{Detector: "yolo"}); !errors.Is(err, ErrConfig) {
		t.Errorf("Load(unknown detector) = %v, want ErrConfig", err)
	}
}

// TestSSDPipelineReproducesFaceAPI: with one detection pass and face-api's
// crop, the engine is face-api's SSD pipeline end to end: from the pixels
// to the same box and the same embedding as the reference.
func TestSSDPipelineReproducesFaceAPI(t *testing.T) {
	e, err := Load(facetest.Models(t), LoadOptions{Detector: "ssd", Recognizer: "resnet128", Config: Config{Align: AlignFaceAPI, NoZoomOut: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range readGolden(t) {
		faces, err := e.Analyze(context.Background(), goldenImage(t, g.File))
		if err != nil || len(faces) == 0 {
			t.Fatalf("Analyze(%s) = %d faces, %v", g.File, len(faces), err)
		}
		best, bestIoU := 0, 0.0
		for i, f := range faces {
			if v := iou(f.Box, g.Box); v > bestIoU {
				best, bestIoU = i, v
			}
		}
		if bestIoU < 0.95 {
			t.Errorf("%s: best box IoU with the reference %.3f, want >= 0.95", g.File, bestIoU)
			continue
		}
		if c := cosine(faces[best].Embedding.Values(), g.Embedding); c < 0.999 {
			t.Errorf("%s: embedding cosine to the reference %.5f, want >= 0.999", g.File, c)
		}
	}
}

// TestPADReproducesHuman: with BlazeFace and one detection pass, the
// engine's antispoof and liveness scores are human's own, end to end from
// the pixels: the PAD models score the crop human cuts (Detection.Crop).
func TestPADReproducesHuman(t *testing.T) {
	e, err := Load(facetest.Models(t), LoadOptions{Detector: "blazeface", Config: Config{NoZoomOut: true}})
	if err != nil {
		t.Fatal(err)
	}
	g := readPipelineGolden(t)
	n := 0
	for _, im := range g.Images {
		if im.Human.NumFaces == 0 {
			continue
		}
		faces, err := e.Analyze(context.Background(), goldenImage(t, im.File))
		if err != nil || len(faces) == 0 {
			t.Fatalf("Analyze(%s) = %d faces, %v", im.File, len(faces), err)
		}
		// the reference's face: the one whose human crop it recorded
		best, bestIoU := 0, 0.0
		for i, f := range faces {
			side := 1.4 * max(f.Box[2], f.Box[3])
			c := Box{f.Box[0] + f.Box[2]/2 - side/2, f.Box[1] + f.Box[3]/2 - side/2, side, side}
			if v := iou(c, Box(im.Human.Box)); v > bestIoU {
				best, bestIoU = i, v
			}
		}
		l := faces[best].Liveness
		if !l.Available || math.Abs(float64(l.Real-im.Human.Real)) > 0.01 || math.Abs(float64(l.Live-im.Human.Live)) > 0.01 {
			t.Errorf("%s: PAD real %.4f live %.4f, reference %.4f %.4f (want within 0.01)", im.File, l.Real, l.Live, im.Human.Real, im.Human.Live)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no golden faces with PAD scores")
	}
}

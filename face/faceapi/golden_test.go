package faceapi

import (
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
)

// modelDir returns the face-api model folder from facetest.Models: the
// pinned, integrity-checked install ($MADOGUCHI_MODELS or the shared cache).
// Without models the test fails under CI=true and skips locally.
func modelDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(facetest.Models(t), "face-api")
}

const goldenDir = "../testdata/golden"

type goldenFaceAPI struct {
	NumFaces    int          `json:"numFaces"`
	Fallback    bool         `json:"fallback"`
	Score       float32      `json:"score"`
	Box         [4]float32   `json:"box"`
	Landmarks68 [][2]float32 `json:"landmarks68"`
	AlignBox    [4]float32   `json:"alignBox"`
	Embedding   []float32    `json:"embedding"`
}

type goldenImage struct {
	File   string `json:"file"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	SSD    []struct {
		Score float32    `json:"score"`
		Box   [4]float32 `json:"box"`
	} `json:"ssd"`
	Tiny []struct {
		Score float32    `json:"score"`
		Box   [4]float32 `json:"box"`
	} `json:"tiny"`
	FaceAPI goldenFaceAPI `json:"faceapi"`
}

func loadPipeline(t testing.TB) []goldenImage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Images []goldenImage `json:"images"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		// -short (CI with -race): the LFW-sized close-up and the two-face image only.
		var short []goldenImage
		for _, g := range p.Images {
			if g.File == "astronaut_face_250.png" || g.File == "two_faces_400x250.png" {
				short = append(short, g)
			}
		}
		return short
	}
	return p.Images
}

type goldenModels struct {
	FaceRecognition struct {
		Output []float32 `json:"output"`
	} `json:"face_recognition"`
	FaceLandmark68 struct {
		Output [][2]float32 `json:"output"`
	} `json:"face_landmark_68"`
}

func loadModelsGolden(t testing.TB) goldenModels {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(goldenDir, "models.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenModels
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func loadPNG(t testing.TB, name string) *image.RGBA {
	t.Helper()
	f, err := os.Open(filepath.Join(goldenDir, "images", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	r := image.NewRGBA(image.Rect(0, 0, m.Bounds().Dx(), m.Bounds().Dy()))
	draw.Draw(r, r.Bounds(), m, m.Bounds().Min, draw.Src)
	return r
}

// synthRGBA reproduces goldens.js synth(h, w, 0, 255) as an image.
func synthRGBA(h, w int) *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				m.Pix[y*m.Stride+4*x+c] = uint8((x*7 + y*13 + c*85 + ((x*y)%31)*3) % 256)
			}
			m.Pix[y*m.Stride+4*x+3] = 255
		}
	}
	return m
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

func iou(a, b [4]float32) float64 {
	x1, y1 := max(a[0], b[0]), max(a[1], b[1])
	x2, y2 := min(a[0]+a[2], b[0]+b[2]), min(a[1]+a[3], b[1]+b[3])
	inter := float64(max(x2-x1, 0) * max(y2-y1, 0))
	return inter / (float64(a[2]*a[3]+b[2]*b[3]) - inter)
}

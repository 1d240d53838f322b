package human

import (
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/madoguchi/madoguchi/face/internal/facetest"
	"github.com/madoguchi/madoguchi/face/nn"
)

const goldenDir = "../testdata/golden"

// modelDir returns the human model folder from facetest.Models: the pinned,
// integrity-checked install ($MADOGUCHI_MODELS or the shared cache). Without
// models the test fails under CI=true and skips locally.
func modelDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(facetest.Models(t), "human")
}

// synth reproduces goldens.js synth(h, w, lo, hi) as a [1,h,w,3] tensor.
func synth(h, w int, lo, hi float32) *nn.Tensor {
	t := nn.NewTensor(1, h, w, 3)
	i := 0
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				v := float32((x*7 + y*13 + c*85 + ((x*y)%31)*3) % 256)
				t.Data[i] = lo + (v/255)*(hi-lo)
				i++
			}
		}
	}
	return t
}

type goldenGraph struct {
	Outputs []struct {
		Shape []int     `json:"shape"`
		Data  []float32 `json:"data"`
	} `json:"outputs"`
}

func TestGraphModelsSynthGolden(t *testing.T) {
	dir := modelDir(t)
	b, err := os.ReadFile(filepath.Join(goldenDir, "models.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gold map[string]goldenGraph
	if err := json.Unmarshal(b, &gold); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file   string
		h      int
		lo, hi float32
		tol    float64 // relative to the output's max magnitude
	}{
		{"blazeface", 256, -1, 1, 1e-3},
		{"faceres", 224, 0, 255, 1e-3},
		{"antispoof", 128, 0, 1, 1e-3},
		{"liveness", 32, 0, 1, 1e-3},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m, err := loadModel(dir, tc.file+".json", tc.h)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := m.run(context.Background(), synth(tc.h, tc.h, tc.lo, tc.hi))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range gold[tc.file].Outputs {
				got, err := m.output(outs, len(w.Data))
				if err != nil {
					t.Fatalf("%s: no output like %v: %v", tc.file, w.Shape, err)
				}
				var scale, worst float64
				for _, v := range w.Data {
					scale = max(scale, math.Abs(float64(v)))
				}
				for i, v := range w.Data {
					worst = max(worst, math.Abs(float64(got.Data[i]-v)))
				}
				if worst > tc.tol*max(scale, 1) {
					t.Errorf("%s(synth) output %v: max abs difference %g, want <= %g", tc.file, w.Shape, worst, tc.tol*max(scale, 1))
				}
			}
		})
	}
}

type goldenHuman struct {
	NumFaces   int          `json:"numFaces"`
	FaceScore  float32      `json:"faceScore"`
	Keypoints5 [][2]float32 `json:"keypoints5"`
	Real       float32      `json:"real"`
	Live       float32      `json:"live"`
	Embedding  []float32    `json:"embedding"`
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

func TestPipelineGolden(t *testing.T) {
	dir := modelDir(t)
	bf, err := LoadBlazeFace(dir)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := LoadFaceRes(dir)
	if err != nil {
		t.Fatal(err)
	}
	as, err := LoadAntispoof(dir)
	if err != nil {
		t.Fatal(err)
	}
	lv, err := LoadLiveness(dir)
	if err != nil {
		t.Fatal(err)
	}
	fm, err := LoadFaceMesh(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(goldenDir, "pipeline.json"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Images []struct {
			File  string      `json:"file"`
			Human goldenHuman `json:"human"`
		} `json:"images"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, g := range p.Images {
		if testing.Short() && g.File != "astronaut_face_250.png" && g.File != "two_faces_400x250.png" {
			continue // -short (CI with -race): two images only
		}
		t.Run(g.File, func(t *testing.T) {
			img := loadPNG(t, g.File)
			faces, err := bf.Detect(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			// human keeps a BlazeFace detection only if FaceMesh scores it >= 0.2
			kept := 0
			for _, f := range faces {
				c, err := Crop(img, f.Box, CropSize)
				if err != nil {
					t.Fatal(err)
				}
				m, err := fm.Detect(ctx, c, f.Box)
				if err != nil {
					t.Fatal(err)
				}
				if m.Score >= MinFaceScore {
					kept++
				}
			}
			if kept != g.Human.NumFaces {
				t.Fatalf("Detect(%s) kept %d faces after the FaceMesh gate (of %d), want %d", g.File, kept, len(faces), g.Human.NumFaces)
			}
			if g.Human.NumFaces == 0 {
				return
			}
			for _, f := range faces {
				// Box is Raw enlarged 1.4x about its centre and squared (integer corners).
				side := 1.4 * max(f.Raw[2], f.Raw[3])
				if d := math.Abs(float64(f.Box[2] - side)); d > 1.01 {
					t.Errorf("Detect(%s): Box %v is not Raw %v enlarged 1.4x and squared", g.File, f.Box, f.Raw)
				}
			}
			best := faces[0]
			for _, f := range faces {
				if f.Box[2]*f.Box[3] > best.Box[2]*best.Box[3] {
					best = f
				}
			}
			crop, err := Crop(img, best.Box, CropSize)
			if err != nil {
				t.Fatal(err)
			}
			mesh, err := fm.Detect(ctx, crop, best.Box)
			if err != nil {
				t.Fatal(err)
			}
			// the golden face score is rounded to 0.01 by human
			if d := math.Abs(float64(mesh.Score - g.Human.FaceScore)); d > 0.0051+0.01 {
				t.Errorf("FaceMesh.Detect(%s).Score = %.4f, want %.2f", g.File, mesh.Score, g.Human.FaceScore)
			}
			mp := mesh.Points
			k5 := [5][2]float32{
				{(mp[33][0] + mp[133][0]) / 2, (mp[33][1] + mp[133][1]) / 2},
				{(mp[362][0] + mp[263][0]) / 2, (mp[362][1] + mp[263][1]) / 2},
				{mp[1][0], mp[1][1]}, {mp[61][0], mp[61][1]}, {mp[291][0], mp[291][1]},
			}
			tol := 0.01*float64(best.Box[2]) + 1 // human truncates mesh points to integers
			for i, w := range g.Human.Keypoints5 {
				if d := math.Hypot(float64(k5[i][0]-w[0]), float64(k5[i][1]-w[1])); d > tol {
					t.Errorf("FaceMesh keypoint %d of %s = %v, want %v (%.2f px > %.2f)", i, g.File, k5[i], w, d, tol)
				}
			}
			e, err := fr.Embed(ctx, crop)
			if err != nil {
				t.Fatal(err)
			}
			if c := cosine(e, g.Human.Embedding); c < 0.999 {
				t.Errorf("Embed(%s) cosine to reference = %.5f, want >= 0.999", g.File, c)
			}
			real, err := as.Score(ctx, crop)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(real - g.Human.Real)); d > 0.01 {
				t.Errorf("Antispoof.Score(%s) = %.4f, want %.4f ± 0.01", g.File, real, g.Human.Real)
			}
			live, err := lv.Score(ctx, crop)
			if err != nil {
				t.Fatal(err)
			}
			if d := math.Abs(float64(live - g.Human.Live)); d > 0.01 {
				t.Errorf("Liveness.Score(%s) = %.4f, want %.4f ± 0.01", g.File, live, g.Human.Live)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	dir := modelDir(t)
	as, err := LoadAntispoof(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []*nn.Tensor{nil, nn.NewTensor(1, 8, 8, 1), nn.NewTensor(2, 8, 8, 3), {Shape: []int{1, 4, 4, 3}}} {
		if _, err := as.Score(ctx, c); !errors.Is(err, ErrInput) {
			t.Errorf("Score(%v) error = %v, want ErrInput", c, err)
		}
	}
	img := image.NewRGBA(image.Rect(0, 0, 10, 10))
	for _, box := range [][4]float32{{0, 0, 0, 5}, {float32(math.NaN()), 0, 5, 5}, {0, 0, float32(math.Inf(1)), 5}} {
		if _, err := Crop(img, box, CropSize); !errors.Is(err, ErrInput) {
			t.Errorf("Crop(%v) error = %v, want ErrInput", box, err)
		}
	}
	if _, err := LoadFaceRes(t.TempDir()); err == nil {
		t.Error("LoadFaceRes(empty dir) succeeded, want error")
	}
}

func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

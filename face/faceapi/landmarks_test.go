package faceapi

import (
	"context"
	"math"
	"testing"
)

func TestLandmarksSynthGolden(t *testing.T) {
	l, err := LoadLandmarks68(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	want := loadModelsGolden(t).FaceLandmark68.Output
	got, err := l.Detect(context.Background(), synthRGBA(112, 112), [4]float32{0, 0, 112, 112})
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if d := math.Hypot(float64(got[i][0]-want[i][0]), float64(got[i][1]-want[i][1])); d > 0.05 {
			t.Errorf("Detect(synth) point %d = %v, want %v (%.3f px off)", i, got[i], want[i], d)
		}
	}
}

func TestLandmarksPipelineGolden(t *testing.T) {
	l, err := LoadLandmarks68(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadPipeline(t) {
		if g.FaceAPI.NumFaces == 0 {
			continue
		}
		t.Run(g.File, func(t *testing.T) {
			img := loadPNG(t, g.File)
			got, err := l.Detect(context.Background(), img, g.FaceAPI.Box)
			if err != nil {
				t.Fatal(err)
			}
			tol := 0.01 * float64(g.FaceAPI.Box[2])
			for i := range got {
				w := g.FaceAPI.Landmarks68[i]
				if d := math.Hypot(float64(got[i][0]-w[0]), float64(got[i][1]-w[1])); d > tol {
					t.Errorf("Detect(%s) point %d = %v, want %v (%.3f px > %.3f)", g.File, i, got[i], w, d, tol)
				}
			}
			if ab := AlignBox(got); ab != g.FaceAPI.AlignBox {
				t.Errorf("AlignBox(Detect(%s)) = %v, want %v", g.File, ab, g.FaceAPI.AlignBox)
			}
		})
	}
}

func TestAlignBoxKnown(t *testing.T) {
	var pts [68][2]float32
	for i := 36; i < 42; i++ {
		pts[i] = [2]float32{40, 50}
	}
	for i := 42; i < 48; i++ {
		pts[i] = [2]float32{80, 50}
	}
	for i := 48; i < 68; i++ {
		pts[i] = [2]float32{60, 95}
	}
	// eye-mouth distance = hypot(20,45) = 49.244; size = floor(49.244/0.45) = 109
	// centre (60, 65); x = floor(60-54.5) = 5; y = floor(65-46.87) = 18
	want := [4]float32{5, 18, 109, 109}
	if got := AlignBox(pts); got != want {
		t.Errorf("AlignBox(synthetic) = %v, want %v", got, want)
	}
}

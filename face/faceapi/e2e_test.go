package faceapi

import (
	"context"
	"math"
	"testing"
)

// TestEndToEndGolden chains the Go models exactly as the reference harness
// chains face-api's (SSD >= 0.1; the largest face >= 0.5, else the best;
// 68 landmarks; dlib align box; descriptor) and compares every stage's
// output with face-api's: the port reproduces face-api end to end, not only
// stage by stage from the reference's own intermediate values.
func TestEndToEndGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the per-stage golden tests cover the same path")
	}
	dir := modelDir(t)
	ssd, err := LoadSSD(dir)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := LoadLandmarks68(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := LoadRecognizer(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, g := range loadPipeline(t) {
		t.Run(g.File, func(t *testing.T) {
			img := loadPNG(t, g.File)
			dets, err := ssd.Detect(ctx, img, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			if len(dets) == 0 {
				if g.FaceAPI.NumFaces != 0 {
					t.Fatalf("no face, want %d", g.FaceAPI.NumFaces)
				}
				return
			}
			var det *Detection
			fallback := true
			for i := range dets {
				if dets[i].Score >= 0.5 && (det == nil || dets[i].Box[2]*dets[i].Box[3] > det.Box[2]*det.Box[3]) {
					det, fallback = &dets[i], false
				}
			}
			if det == nil {
				det = &dets[0] // sorted by score
			}
			if fallback != g.FaceAPI.Fallback {
				t.Errorf("fallback = %v, want %v", fallback, g.FaceAPI.Fallback)
			}
			if v := iou(det.Box, g.FaceAPI.Box); v < 0.95 {
				t.Errorf("box = %v, want %v (IoU %.4f)", det.Box, g.FaceAPI.Box, v)
			}
			pts, err := lm.Detect(ctx, img, det.Box)
			if err != nil {
				t.Fatal(err)
			}
			tol := 0.01 * float64(g.FaceAPI.Box[2])
			for i, w := range g.FaceAPI.Landmarks68 {
				if d := math.Hypot(float64(pts[i][0]-w[0]), float64(pts[i][1]-w[1])); d > tol {
					t.Errorf("landmark %d = %v, want %v (%.3f px > %.3f)", i, pts[i], w, d, tol)
				}
			}
			ab := AlignBox(pts)
			if ab != g.FaceAPI.AlignBox {
				t.Logf("align box %v, reference %v (integer box; a sub-pixel landmark drift can move it by 1 px)", ab, g.FaceAPI.AlignBox)
			}
			desc, err := rec.EmbedBox(ctx, img, ab)
			if err != nil {
				t.Fatal(err)
			}
			if c := cosine(desc, g.FaceAPI.Embedding); c < 0.999 {
				t.Errorf("descriptor cosine to face-api = %.5f, want >= 0.999", c)
			}
		})
	}
}

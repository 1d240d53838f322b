package faceapi

import (
	"context"
	"errors"
	"image"
	"math"
	"runtime"
	"testing"
)

func TestSSDPipelineGolden(t *testing.T) {
	s, err := LoadSSD(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadPipeline(t) {
		t.Run(g.File, func(t *testing.T) {
			img := loadPNG(t, g.File)
			got, err := s.Detect(context.Background(), img, 0.1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(g.SSD) {
				t.Fatalf("Detect(%s, 0.1) found %d faces %v, want %d %v", g.File, len(got), got, len(g.SSD), g.SSD)
			}
			for i, w := range g.SSD {
				if v := iou(got[i].Box, w.Box); v < 0.95 {
					t.Errorf("Detect(%s)[%d].Box = %v, want %v (IoU %.4f < 0.95)", g.File, i, got[i].Box, w.Box, v)
				}
				if d := math.Abs(float64(got[i].Score - w.Score)); d > 0.01 {
					t.Errorf("Detect(%s)[%d].Score = %.5f, want %.5f", g.File, i, got[i].Score, w.Score)
				}
			}
		})
	}
}

func TestSSDBadInput(t *testing.T) {
	s, err := LoadSSD(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	img := synthRGBA(40, 30)
	for _, ms := range []float32{0, 1, -1, float32NaN()} {
		if _, err := s.Detect(context.Background(), img, ms); !errors.Is(err, ErrInput) {
			t.Errorf("Detect(img, %v) error = %v, want ErrInput", ms, err)
		}
	}
	if _, err := s.Detect(context.Background(), nil, 0.5); !errors.Is(err, ErrInput) {
		t.Errorf("Detect(nil) error = %v, want ErrInput", err)
	}
}

func TestNMSFaceAPI(t *testing.T) {
	boxes := []float32{
		0, 0, 1, 1, // a
		0, 0, 1, 0.9, // overlaps a (IoU 0.9)
		0, 0.6, 1, 1.6, // IoU with a = 0.4/1.6 = 0.25
		2, 2, 3, 3, // below threshold
	}
	scores := []float32{0.8, 0.9, 0.7, 0.05}
	got := nmsFaceAPI(boxes, scores, 100, 0.5, 0.1)
	want := []int{1, 2}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("nmsFaceAPI = %v, want %v", got, want)
	}
	if got := nmsFaceAPI(boxes, scores, 1, 0.5, 0.1); len(got) != 1 || got[0] != 1 {
		t.Errorf("nmsFaceAPI(maxOut 1) = %v, want [1]", got)
	}
}

// TestSSDLargePhotoMemory checks that detection memory does not grow with
// the photo: a 12-megapixel image allocates about what a small one does.
func TestSSDLargePhotoMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: two extra SSD runs")
	}
	s, err := LoadSSD(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	alloc := func(w, h int) uint64 {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		if _, err := s.Detect(context.Background(), img, 0.5); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	small, large := alloc(250, 250), alloc(4000, 3000)
	if large > small+16<<20 {
		t.Errorf("Detect allocated %d MB on 4000x3000, %d MB on 250x250: grows with the photo", large>>20, small>>20)
	}
}

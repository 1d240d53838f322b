package faceapi

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConcurrentUse runs one loaded model from several goroutines (run it
// with -race): weights are shared read-only, scratch memory is per call, so
// every goroutine must get the single-threaded answer.
func TestConcurrentUse(t *testing.T) {
	r, err := LoadRecognizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := LoadLandmarks68(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	img := loadPNG(t, "astronaut_face_250.png")
	box := [4]float32{90, 70, 106, 106}
	ctx := context.Background()
	want, err := r.EmbedBox(ctx, img, box)
	if err != nil {
		t.Fatal(err)
	}
	wantLm, err := l.Detect(ctx, img, box)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				got, err := r.EmbedBox(ctx, img, box)
				if err != nil {
					errs <- err.Error()
					return
				}
				if d := cmp.Diff(want, got); d != "" {
					errs <- "EmbedBox differs under concurrency: " + d
					return
				}
				lm, err := l.Detect(ctx, img, box)
				if err != nil || lm != wantLm {
					errs <- "Detect differs under concurrency"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

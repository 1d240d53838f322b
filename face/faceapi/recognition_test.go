package faceapi

import (
	"context"
	"errors"
	"testing"
)

func TestRecognizerSynthGolden(t *testing.T) {
	r, err := LoadRecognizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	want := loadModelsGolden(t).FaceRecognition.Output
	got, err := r.Embed(context.Background(), synthRGBA(150, 150))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != EmbeddingSize {
		t.Fatalf("Embed(synth) has %d values, want %d", len(got), EmbeddingSize)
	}
	if c := cosine(got, want); c < 0.9999 {
		t.Errorf("Embed(synth) cosine to reference = %.6f, want >= 0.9999", c)
	}
	var maxAbs float64
	for i := range got {
		maxAbs = max(maxAbs, float64(abs32(got[i]-want[i])))
	}
	if maxAbs > 2e-3 {
		t.Errorf("Embed(synth) max abs difference = %g, want <= 2e-3", maxAbs)
	}
}

func TestRecognizerPipelineGolden(t *testing.T) {
	r, err := LoadRecognizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadPipeline(t) {
		if g.FaceAPI.NumFaces == 0 {
			continue
		}
		t.Run(g.File, func(t *testing.T) {
			img := loadPNG(t, g.File)
			got, err := r.EmbedBox(context.Background(), img, g.FaceAPI.AlignBox)
			if err != nil {
				t.Fatal(err)
			}
			if c := cosine(got, g.FaceAPI.Embedding); c < 0.999 {
				t.Errorf("EmbedBox(%s, %v) cosine to reference = %.6f, want >= 0.999", g.File, g.FaceAPI.AlignBox, c)
			}
		})
	}
}

func TestRecognizerBadInput(t *testing.T) {
	r, err := LoadRecognizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	img := synthRGBA(50, 50)
	for _, box := range [][4]float32{{60, 60, 10, 10}, {-20, -20, 5, 5}, {0, 0, 0, 0}, {float32NaN(), 0, 10, 10}} {
		if _, err := r.EmbedBox(context.Background(), img, box); !errors.Is(err, ErrInput) {
			t.Errorf("EmbedBox(50x50, %v) error = %v, want ErrInput", box, err)
		}
	}
	if _, err := r.Embed(context.Background(), nil); !errors.Is(err, ErrInput) {
		t.Errorf("Embed(nil) error = %v, want ErrInput", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Embed(ctx, img); !errors.Is(err, context.Canceled) {
		t.Errorf("Embed(cancelled ctx) error = %v, want context.Canceled", err)
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}

func float32NaN() float32 {
	var z float32
	return z / z
}

func TestMalformedImage(t *testing.T) {
	r, err := LoadRecognizer(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	bad := synthRGBA(20, 20)
	bad.Pix = bad.Pix[:100]
	if _, err := r.Embed(context.Background(), bad); !errors.Is(err, ErrInput) {
		t.Errorf("Embed(short Pix) error = %v, want ErrInput", err)
	}
}

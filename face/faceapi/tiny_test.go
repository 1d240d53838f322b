package faceapi

import (
	"context"
	"errors"
	"math"
	"testing"
)

func TestTinyPipelineGolden(t *testing.T) {
	d, err := LoadTiny(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range loadPipeline(t) {
		t.Run(g.File, func(t *testing.T) {
			got, err := d.Detect(context.Background(), loadPNG(t, g.File), 0.1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(g.Tiny) {
				t.Fatalf("Detect(%s, 0.1) found %d faces %v, want %d %v", g.File, len(got), got, len(g.Tiny), g.Tiny)
			}
			for i, w := range g.Tiny {
				if v := iou(got[i].Box, w.Box); v < 0.95 {
					t.Errorf("Detect(%s)[%d].Box = %v, want %v (IoU %.4f < 0.95)", g.File, i, got[i].Box, w.Box, v)
				}
				if dd := math.Abs(float64(got[i].Score - w.Score)); dd > 0.01 {
					t.Errorf("Detect(%s)[%d].Score = %.5f, want %.5f", g.File, i, got[i].Score, w.Score)
				}
			}
		})
	}
}

func TestTinyBadInput(t *testing.T) {
	d, err := LoadTiny(modelDir(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Detect(context.Background(), synthRGBA(20, 20), 1.5); !errors.Is(err, ErrInput) {
		t.Errorf("Detect(minScore 1.5) error = %v, want ErrInput", err)
	}
	if _, err := d.Detect(context.Background(), nil, 0.5); !errors.Is(err, ErrInput) {
		t.Errorf("Detect(nil) error = %v, want ErrInput", err)
	}
}

package faceapi

import (
	"context"
	"testing"
)

// Benchmarks per model on the 250x250 test face (LFW-sized), for
// docs/bench-face-runtime.md:
//
//	MADOGUCHI_MODELS=... go test ./face/faceapi -run '^$' -bench . -benchtime 20x
func BenchmarkSSD(b *testing.B) {
	s, err := LoadSSD(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := loadPNG(b, "astronaut_face_250.png")
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := s.Detect(context.Background(), img, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLandmarks68(b *testing.B) {
	l, err := LoadLandmarks68(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := loadPNG(b, "astronaut_face_250.png")
	box := [4]float32{96.437, 73.9052, 92.3303, 99.0498}
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := l.Detect(context.Background(), img, box); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEmbed(b *testing.B) {
	r, err := LoadRecognizer(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := loadPNG(b, "astronaut_face_250.png")
	box := [4]float32{90, 70, 106, 106}
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := r.EmbedBox(context.Background(), img, box); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadAll(b *testing.B) {
	dir := modelDir(b)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := LoadSSD(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadLandmarks68(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadRecognizer(dir); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTiny(b *testing.B) {
	d, err := LoadTiny(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := loadPNG(b, "astronaut_face_250.png")
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := d.Detect(context.Background(), img, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

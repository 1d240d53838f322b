package human

import (
	"context"
	"testing"
)

// Benchmarks per model on the 250x250 test face, for docs/bench-face-runtime.md:
//
//	MADOGUCHI_MODELS=... go test ./face/human -run '^$' -bench . -benchtime 20x -cpu 1
func benchCrop(b *testing.B) (*BlazeFace, [4]float32) {
	bf, err := LoadBlazeFace(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	img := loadPNG(b, "astronaut_face_250.png")
	faces, err := bf.Detect(context.Background(), img)
	if err != nil || len(faces) == 0 {
		b.Fatalf("Detect: %v faces, %v", len(faces), err)
	}
	return bf, faces[0].Box
}

func BenchmarkBlazeFace(b *testing.B) {
	bf, _ := benchCrop(b)
	img := loadPNG(b, "astronaut_face_250.png")
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := bf.Detect(context.Background(), img); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFaceRes(b *testing.B) {
	_, box := benchCrop(b)
	fr, err := LoadFaceRes(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	crop, err := Crop(loadPNG(b, "astronaut_face_250.png"), box, CropSize)
	if err != nil {
		b.Fatal(err)
	}
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := fr.Embed(context.Background(), crop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAntispoof(b *testing.B) {
	_, box := benchCrop(b)
	m, err := LoadAntispoof(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	crop, _ := Crop(loadPNG(b, "astronaut_face_250.png"), box, CropSize)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := m.Score(context.Background(), crop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLiveness(b *testing.B) {
	_, box := benchCrop(b)
	m, err := LoadLiveness(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	crop, _ := Crop(loadPNG(b, "astronaut_face_250.png"), box, CropSize)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := m.Score(context.Background(), crop); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFaceMesh(b *testing.B) {
	_, box := benchCrop(b)
	m, err := LoadFaceMesh(modelDir(b))
	if err != nil {
		b.Fatal(err)
	}
	crop, _ := Crop(loadPNG(b, "astronaut_face_250.png"), box, CropSize)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := m.Detect(context.Background(), crop, box); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadAll(b *testing.B) {
	dir := modelDir(b)
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := LoadBlazeFace(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadFaceMesh(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadFaceRes(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadAntispoof(dir); err != nil {
			b.Fatal(err)
		}
		if _, err := LoadLiveness(dir); err != nil {
			b.Fatal(err)
		}
	}
}

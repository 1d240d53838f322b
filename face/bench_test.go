package face

import (
	"context"
	"os"
	"testing"

	"github.com/madoguchi/madoguchi/face/imageio"
	"github.com/madoguchi/madoguchi/face/internal/facetest"
)

// Benchmarks of the whole pipeline on the 250x250 test face (LFW-sized);
// figures and the reference comparison are in docs/bench-face.md:
//
//	go test ./face -run '^$' -bench Pipeline -benchtime 20x
func benchPipeline(b *testing.B, opt LoadOptions) {
	e, err := Load(facetest.Models(b), opt)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/golden/images/astronaut_face_250.png")
	if err != nil {
		b.Fatal(err)
	}
	img, _, err := imageio.Decode(raw, imageio.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	var sum Timing
	n := 0
	cpu0 := cpuTime()
	for b.Loop() {
		faces, tm, err := e.AnalyzeTimed(context.Background(), img)
		if err != nil || len(faces) != 1 {
			b.Fatalf("AnalyzeTimed = %d faces, %v", len(faces), err)
		}
		sum.Detect += tm.Detect
		sum.Landmarks += tm.Landmarks
		sum.Align += tm.Align
		sum.Embed += tm.Embed
		n++
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(n), "cpu-ms/op")
	for stage, d := range map[string]float64{"detect": float64(sum.Detect), "landmarks": float64(sum.Landmarks), "align": float64(sum.Align), "embed": float64(sum.Embed)} {
		b.ReportMetric(d/float64(n)/1e6, stage+"-ms")
	}
}

// BenchmarkPipelineFaceAPI is like for like with face-api's SSD pipeline:
// same detector policy, face-api's box crop, no zoom-out passes.
func BenchmarkPipelineFaceAPI(b *testing.B) {
	benchPipeline(b, LoadOptions{Detector: "ssd", Recognizer: "resnet128", Config: Config{Align: AlignFaceAPI, NoZoomOut: true}})
}

// BenchmarkPipelineDefault is the default pipeline (BlazeFace with the
// zoom-out passes, the five-point chip and its mirror, the mfn512
// recogniser, PAD).
func BenchmarkPipelineDefault(b *testing.B) { benchPipeline(b, LoadOptions{}) }

// BenchmarkPipelineResNet is the previous default (BlazeFace, dlib chip and
// mirror, face-api's ResNet).
func BenchmarkPipelineResNet(b *testing.B) { benchPipeline(b, LoadOptions{Recognizer: "resnet128"}) }

func BenchmarkDlibChip(b *testing.B) {
	lm := templateLandmarks(ChipSize, 1.3, 0.2, 30, 20)
	img := testImage()
	for b.Loop() {
		DlibChip(img, &lm, ChipSize)
	}
}

func BenchmarkDecodeJPEG(b *testing.B) {
	raw, err := os.ReadFile(facetest.Samples(b) + "/sample1.jpg")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, _, err := imageio.Decode(raw, imageio.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/face"
)

// TestFaceEvaluate: the report counts identities, images, failures to
// acquire and the all-pairs and 10-fold results per recogniser, and the
// cache reproduces the same report without analysing anything.
func TestFaceEvaluate(t *testing.T) {
	people := t.TempDir()
	for i := 0; i < 12; i++ {
		writePerson(t, people, fmt.Sprintf("p%02d", i), color.RGBA{uint8(20 * i), uint8(200 - 15*i), uint8(90 + 11*i), 255}, 4)
	}
	os.WriteFile(filepath.Join(people, "p00", "broken.jpg"), []byte("not an image"), 0o644)
	dir := t.TempDir()
	cache, jsonOut := filepath.Join(dir, "cache.jsonl"), filepath.Join(dir, "rep.json")
	e, stdout, stderr := testEnv()
	err := faceEvaluate(context.Background(), e, []string{"--dir", people, "--name", "synthetic-colours", "--cache-out", cache, "--json", jsonOut}, testLoader(t))
	if err != nil {
		t.Fatalf("face evaluate = %v\n%s%s", err, stdout, stderr)
	}
	for _, want := range []string{"set synthetic-colours: 12 identities, 49 images, failed to acquire 1", "model test+dlib-chip-flip", "10-fold accuracy", "all pairs: 76 genuine, 1100 impostor", "EER "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("face evaluate output lacks %q:\n%s", want, stdout)
		}
	}
	var rep evalReport
	b, _ := os.ReadFile(jsonOut)
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Models) != 1 || rep.Models[0].AllPairs == nil || rep.Models[0].TenFold == nil {
		t.Fatalf("report JSON = %+v, %v", rep, err)
	}
	// p00 holds 5 files (one broken): its 10 pairs count, those touching
	// broken.jpg as rejections (score -1)
	if rep.FailedToAcquire != 1 || rep.Models[0].AllPairs.Genuine != 76 {
		t.Errorf("report = FTA %d, genuine %d; want 1, 76", rep.FailedToAcquire, rep.Models[0].AllPairs.Genuine)
	}
	first := stdout.String()
	e2, stdout2, _ := testEnv()
	if err := faceEvaluate(context.Background(), e2, []string{"--dir", people, "--name", "synthetic-colours", "--cache-in", cache}, failingLoaderAfterLoad(t)); err != nil {
		t.Fatalf("face evaluate from cache = %v", err)
	}
	if stdout2.String() != first {
		t.Errorf("report from the cache differs:\n%s\nwant\n%s", stdout2, first)
	}
	// --quantised: one column per credential encoding, a credential
	// template against the other image's float32 one, and the error rates
	// at the float32 thresholds; the float32 report is unchanged.
	e3, stdout3, _ := testEnv()
	if err := faceEvaluate(context.Background(), e3, []string{"--dir", people, "--name", "synthetic-colours", "--cache-in", cache, "--quantised"}, failingLoaderAfterLoad(t)); err != nil {
		t.Fatalf("face evaluate --quantised = %v", err)
	}
	q := stdout3.String()
	if !strings.HasPrefix(q, first[:strings.Index(first, "\nmodel test+dlib-chip-flip")+1]) || !strings.Contains(q, "model test+dlib-chip-flip, credential int6 against float32") ||
		!strings.Contains(q, "model test+dlib-chip-flip, credential int4 against float32") || !strings.Contains(q, "credential against float32, over 1176 pairs, at the float32 thresholds") {
		t.Errorf("face evaluate --quantised printed\n%s", q)
	}
	for _, args := range [][]string{{}, {"--dir", people, "--protocol", "some"}, {"--dir", people, "--pick", "left"}, {"--dir", people, "--fusion"}} {
		e, _, _ := testEnv()
		if err := faceEvaluate(context.Background(), e, args, testLoader(t)); err == nil {
			t.Errorf("face evaluate %v = nil, want a usage error", args)
		}
	}
}

// failingLoaderAfterLoad builds the test engine with a detector that fails
// the test if called: everything must come from the cache.
func failingLoaderAfterLoad(t *testing.T) engineLoader {
	return func(f *engineFlags) (*face.Engine, error) {
		return face.New(face.Stages{Detector: noDetect{t}, Landmarker: gridLandmarks{}, Embedder: quadrantColour{}, PAD: redPAD{}, Name: "test"}, face.Config{})
	}
}

type noDetect struct{ t *testing.T }

func (n noDetect) Detect(context.Context, *image.RGBA, float32) ([]face.Detection, error) {
	n.t.Error("an image was analysed although the cache holds it")
	return nil, nil
}

// TestFaceEvaluatePAD: BPCER on bona fide images and APCER per species,
// including the synthetic species rendered from the bona fide images.
func TestFaceEvaluatePAD(t *testing.T) {
	bona, attack := t.TempDir(), t.TempDir()
	write := func(dir, name string, c color.RGBA) {
		img := image.NewRGBA(image.Rect(0, 0, 48, 48))
		for i := 0; i < len(img.Pix); i += 4 {
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, 255
		}
		f, _ := os.Create(filepath.Join(dir, name))
		png.Encode(f, img)
		f.Close()
	}
	for i := 0; i < 10; i++ {
		write(bona, fmt.Sprintf("b%02d.png", i), color.RGBA{200, 150, 20, 255})  // redPAD: real 0.54, live 0.4
		write(attack, fmt.Sprintf("a%02d.png", i), color.RGBA{20, 30, 200, 255}) // real 0.08
	}
	e, stdout, stderr := testEnv()
	err := faceEvaluatePAD(context.Background(), e, []string{"--bona-fide", bona, "--attack", "print=" + attack, "--synthetic"}, testLoader(t))
	if err != nil {
		t.Fatalf("face evaluate-pad = %v\n%s%s", err, stdout, stderr)
	}
	out := stdout.String()
	for _, want := range []string{
		"bona-fide: 10 presentations", "print: 10 presentations",
		"synthetic-print: 10 presentations, 0 without a face (not scored) (synthetic",
		"synthetic-screen: 10 presentations",
		"score antispoof", "| 0.5000 | 0.00 % | 0.00 % |", // real: bona 0.54 passes, print 0.08 caught
	} {
		if !strings.Contains(out, want) {
			t.Errorf("face evaluate-pad output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "score minifas") {
		t.Errorf("minifas reported for an engine without it:\n%s", out)
	}
	for _, args := range [][]string{{"--bona-fide", bona}, {"--attack", "print=" + attack}, {"--bona-fide", bona, "--attack", "print"}, {"--bona-fide", bona, "--attack", "synthetic-x=" + attack}} {
		e, _, _ := testEnv()
		if err := faceEvaluatePAD(context.Background(), e, args, testLoader(t)); err == nil {
			t.Errorf("face evaluate-pad %v = nil, want a usage error", args)
		}
	}
}

// arcColour is an ArcFace-family test recogniser (five-point 112x112 chip).
type arcColour struct{ quadrantColour }

func (arcColour) ChipSide() int { return 112 }

// TestFaceEvaluateLFWRefusesDlibAlignmentsOnArcFace: the ResNet's extra
// alignments cannot be scored by an ArcFace-family engine; the command says
// so before analysing anything.
func TestFaceEvaluateLFWRefusesDlibAlignmentsOnArcFace(t *testing.T) {
	load := func(*engineFlags) (*face.Engine, error) {
		return face.New(face.Stages{Detector: noDetect{t}, Landmarker: gridLandmarks{}, Embedder: arcColour{}, Name: "test-arc"}, face.Config{})
	}
	pairs := filepath.Join(t.TempDir(), "pairs.txt")
	var lines []string
	for i := 0; i < 10; i++ {
		lines = append(lines, fmt.Sprintf("P%d 1 2", i))
	}
	for i := 0; i < 10; i++ {
		lines = append(lines, fmt.Sprintf("P%d 1 Q%d 1", i, i))
	}
	os.WriteFile(pairs, []byte("10\n"+strings.Join(lines, "\n")+"\n"), 0o644)
	for _, flag := range []string{"--also-flip", "--also-faceapi"} {
		e, _, _ := testEnv()
		err := faceEvaluateLFW(context.Background(), e, []string{"--lfw", t.TempDir(), "--pairs", pairs, flag}, load)
		if err == nil || !strings.Contains(err.Error(), "--recognizer resnet128") {
			t.Errorf("evaluate-lfw %s on an ArcFace engine = %v, want a usage error naming --recognizer resnet128", flag, err)
		}
	}
}

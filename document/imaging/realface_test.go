package imaging_test

import (
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/document/imaging/faceadapt"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/face/models"
	"github.com/madoguchi/madoguchi/internal/testsuite"
)

// modelDir returns the pinned face models, as face/internal/facetest does
// (that package is internal to face): $MADOGUCHI_MODELS, or the shared
// cache installed on first use. Without models the test is skipped, except
// under CI=true, where it fails: CI must never pass by skipping.
func modelDir(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		testsuite.Unavailable(t, "face-models", format, args...)
	}
	if dir := os.Getenv("MADOGUCHI_MODELS"); dir != "" {
		if err := models.Verify(dir, models.Pinned()); err != nil {
			t.Fatalf("MADOGUCHI_MODELS=%s does not verify: %v", dir, err)
		}
		return dir
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		unavailable("no user cache dir: %v", err)
	}
	root := filepath.Join(cache, "madoguchi")
	dir := filepath.Join(root, "models")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := models.Install(ctx, dir, models.Pinned(), models.Options{KeepTarballs: filepath.Join(root, "tarballs")}); err != nil {
		unavailable("cannot install models into %s: %v", dir, err)
	}
	return dir
}

func readPNG(t *testing.T, name string) image.Image {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPortraitRealEngine runs the real face engine, through the adapter, on
// a synthetic card that carries a real photograph as its portrait.
func TestPortraitRealEngine(t *testing.T) {
	e, err := face.Load(modelDir(t), face.LoadOptions{})
	if err != nil {
		t.Fatalf("face.Load = %v", err)
	}
	c, err := imaging.New(imaging.DefaultConfig(), faceadapt.New(e))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	img, area := imaging.RenderFront(readPNG(t, "astronaut_face_250.png"))
	r, err := c.CheckFrame(ctx, imaging.Front, img)
	if err != nil {
		t.Fatalf("CheckFrame(card with photo) = %v", err)
	}
	ch, _ := r.Check(imaging.CheckPortrait)
	if ch.Status != imaging.Pass || r.Portrait == nil {
		t.Fatalf("CheckFrame(card with photo) portrait = %+v, want pass", ch)
	}
	p := r.Portrait
	ctr := image.Pt(int(p.X+p.W/2), int(p.Y+p.H/2))
	if !ctr.In(area) {
		t.Errorf("CheckFrame(card with photo).Portrait centre = %v, want inside the portrait area %v", ctr, area)
	}
	t.Logf("portrait %+v in %v: %s", *p, area, ch.Reason)

	if testing.Short() {
		return
	}
	blank, _ := imaging.RenderFront(nil)
	r, err = c.CheckFrame(ctx, imaging.Front, blank)
	if err != nil {
		t.Fatalf("CheckFrame(card without photo) = %v", err)
	}
	if ch, _ := r.Check(imaging.CheckPortrait); ch.Status == imaging.Pass {
		t.Errorf("CheckFrame(card without photo) portrait = %+v, want fail or refer", ch)
	}
}

// BenchmarkFrontRealEngine times a front frame's checks including the face
// engine (SSD detector, landmarks, embedding) on a 1024x768 frame.
func BenchmarkFrontRealEngine(b *testing.B) {
	dir := os.Getenv("MADOGUCHI_MODELS")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			b.Skip(err)
		}
		dir = filepath.Join(cache, "madoguchi", "models")
	}
	if err := models.Verify(dir, models.Pinned()); err != nil {
		b.Skipf("no verified models in %s: %v", dir, err)
	}
	e, err := face.Load(dir, face.LoadOptions{Config: face.Config{Workers: 1}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := imaging.New(imaging.DefaultConfig(), faceadapt.New(e))
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(filepath.Join("testdata", "astronaut_face_250.png"))
	if err != nil {
		b.Fatal(err)
	}
	photo, err := png.Decode(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	img, _ := imaging.RenderFront(photo)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CheckFrame(context.Background(), imaging.Front, img); err != nil {
			b.Fatal(err)
		}
	}
}

package posesynth

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
)

func gradient(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetRGBA(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	return img
}

// oneFace reports one face with the nose at x 40 and the eyes at y 30.
type oneFace struct{}

func (oneFace) Analyze(context.Context, *image.RGBA) ([]face.Face, error) {
	var f face.Face
	f.Box = face.Box{20, 10, 40, 50}
	f.Landmarks[30] = face.Point{40, 40}
	f.Landmarks[37] = face.Point{30, 30}
	f.Landmarks[44] = face.Point{50, 30}
	return []face.Face{f}, nil
}

type noFace struct{}

func (noFace) Analyze(context.Context, *image.RGBA) ([]face.Face, error) { return nil, nil }

func TestWarps(t *testing.T) {
	src := gradient(80, 64)
	// A turn by factor 1 and a blink over an empty band change nothing.
	if got := Turn(src, 40, 1); !bytes.Equal(got.Pix, src.Pix) {
		t.Error("Turn(k=1) changed the image")
	}
	if got := Blink(src, 30, 0); !bytes.Equal(got.Pix, src.Pix) {
		t.Error("Blink(band=0) changed the image")
	}
	// A turn keeps the nose column's left side compressed: the pixel at
	// x = cx·k comes from the nose column.
	got := Turn(src, 20, 1.5)
	if got.RGBAAt(30, 5) != src.RGBAAt(20, 5) {
		t.Errorf("Turn: pixel at 30 = %v, want the nose column's %v", got.RGBAAt(30, 5), src.RGBAAt(20, 5))
	}
	// A blink replaces the eye band's middle row with a row outside it.
	if b := Blink(src, 30, 4); b.RGBAAt(10, 30) == src.RGBAAt(10, 30) {
		t.Error("Blink left the eye row unchanged")
	}
}

func TestFrames(t *testing.T) {
	ctx := context.Background()
	src := gradient(80, 64)
	steps := []ekyc.Step{ekyc.TurnLeft, ekyc.Blink, ekyc.TurnRight}
	fr, err := Frames(ctx, oneFace{}, src, steps)
	if err != nil || len(fr) != 2+2*len(steps) {
		t.Fatalf("Frames = %d frames, %v; want %d", len(fr), err, 2+2*len(steps))
	}
	seen := map[string]bool{}
	for _, b := range fr {
		if seen[string(b)] {
			t.Fatal("Frames repeated a frame's bytes")
		}
		seen[string(b)] = true
	}
	if _, err := Frames(ctx, noFace{}, src, steps); err == nil {
		t.Error("Frames(no face) = nil error")
	}
	if _, err := Frames(ctx, oneFace{}, src, []ekyc.Step{"nod"}); err == nil {
		t.Error("Frames(unknown step) = nil error")
	}
	if _, _, err := CropLargest(src, nil); err == nil {
		t.Error("CropLargest(no faces) = nil error")
	}
	// The face box x 20, y 10, 40x50 with 0.8 widths (32 px) of margin:
	// x -12..92 and y -22..92, clipped at 0.
	big := gradient(200, 200)
	fs, _ := oneFace{}.Analyze(ctx, big)
	crop, _, err := CropLargest(big, fs)
	if err != nil || crop.Bounds() != image.Rect(0, 0, 92, 92) || crop.RGBAAt(91, 91) != big.RGBAAt(91, 91) {
		t.Errorf("CropLargest = %v, %v; want (0,0)-(92,92) of the source", crop.Bounds(), err)
	}
}

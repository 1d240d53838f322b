package faceadapt

import (
	"context"
	"errors"
	"image"
	"image/color"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/face"
)

type fakeEngine struct {
	got   *image.RGBA
	faces []face.Face
	err   error
}

func (f *fakeEngine) Analyze(ctx context.Context, img *image.RGBA) ([]face.Face, error) {
	f.got = img
	return f.faces, f.err
}

func TestFindFaces(t *testing.T) {
	e := &fakeEngine{faces: []face.Face{{Box: face.Box{10, 20, 30, 40}, Score: 0.75}, {Box: face.Box{1, 2, 3, 4}, Score: 0.25, Fallback: true}}}
	src := image.NewNRGBA(image.Rect(5, 7, 9, 10)) // offset origin, translucent
	src.SetNRGBA(5, 7, color.NRGBA{200, 100, 50, 10})
	got, err := New(e).FindFaces(context.Background(), src)
	if err != nil {
		t.Fatalf("FindFaces = %v", err)
	}
	want := []imaging.FaceBox{{X: 10, Y: 20, W: 30, H: 40, Score: 0.75}, {X: 1, Y: 2, W: 3, H: 4, Score: 0.25, Weak: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FindFaces boxes (-want +got):\n%s", diff)
	}
	if e.got.Rect != image.Rect(0, 0, 4, 3) {
		t.Errorf("engine saw bounds %v, want (0,0)-(4,3)", e.got.Rect)
	}
	if c := e.got.RGBAAt(0, 0); c != (color.RGBA{200, 100, 50, 255}) {
		t.Errorf("engine saw pixel %v, want the stored colour made opaque {200 100 50 255}", c)
	}
	gray := image.NewGray(image.Rect(-2, -2, 2, 2))
	gray.SetGray(-2, -2, color.Gray{77})
	if _, err := New(e).FindFaces(context.Background(), gray); err != nil {
		t.Fatal(err)
	}
	if c := e.got.RGBAAt(0, 0); c != (color.RGBA{77, 77, 77, 255}) {
		t.Errorf("engine saw pixel %v for gray 77, want {77 77 77 255}", c)
	}
}

func TestFindFacesError(t *testing.T) {
	boom := errors.New("engine busy")
	_, err := New(&fakeEngine{err: boom}).FindFaces(context.Background(), image.NewRGBA(image.Rect(0, 0, 2, 2)))
	if !errors.Is(err, boom) {
		t.Errorf("FindFaces = %v, want %v", err, boom)
	}
}

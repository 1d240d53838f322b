package imaging

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"strings"
	"testing"
)

// fixedFinder is a deterministic FaceFinder: it returns the boxes it was
// given, or err.
type fixedFinder struct {
	boxes []FaceBox
	err   error
	calls int
}

func (f *fixedFinder) FindFaces(ctx context.Context, img image.Image) ([]FaceBox, error) {
	f.calls++
	return f.boxes, f.err
}

// portraitBox is where a face detector would report the synthetic
// portrait's face: the bounding box of the inner part of the portrait
// rectangle, projected into the scene.
func (s scene) portraitBox() FaceBox {
	hm, ok := rectToQuad(cardW, cardH, s.corners())
	if !ok {
		panic("degenerate test pose")
	}
	r := portraitRect.Inset(30)
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, p := range []image.Point{r.Min, {r.Max.X, r.Min.Y}, r.Max, {r.Min.X, r.Max.Y}} {
		q := hm.apply(float64(p.X), float64(p.Y))
		minX, minY, maxX, maxY = math.Min(minX, q.X), math.Min(minY, q.Y), math.Max(maxX, q.X), math.Max(maxY, q.Y)
	}
	return FaceBox{X: minX, Y: minY, W: maxX - minX, H: maxY - minY, Score: 0.9}
}

func newTestChecker(t testing.TB, f FaceFinder) *Checker {
	t.Helper()
	c, err := New(DefaultConfig(), f)
	if err != nil {
		t.Fatalf("New(DefaultConfig()) = %v", err)
	}
	return c
}

func summary(r FrameReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s:", r.Kind, r.Status)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, " %s=%s(%.3g)", c.Name, c.Status, c.Value)
	}
	return b.String()
}

func TestCalibrate(t *testing.T) {
	base := scene{w: 1600, h: 1200, card: frontSpec, pose: flatPose, bgSeed: 1}
	variants := map[string]func(s *scene){
		"clean":  func(s *scene) {},
		"blur1":  func(s *scene) { s.blur = 1 },
		"blur2":  func(s *scene) { s.blur = 2 },
		"blur4":  func(s *scene) { s.blur = 4 },
		"glare":  func(s *scene) { s.glare = 0.15 },
		"dark":   func(s *scene) { s.gain = 0.25 },
		"bright": func(s *scene) { s.gain = 1.6; s.offset = 40 },
		"flat":   func(s *scene) { s.gain = 0.3; s.offset = 120 },
		"tilt":   func(s *scene) { s.pose = tiltPose; s.band = 12 },
		"back":   func(s *scene) { s.card = backSpec },
		"far":    func(s *scene) { s.pose.dist = 400 },
	}
	for name, f := range variants {
		s := base
		f(&s)
		img := s.render()
		ff := &fixedFinder{boxes: []FaceBox{s.portraitBox()}}
		c := newTestChecker(t, ff)
		r, err := c.CheckFrame(context.Background(), Front, img)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s blur=%.3f detail=%.2f", name, summary(r), r.Metrics.Blur, r.Metrics.Detail)
	}
	_ = errors.Is
}

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

// Scenes for the frame tests: 1024x768 frames, the card about 720 px wide.
var (
	goodFront = scene{w: 1024, h: 768, card: frontSpec, pose: pose{roll: 3, dist: 110}, bgSeed: 1}
	goodBack  = scene{w: 1024, h: 768, card: backSpec, pose: pose{roll: -2, dist: 108, shiftX: 2}, bgSeed: 2}
	goodTilt  = scene{w: 1024, h: 768, card: frontSpec, pose: pose{tiltX: 35, roll: 5, dist: 102, shiftY: -3}, bgSeed: 3, band: 9}
)

func checkStatus(t *testing.T, name string, checks []Check, check string, want Status) {
	t.Helper()
	for _, c := range checks {
		if c.Name == check {
			if c.Status != want {
				t.Errorf("%s: check %s = %s (value %.3g, %s), want %s", name, check, c.Status, c.Value, c.Reason, want)
			}
			return
		}
	}
	t.Errorf("%s: check %s missing, want %s", name, check, want)
}

// shortFrameCases run under -short (CI's race run): one pass and the main
// failure of each kind.
var shortFrameCases = map[string]bool{"clean front": true, "blurred": true, "glare": true, "no card": true}

func TestCheckFrame(t *testing.T) {
	type mod func(s *scene)
	tests := []struct {
		name   string
		kind   FrameKind
		sc     mod
		faces  func(s scene) []FaceBox // nil: the portrait box
		checks map[string]Status
		status Status
	}{
		{name: "clean front", kind: Front, sc: func(s *scene) {}, status: Pass, checks: map[string]Status{
			CheckSize: Pass, CheckFound: Pass, CheckInFrame: Pass, CheckFill: Pass, CheckAspect: Pass, CheckSkew: Pass,
			CheckResolution: Pass, CheckBlur: Pass, CheckExposure: Pass, CheckContrast: Pass, CheckGlare: Pass, CheckPortrait: Pass}},
		{name: "clean back", kind: Back, sc: func(s *scene) { *s = goodBack }, status: Pass, checks: map[string]Status{CheckFound: Pass, CheckBlur: Pass}},
		{name: "clean tilt", kind: Tilt, sc: func(s *scene) { *s = goodTilt }, status: Pass, checks: map[string]Status{CheckTilted: Pass, CheckFound: Pass}},
		{name: "blurred", kind: Front, sc: func(s *scene) { s.blur = 2 }, status: Fail, checks: map[string]Status{CheckBlur: Fail, CheckFound: Pass}},
		{name: "slightly soft", kind: Front, sc: func(s *scene) { s.blur = 1 }, status: Pass, checks: map[string]Status{CheckBlur: Pass}},
		{name: "glare", kind: Front, sc: func(s *scene) { s.glare = 0.15 }, status: Fail, checks: map[string]Status{CheckGlare: Fail}},
		{name: "small glint", kind: Front, sc: func(s *scene) { s.glare = 0.03 }, status: Pass, checks: map[string]Status{CheckGlare: Pass}},
		{name: "dark", kind: Front, sc: func(s *scene) { s.gain = 0.25 }, status: Fail, checks: map[string]Status{CheckExposure: Fail}},
		{name: "overexposed", kind: Front, sc: func(s *scene) { s.gain = 1.6; s.offset = 40 }, status: Fail, checks: map[string]Status{CheckExposure: Fail}},
		{name: "washed out", kind: Front, sc: func(s *scene) { s.gain = 0.15; s.offset = 130 }, status: Fail, checks: map[string]Status{CheckContrast: Fail}},
		{name: "far", kind: Front, sc: func(s *scene) { s.pose.dist = 170 }, status: Fail, checks: map[string]Status{CheckFill: Fail, CheckResolution: Fail}},
		{name: "too close", kind: Front, sc: func(s *scene) { s.pose.dist = 75 }, status: Fail},
		{name: "cut off", kind: Front, sc: func(s *scene) { s.pose.shiftX = 25 }, status: Fail},
		{name: "no card", kind: Front, sc: func(s *scene) { s.noCard = true }, status: Fail, checks: map[string]Status{CheckFound: Fail}},
		{name: "small picture", kind: Front, sc: func(s *scene) { s.w, s.h = 400, 300; s.pose.dist = 48 }, status: Fail, checks: map[string]Status{CheckSize: Fail}},
		{name: "front tilted", kind: Front, sc: func(s *scene) { *s = goodTilt }, status: Fail, checks: map[string]Status{CheckSkew: Fail}},
		{name: "not ID-1", kind: Front, sc: func(s *scene) { s.pose.halfH = 33 }, status: Fail, checks: map[string]Status{CheckAspect: Fail, CheckSkew: Pass}},
		{name: "tilt frame flat", kind: Tilt, sc: func(s *scene) {}, status: Fail, checks: map[string]Status{CheckTilted: Fail}},
		{name: "no portrait", kind: Front, sc: func(s *scene) {}, faces: func(scene) []FaceBox { return nil }, status: Fail, checks: map[string]Status{CheckPortrait: Fail}},
		{name: "face outside the card", kind: Front, sc: func(s *scene) {}, faces: func(scene) []FaceBox { return []FaceBox{{X: 5, Y: 5, W: 100, H: 120, Score: 0.99}} }, status: Fail, checks: map[string]Status{CheckPortrait: Fail}},
		{name: "two faces on the card", kind: Front, sc: func(s *scene) {}, faces: func(s scene) []FaceBox {
			b := s.portraitBox()
			g := b
			g.X -= 300
			g.W, g.H = b.W/2, b.H/2
			return []FaceBox{b, g}
		}, status: Refer, checks: map[string]Status{CheckPortrait: Refer}},
		{name: "portrait found only with low confidence", kind: Front, sc: func(s *scene) {}, faces: func(s scene) []FaceBox {
			b := s.portraitBox()
			b.Score, b.Weak = 0.39, true
			return []FaceBox{b}
		}, status: Refer, checks: map[string]Status{CheckPortrait: Refer}},
		{name: "tiny face", kind: Front, sc: func(s *scene) {}, faces: func(s scene) []FaceBox {
			b := s.portraitBox()
			b.W, b.H = 30, 36
			return []FaceBox{b}
		}, status: Fail, checks: map[string]Status{CheckPortrait: Fail}},
		{name: "face larger than a portrait", kind: Front, sc: func(s *scene) {}, faces: func(s scene) []FaceBox {
			b := s.portraitBox()
			b.Y -= b.H * 0.6
			b.H *= 2.5
			return []FaceBox{b}
		}, status: Refer, checks: map[string]Status{CheckPortrait: Refer}},
		{name: "NaN face ignored", kind: Front, sc: func(s *scene) {}, faces: func(s scene) []FaceBox {
			return []FaceBox{{X: math.NaN(), Y: 1, W: 1, H: 1}, s.portraitBox()}
		}, status: Pass, checks: map[string]Status{CheckPortrait: Pass}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !shortFrameCases[tc.name] {
				t.Skip("slow under -short")
			}
			s := goodFront
			tc.sc(&s)
			ff := &fixedFinder{}
			if tc.faces != nil {
				ff.boxes = tc.faces(s)
			} else if !s.noCard {
				ff.boxes = []FaceBox{s.portraitBox()}
			}
			c := newTestChecker(t, ff)
			r, err := c.CheckFrame(context.Background(), tc.kind, s.render())
			if err != nil {
				t.Fatalf("CheckFrame(%s) = %v", tc.name, err)
			}
			if r.Status != tc.status {
				t.Errorf("CheckFrame(%s).Status = %s, want %s\n%s", tc.name, r.Status, tc.status, summary(r))
			}
			for name, want := range tc.checks {
				checkStatus(t, "CheckFrame("+tc.name+")", r.Checks, name, want)
			}
			if tc.kind != Front && ff.calls != 0 {
				t.Errorf("CheckFrame(%s) called the face finder %d times, want 0 (portrait is looked for on the front only)", tc.name, ff.calls)
			}
			for _, ch := range r.Checks {
				if ch.Reason == "" {
					t.Errorf("CheckFrame(%s) check %s has no reason", tc.name, ch.Name)
				}
			}
		})
	}
}

func TestCheckFrameOutline(t *testing.T) {
	s := goodFront
	c := newTestChecker(t, &fixedFinder{boxes: []FaceBox{s.portraitBox()}})
	r, err := c.CheckFrame(context.Background(), Front, s.render())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outline == nil {
		t.Fatalf("CheckFrame(front).Outline = nil, want the card")
	}
	want := normalize(s.corners())
	for i := range 4 {
		if d := dist(r.Outline[i], want[i]); d > 4 {
			t.Errorf("CheckFrame(front).Outline[%d] = %v, want %v (±4 px)", i, r.Outline[i], want[i])
		}
	}
	if r.Portrait == nil || *r.Portrait != s.portraitBox() {
		t.Errorf("CheckFrame(front).Portrait = %v, want %v", r.Portrait, s.portraitBox())
	}
}

func TestCheckFrameErrors(t *testing.T) {
	var nilRGBA *image.RGBA
	finderErr := errors.New("model crashed")
	cfg := DefaultConfig()
	tests := []struct {
		name  string
		kind  FrameKind
		img   image.Image
		ff    *fixedFinder
		ctx   func() context.Context
		want  error
		cfgFn func(*Config)
	}{
		{name: "nil", kind: Front, img: nil, want: ErrImage},
		{name: "typed nil", kind: Front, img: nilRGBA, want: ErrImage},
		{name: "empty", kind: Front, img: image.NewRGBA(image.Rect(3, 3, 3, 10)), want: ErrImage},
		{name: "too wide", kind: Back, img: image.NewGray(image.Rect(0, 0, cfg.MaxSide+1, 2)), want: ErrTooLarge},
		{name: "too many pixels", kind: Back, img: image.NewGray(image.Rect(0, 0, 1000, 1000)), want: ErrTooLarge, cfgFn: func(c *Config) { c.MaxPixels = 999_999 }},
		{name: "unknown kind", kind: "selfie", img: image.NewGray(image.Rect(0, 0, 10, 10)), want: ErrConfig},
		{name: "finder fails", kind: Front, img: goodFront.render(), ff: &fixedFinder{err: finderErr}, want: finderErr},
		{name: "cancelled", kind: Front, img: image.NewGray(image.Rect(0, 0, 600, 600)), ctx: func() context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		}, want: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfgFn != nil {
				tc.cfgFn(&cfg)
			}
			ff := tc.ff
			if ff == nil {
				ff = &fixedFinder{}
			}
			c, err := New(cfg, ff)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx()
			}
			_, err = c.CheckFrame(ctx, tc.kind, tc.img)
			if !errors.Is(err, tc.want) {
				t.Errorf("CheckFrame(%s) = %v, want %v", tc.name, err, tc.want)
			}
			if tc.name == "finder fails" && !errors.Is(err, ErrFaceFinder) {
				t.Errorf("CheckFrame(%s) = %v, want ErrFaceFinder", tc.name, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		ff   FaceFinder
	}{
		{"no finder", func(*Config) {}, nil},
		{"zero config", func(c *Config) { *c = Config{} }, &fixedFinder{}},
		{"fill inverted", func(c *Config) { c.MinFill, c.MaxFill = 0.9, 0.2 }, &fixedFinder{}},
		{"blur out of range", func(c *Config) { c.MaxBlur = 1.5 }, &fixedFinder{}},
		{"correlations unordered", func(c *Config) { c.SameDocNCC = 0.3 }, &fixedFinder{}},
		{"no tilt threshold", func(c *Config) { c.MinTiltKeystone = 0 }, &fixedFinder{}},
		{"min side above max", func(c *Config) { c.MinSide = c.MaxSide + 1 }, &fixedFinder{}},
	}
	for _, tc := range tests {
		cfg := DefaultConfig()
		tc.mod(&cfg)
		if _, err := New(cfg, tc.ff); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%s) = %v, want ErrConfig", tc.name, err)
		}
	}
	if _, err := New(DefaultConfig(), &fixedFinder{}); err != nil {
		t.Errorf("New(DefaultConfig()) = %v, want nil", err)
	}
}

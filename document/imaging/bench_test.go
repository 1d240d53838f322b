package imaging

import (
	"context"
	"testing"
)

func benchFrame(b *testing.B, s scene, kind FrameKind) {
	img := s.render()
	c := newTestChecker(b, &fixedFinder{boxes: []FaceBox{s.portraitBox()}})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.CheckFrame(context.Background(), kind, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckFrame times one frame's checks (the face finder is a
// fixed stub here; the engine's own cost is in docs/bench-face.md).
func BenchmarkCheckFrame(b *testing.B) {
	b.Run("front-1024x768", func(b *testing.B) { benchFrame(b, goodFront, Front) })
	b.Run("tilt-1024x768", func(b *testing.B) { benchFrame(b, goodTilt, Tilt) })
	b.Run("front-1920x1440", func(b *testing.B) {
		s := goodFront
		s.w, s.h = 1920, 1440
		benchFrame(b, s, Front)
	})
	b.Run("front-4032x3024", func(b *testing.B) {
		s := goodFront
		s.w, s.h = 4032, 3024
		benchFrame(b, s, Front)
	})
}

// BenchmarkCheckSet times a whole method-ホ set (three 1024x768 frames).
func BenchmarkCheckSet(b *testing.B) {
	set := Set{goodFront.render(), goodBack.render(), goodTilt.render()}
	c := newTestChecker(b, &fixedFinder{boxes: []FaceBox{goodFront.portraitBox()}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CheckSet(context.Background(), set); err != nil {
			b.Fatal(err)
		}
	}
}

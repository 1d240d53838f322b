package imaging

import (
	"context"
	"testing"
)

func TestCalibrateSet(t *testing.T) {
	fp := pose{roll: 3, dist: 115}
	tp := pose{tiltX: 35, roll: 5, dist: 120, shiftY: -3}
	front := scene{w: 1600, h: 1200, card: frontSpec, pose: fp, bgSeed: 1}
	back := scene{w: 1600, h: 1200, card: backSpec, pose: pose{roll: -2, dist: 112}, bgSeed: 2}
	tilt := scene{w: 1600, h: 1200, card: frontSpec, pose: tp, bgSeed: 3, band: 14}
	other := scene{w: 1600, h: 1200, card: otherSpec, pose: tp, bgSeed: 3, band: 14}
	noband := scene{w: 1600, h: 1200, card: frontSpec, pose: tp, bgSeed: 3}
	side := scene{w: 1600, h: 1200, card: frontSpec, pose: pose{tiltY: -35, roll: 2, dist: 120}, bgSeed: 4, band: 14}
	ff := &fixedFinder{boxes: []FaceBox{front.portraitBox()}}
	c := newTestChecker(t, ff)
	fi, bi := front.render(), back.render()
	for name, tl := range map[string]scene{"tilt": tilt, "other": other, "noband": noband, "side": side} {
		r, err := c.CheckSet(context.Background(), Set{Front: fi, Back: bi, Tilt: tl.render()})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", name, r.Status)
		for _, f := range r.Frames {
			t.Logf("  %s", summary(f))
		}
		for _, ch := range r.Checks {
			t.Logf("  %s %s %.3f %s", ch.Name, ch.Status, ch.Value, ch.Reason)
		}
	}
}

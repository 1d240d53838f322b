package imaging

import (
	"context"
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"
)

// brighten returns a copy of img with every channel raised by d: the same
// picture re-encoded or re-processed.
func brighten(img *image.RGBA, d int) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	for i, v := range img.Pix {
		if i%4 == 3 {
			out.Pix[i] = v
			continue
		}
		out.Pix[i] = clamp8(float64(int(v) + d))
	}
	return out
}

// cropScale returns img cropped by m pixels on every side: a re-sent
// picture, trimmed.
func cropped(img *image.RGBA, m int) *image.RGBA {
	return img.SubImage(image.Rect(m, m, img.Rect.Dx()-m, img.Rect.Dy()-m)).(*image.RGBA)
}

var foreignSpec = cardSpec{seed: 9, base: color.RGBA{240, 200, 200, 255}}

func TestCheckSet(t *testing.T) {
	front, back, tilt := goodFront.render(), goodBack.render(), goodTilt.render()
	flatTilt := goodTilt
	flatTilt.pose = pose{roll: -4, dist: 104, shiftX: 3}
	noBand := goodTilt
	noBand.band = 0
	otherCard := goodTilt
	otherCard.card = otherSpec
	foreign := goodTilt
	foreign.card = foreignSpec
	backIsFront := goodFront
	backIsFront.pose = pose{roll: -3, dist: 106, shiftX: 2}
	backIsFront.bgSeed = 5
	backTilted := goodTilt
	backTilted.card = backSpec

	tests := []struct {
		name   string
		set    func() Set
		checks map[string]Status
		status Status
		short  bool // run under -short
	}{
		{"good", func() Set { return Set{front, back, tilt} }, map[string]Status{
			CheckAllFrames: Pass, CheckDuplicate: Pass, CheckSameDocument: Pass, CheckSidesDiffer: Pass,
			CheckPoseDiffers: Pass, CheckThickness: Pass}, Pass, true},
		{"tilt is the front re-sent", func() Set { return Set{front, back, front} }, map[string]Status{
			CheckDuplicate: Fail, CheckPoseDiffers: Fail}, Fail, true},
		{"tilt is the front, brightened", func() Set { return Set{front, back, brighten(front, 6)} }, map[string]Status{
			CheckDuplicate: Fail, CheckPoseDiffers: Fail}, Fail, false},
		{"back is the front, trimmed", func() Set { return Set{front, cropped(front, 4), tilt} }, map[string]Status{
			CheckDuplicate: Fail, CheckSidesDiffer: Fail}, Fail, false},
		{"back shows the front side again", func() Set { return Set{front, backIsFront.render(), tilt} }, map[string]Status{
			CheckDuplicate: Pass, CheckSidesDiffer: Fail}, Fail, false},
		{"tilt not tilted", func() Set { return Set{front, back, flatTilt.render()} }, map[string]Status{
			CheckPoseDiffers: Fail, CheckSameDocument: Pass}, Fail, false},
		{"no edge band", func() Set { return Set{front, back, noBand.render()} }, map[string]Status{
			CheckThickness: Refer, CheckSameDocument: Pass}, Refer, false},
		{"tilt shows another card of the same design", func() Set { return Set{front, back, otherCard.render()} }, map[string]Status{
			CheckSameDocument: Refer}, Refer, false},
		{"tilt shows a different document", func() Set { return Set{front, back, foreign.render()} }, map[string]Status{
			CheckSameDocument: Fail}, Fail, false},
		{"tilt shows the back", func() Set { return Set{front, back, backTilted.render()} }, map[string]Status{
			CheckSameDocument: Pass, CheckPoseDiffers: Pass}, Pass, false},
		{"back missing", func() Set { return Set{Front: front, Tilt: tilt} }, map[string]Status{
			CheckAllFrames: Fail, CheckSidesDiffer: Refer, CheckSameDocument: Pass}, Fail, false},
		{"only a front", func() Set { return Set{Front: front} }, map[string]Status{
			CheckAllFrames: Fail, CheckDuplicate: Refer, CheckSameDocument: Refer, CheckThickness: Refer}, Fail, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestChecker(t, &fixedFinder{boxes: []FaceBox{goodFront.portraitBox()}})
			if testing.Short() && !tc.short {
				t.Skip("slow under -short")
			}
			r, err := c.CheckSet(context.Background(), tc.set())
			if err != nil {
				t.Fatalf("CheckSet(%s) = %v", tc.name, err)
			}
			if r.Status != tc.status {
				t.Errorf("CheckSet(%s).Status = %s, want %s", tc.name, r.Status, tc.status)
				for _, f := range r.Frames {
					t.Logf("  %s", summary(f))
				}
				for _, ch := range r.Checks {
					t.Logf("  %s %s %.3f %s", ch.Name, ch.Status, ch.Value, ch.Reason)
				}
			}
			for name, want := range tc.checks {
				checkStatus(t, "CheckSet("+tc.name+")", r.Checks, name, want)
			}
			if len(r.Review) == 0 {
				t.Errorf("CheckSet(%s).Review is empty, want the human-review items", tc.name)
			}
		})
	}
}

func TestCheckSetErrors(t *testing.T) {
	c := newTestChecker(t, &fixedFinder{})
	big := image.NewGray(image.Rect(0, 0, 5000, 10))
	_, err := c.CheckSet(context.Background(), Set{Front: image.NewGray(image.Rect(0, 0, 640, 480)), Back: big})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("CheckSet(back too large) = %v, want ErrTooLarge", err)
	}
}

func TestSetLogValueRedacts(t *testing.T) {
	s := Set{Front: image.NewRGBA(image.Rect(0, 0, 640, 480))}
	got := s.LogValue().String()
	for _, want := range []string{"front=[image 640x480 redacted]", "back=absent", "tilt=absent"} {
		if !strings.Contains(got, want) {
			t.Errorf("Set.LogValue() = %q, want it to contain %q", got, want)
		}
	}
}

package face

import (
	"image"
	"image/color"
	"math"
	"testing"
)

func TestLandmarkQualityPose(t *testing.T) {
	var q Quality
	lm := templateLandmarks(ChipSize, 1, 0, 0, 0)
	landmarkQuality(&q, Box{0, 0, 150, 150}, &lm)
	if math.Abs(q.Roll) > 1e-6 || math.Abs(q.Yaw) > 1e-3 || math.Abs(q.Pitch) > 1e-6 {
		t.Errorf("landmarkQuality(mean face) yaw %v pitch %v roll %v, want 0", q.Yaw, q.Pitch, q.Roll)
	}
	// Eye distance of the mean face in a 150 chip with padding 0.25.
	wantIED := 150 / 1.5 * (0.7613 - 0.2315) // eye centres x, unit square
	if math.Abs(q.InterEye-wantIED) > 1 {
		t.Errorf("InterEye = %v, want about %v", q.InterEye, wantIED)
	}

	lm = templateLandmarks(ChipSize, 2, 20*math.Pi/180, 50, 10)
	landmarkQuality(&q, Box{}, &lm)
	if math.Abs(q.Roll-20) > 1e-3 || math.Abs(q.Yaw) > 1e-3 || math.Abs(q.Pitch) > 1e-3 {
		t.Errorf("landmarkQuality(rolled 20) roll %v yaw %v pitch %v, want 20, 0, 0", q.Roll, q.Yaw, q.Pitch)
	}

	// Nose tip pushed towards the picture's right: positive yaw; down: positive pitch.
	lm = templateLandmarks(ChipSize, 1, 0, 0, 0)
	lm[30][0] += 15
	lm[30][1] += 8
	landmarkQuality(&q, Box{}, &lm)
	if !(q.Yaw > 5) || !(q.Pitch > 5) {
		t.Errorf("landmarkQuality(nose right, down) yaw %v pitch %v, want both > 5", q.Yaw, q.Pitch)
	}
}

func TestChipQuality(t *testing.T) {
	flat := image.NewRGBA(image.Rect(0, 0, 150, 150))
	checker := image.NewRGBA(image.Rect(0, 0, 150, 150))
	white := image.NewRGBA(image.Rect(0, 0, 150, 150))
	for y := 0; y < 150; y++ {
		for x := 0; x < 150; x++ {
			flat.SetRGBA(x, y, color.RGBA{128, 128, 128, 255})
			v := uint8(0)
			if (x/2+y/2)%2 == 0 {
				v = 255
			}
			checker.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			white.SetRGBA(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	black := image.NewRGBA(image.Rect(0, 0, 150, 150))
	tests := []struct {
		name  string
		img   *image.RGBA
		check func(q Quality) bool
	}{
		{"flat", flat, func(q Quality) bool {
			return q.Sharpness == 0 && math.Abs(q.Brightness-128.0/255) < 1e-9 && q.Contrast < 1e-6 && q.Underexposed == 0 && q.Overexposed == 0
		}},
		{"checker", checker, func(q Quality) bool { return q.Sharpness > 10000 && math.Abs(q.Contrast-0.5) < 1e-9 }},
		{"black", black, func(q Quality) bool { return q.Brightness == 0 && q.Underexposed == 1 }},
		{"white", white, func(q Quality) bool { return q.Brightness == 1 && q.Overexposed == 1 }},
	}
	for _, tt := range tests {
		var q Quality
		chipQuality(&q, tt.img)
		if !tt.check(q) {
			t.Errorf("chipQuality(%s) = %+v", tt.name, q)
		}
	}
}

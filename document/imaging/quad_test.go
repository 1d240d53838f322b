package imaging

import "testing"

func TestFindQuadSynthetic(t *testing.T) {
	tests := []struct {
		name string
		sc   scene
	}{
		{"flat", scene{w: 1280, h: 960, card: frontSpec, pose: flatPose}},
		{"tilted", scene{w: 1280, h: 960, card: frontSpec, pose: tiltPose, band: 10}},
		{"rotated", scene{w: 1280, h: 960, card: backSpec, pose: pose{roll: 25, dist: 200, shiftX: 10}}},
		{"portrait-frame", scene{w: 960, h: 1280, card: frontSpec, pose: pose{roll: 88, dist: 170}}},
		{"side-tilt", scene{w: 1280, h: 960, card: frontSpec, pose: pose{tiltY: 30, roll: -5, dist: 180}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && tc.name != "tilted" {
				t.Skip("slow under -short")
			}
			img := tc.sc.render()
			k := workScale(img.Bounds())
			g := lumaDown(img, k)
			q, cov, ok := findQuad(g)
			if !ok {
				t.Fatalf("findQuad(%s) found nothing", tc.name)
			}
			q = q.scaled(float64(k))
			want := normalize(tc.sc.corners())
			for i := range 4 {
				if d := dist(q[i], want[i]); d > 0.012*want.WidthPx() {
					t.Errorf("findQuad(%s) corner %d = %v, want %v (off by %.1f px, coverage %.2f)", tc.name, i, q[i], want[i], d, cov)
				}
			}
		})
	}
}

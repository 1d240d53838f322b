package ekyc

import (
	"bytes"
	"math"
	"testing"
)

func lm(yaw, ear float64) Landmarks { return toLandmarks(landmarks(yaw, ear)) }

var rule = LivenessRule{MinPAD: 0.8, YawThreshold: 0.25, EARClosed: 0.18, EAROpen: 0.24}

func TestYawAndEAR(t *testing.T) {
	for _, tc := range []struct{ yaw, ear float64 }{{0, 0.3}, {0.5, 0.3}, {-0.4, 0.05}, {0.9, 0.2}} {
		l := lm(tc.yaw, tc.ear)
		if got := Yaw(&l); math.Abs(got-tc.yaw) > 1e-4 {
			t.Errorf("Yaw(yaw %v) = %v, want %v", tc.yaw, got, tc.yaw)
		}
		if got := EAR(&l); math.Abs(got-tc.ear) > 1e-4 {
			t.Errorf("EAR(ear %v) = %v, want %v", tc.ear, got, tc.ear)
		}
	}
	var zero Landmarks
	if got := Yaw(&zero); !math.IsNaN(got) {
		t.Errorf("Yaw(zero landmarks) = %v, want NaN", got)
	}
	if got := EAR(&zero); !math.IsNaN(got) {
		t.Errorf("EAR(zero landmarks) = %v, want NaN", got)
	}
}

func TestCheckChallenge(t *testing.T) {
	front, left, right, closed := lm(0, 0.3), lm(0.5, 0.3), lm(-0.5, 0.3), lm(0, 0.05)
	for _, tc := range []struct {
		name   string
		steps  []Step
		frames []Landmarks
		pass   bool
		static bool
		failed Step
	}{
		{"all steps", []Step{TurnLeft, Blink, TurnRight}, []Landmarks{front, left, front, closed, front, right, front}, true, false, ""},
		{"single blink", []Step{Blink}, []Landmarks{front, closed, front}, true, false, ""},
		{"still image", []Step{TurnLeft, Blink}, []Landmarks{front, front, front, front, front}, false, true, TurnLeft},
		{"wrong direction", []Step{TurnLeft}, []Landmarks{front, right, front}, false, false, TurnLeft},
		{"wrong order", []Step{TurnLeft, TurnRight}, []Landmarks{front, right, front, left, front}, false, false, TurnRight},
		{"no return to frontal", []Step{TurnLeft, Blink}, []Landmarks{front, left, closed, front}, false, false, Blink},
		{"starts turned", []Step{TurnLeft}, []Landmarks{left, front, left, front}, false, false, TurnLeft},
		{"eyes closed throughout", []Step{Blink}, []Landmarks{closed, closed, closed}, false, true, Blink},
		{"too few frames", []Step{TurnLeft, TurnRight}, []Landmarks{front, left, front}, false, false, TurnRight},
		{"no frames", []Step{Blink}, nil, false, true, Blink},
		{"degenerate landmarks", []Step{TurnLeft}, []Landmarks{front, {}, front}, false, true, TurnLeft},
		{"slight turn below threshold", []Step{TurnRight}, []Landmarks{front, lm(-0.2, 0.3), front}, false, false, TurnRight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CheckChallenge(tc.steps, tc.frames, rule)
			if got.Passed != tc.pass || got.Static != tc.static || got.Failed != tc.failed {
				t.Errorf("CheckChallenge(%v) = passed %v static %v failed %q, want %v %v %q",
					tc.steps, got.Passed, got.Static, got.Failed, tc.pass, tc.static, tc.failed)
			}
		})
	}
}

func TestNewChallenge(t *testing.T) {
	seen := map[Step]int{}
	for range 200 {
		steps, err := NewChallenge(randReader(), 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(steps) != 3 {
			t.Fatalf("NewChallenge(3) has %d steps", len(steps))
		}
		for i, s := range steps {
			seen[s]++
			if i > 0 && steps[i-1] == s {
				t.Fatalf("NewChallenge = %v, repeats a step back to back", steps)
			}
		}
	}
	for _, s := range allSteps {
		if seen[s] < 100 {
			t.Errorf("step %s drawn %d times in 600, want about 200", s, seen[s])
		}
	}
	if _, err := NewChallenge(bytes.NewReader(nil), 2); err == nil {
		t.Error("NewChallenge(empty reader) = nil error, want the read error")
	}
	if _, err := NewChallenge(randReader(), 0); err == nil {
		t.Error("NewChallenge(n=0) = nil error, want ErrInvalidInput")
	}
}

func FuzzCheckChallenge(f *testing.F) {
	f.Add([]byte{0, 1, 2}, []byte{128, 30, 178, 30, 128, 5, 128, 30})
	f.Add([]byte{2}, []byte{})
	f.Fuzz(func(t *testing.T, stepb, frameb []byte) {
		var steps []Step
		for _, b := range stepb {
			steps = append(steps, allSteps[int(b)%3])
		}
		var frames []Landmarks
		for i := 0; i+1 < len(frameb); i += 2 {
			frames = append(frames, lm((float64(frameb[i])-128)/100, float64(frameb[i+1])/100))
		}
		r := CheckChallenge(steps, frames, rule)
		if r.Passed && (r.Static || r.Done != len(steps)) {
			t.Fatalf("CheckChallenge passed with static %v and %d/%d steps", r.Static, r.Done, len(steps))
		}
		if len(r.Yaws) != len(frames) || len(r.EARs) != len(frames) {
			t.Fatalf("measurements for %d frames, want %d", len(r.Yaws), len(frames))
		}
	})
}

package ekyc

import (
	"fmt"
	"io"
	"math"
)

// Step is one action of an active liveness challenge.
type Step string

// Challenge steps. Directions are the person's own: on an unmirrored camera
// image, turning to one's left moves the nose towards the image's right.
const (
	TurnLeft  Step = "turn_left"
	TurnRight Step = "turn_right"
	Blink     Step = "blink"
)

var allSteps = []Step{TurnLeft, TurnRight, Blink}

// NewChallenge draws n steps uniformly from r (crypto/rand in production),
// never the same step twice in a row.
func NewChallenge(r io.Reader, n int) ([]Step, error) {
	if n < 1 || n > 8 {
		return nil, fmt.Errorf("%w: challenge length %d", ErrInvalidInput, n)
	}
	out := make([]Step, 0, n)
	var b [1]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return nil, err
		}
		if b[0] == 255 { // 255 = 3*85: reject to keep the draw uniform
			continue
		}
		st := allSteps[int(b[0])%len(allSteps)]
		if len(out) > 0 && out[len(out)-1] == st {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// Landmarks are the 68 iBUG points of one face, image pixels.
type Landmarks [68][2]float64

func dist(a, b [2]float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

// Yaw estimates head rotation from landmarks as a ratio in [-1, 1]: the
// horizontal distances from the nose tip (30) to the jaw's outermost points
// (0, image left; 16, image right), (dL-dR)/(dL+dR). 0 is frontal; positive
// is the person turned to their left (unmirrored image). It returns NaN for
// degenerate landmarks.
func Yaw(lm *Landmarks) float64 {
	dl := math.Abs(lm[30][0] - lm[0][0])
	dr := math.Abs(lm[16][0] - lm[30][0])
	if dl+dr < 1e-6 || !finite(dl) || !finite(dr) {
		return math.NaN()
	}
	return (dl - dr) / (dl + dr)
}

// EAR is the eye aspect ratio (Soukupová and Čech, 2016) averaged over
// both eyes (points 36-41 and 42-47): (|p2-p6| + |p3-p5|) / (2|p1-p4|). It
// is about 0.3 for an open eye and near 0 for a closed one; NaN if
// degenerate.
func EAR(lm *Landmarks) float64 {
	eye := func(i int) float64 {
		w := dist(lm[i], lm[i+3])
		if w < 1e-6 {
			return math.NaN()
		}
		return (dist(lm[i+1], lm[i+5]) + dist(lm[i+2], lm[i+4])) / (2 * w)
	}
	return (eye(36) + eye(42)) / 2
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// ChallengeResult is the outcome of CheckChallenge; Yaws and EARs are the
// per-frame measurements recorded with the decision (0 where landmarks
// were degenerate).
type ChallengeResult struct {
	Passed bool      `json:"passed"`
	Done   int       `json:"steps_done"`
	Failed Step      `json:"failed_step,omitempty"`
	Static bool      `json:"static"`
	Yaws   []float64 `json:"yaw"`
	EARs   []float64 `json:"ear"`
}

// CheckChallenge checks that frames (in capture order) perform steps in
// order: the first frame must be frontal with open eyes; a turn is a frame
// whose yaw passes ±rule.YawThreshold; a blink is a frame with EAR below
// EARClosed preceded and followed by frames above EAROpen; after each step
// the face must come back to frontal before the next one. Static is set
// when the frames show no measurable movement at all: a still image (a
// photo, or the same frame repeated) cannot pass.
func CheckChallenge(steps []Step, frames []Landmarks, rule LivenessRule) ChallengeResult {
	yaws, ears := make([]float64, len(frames)), make([]float64, len(frames))
	for i := range frames {
		yaws[i], ears[i] = round4(Yaw(&frames[i])), round4(EAR(&frames[i]))
	}
	res := ChallengeResult{Yaws: jsonSafe(yaws), EARs: jsonSafe(ears)}
	res.Static = static(yaws, ears)
	frontal := func(i int) bool {
		return math.Abs(yaws[i]) < rule.YawThreshold/2 && ears[i] > rule.EAROpen
	}
	if len(steps) == 0 {
		res.Passed = !res.Static
		return res
	}
	if len(frames) == 0 || !frontal(0) {
		res.Failed = steps[0]
		return res
	}
	i := 1
	for _, st := range steps {
		found := false
		for ; i < len(frames); i++ {
			y, e := yaws[i], ears[i]
			if !finite(y) || !finite(e) {
				continue
			}
			switch st {
			case TurnLeft:
				found = y >= rule.YawThreshold
			case TurnRight:
				found = y <= -rule.YawThreshold
			case Blink:
				found = e < rule.EARClosed && ears[i-1] > rule.EAROpen
			}
			if found {
				break
			}
		}
		if !found {
			res.Failed = st
			return res
		}
		// Back to frontal, eyes open, before the next step.
		back := false
		for i++; i < len(frames); i++ {
			if frontal(i) {
				back = true
				i++
				break
			}
		}
		if !back {
			res.Failed = st
			return res
		}
		res.Done++
	}
	res.Passed = !res.Static
	return res
}

// jsonSafe replaces NaN (degenerate landmarks) by 0 for encoding; the
// checks above use the raw values, where NaN never satisfies a step.
func jsonSafe(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if finite(x) {
			out[i] = x
		}
	}
	return out
}

// static reports whether the measurements barely change across frames.
func static(yaws, ears []float64) bool {
	spread := func(v []float64) float64 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, x := range v {
			if finite(x) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
		if lo > hi {
			return 0
		}
		return hi - lo
	}
	return spread(yaws) < 0.02 && spread(ears) < 0.02
}

func round4(x float64) float64 {
	if !finite(x) {
		return x
	}
	return math.Round(x*1e4) / 1e4
}

package ekyc

import (
	"fmt"
	"math"
	"strings"

	"github.com/madoguchi/madoguchi/face"
)

// Passive PAD scores, as the policy names them (docs/face-pad.md):
// "antispoof" is human's antispoof (face.Liveness.Real), "liveness" human's
// liveness (face.Liveness.Live), "minifas" faceplugin's MiniFAS
// (face.Liveness.MiniFAS, present only where the engine runs it).
const (
	PADAntispoof = "antispoof"
	PADLiveness  = "liveness"
	PADMiniFAS   = "minifas"
)

// PADScores lists the passive PAD scores in a fixed order.
func PADScores() []string { return []string{PADAntispoof, PADLiveness, PADMiniFAS} }

// PADThresholds gives passive PAD scores thresholds of their own; a score
// without one is held to LivenessRule.MinPAD. Setting one lets an operator
// weight the scores differently (docs/face-pad.md: human's two scores do
// not separate printed photographs, MiniFAS does). A score the policy sets
// a threshold for must be present: a frame without it (an engine that does
// not run MiniFAS) is liveness.pad_unavailable, not a pass.
type PADThresholds struct {
	Antispoof *float64 `json:"antispoof,omitempty"`
	Liveness  *float64 `json:"liveness,omitempty"`
	MiniFAS   *float64 `json:"minifas,omitempty"`
}

// get returns the threshold set for score, or nil.
func (t PADThresholds) get(score string) *float64 {
	switch score {
	case PADAntispoof:
		return t.Antispoof
	case PADLiveness:
		return t.Liveness
	case PADMiniFAS:
		return t.MiniFAS
	}
	return nil
}

// PADThreshold is the threshold score is held to under l: its own if the
// policy sets one, else MinPAD.
func (l LivenessRule) PADThreshold(score string) float64 {
	if v := l.PAD.get(score); v != nil {
		return *v
	}
	return l.MinPAD
}

// padValue returns a frame's value of score and whether the engine gave it.
func padValue(fl face.Liveness, score string) (float64, bool) {
	switch score {
	case PADAntispoof:
		return float64(fl.Real), fl.Available
	case PADLiveness:
		return float64(fl.Live), fl.Available
	case PADMiniFAS:
		return float64(fl.MiniFAS), fl.Available && fl.HasMiniFAS
	}
	return 0, false
}

// padMins collects, per passive PAD score, the least value over the frames
// of a check, and which scores a frame with PAD lacked.
type padMins struct {
	min     map[string]float64
	missing map[string]bool
	any     bool
}

// add takes one frame's scores (the caller has checked fl.Available).
func (m *padMins) add(fl face.Liveness) {
	if m.min == nil {
		m.min, m.missing = map[string]float64{}, map[string]bool{}
	}
	m.any = true
	for _, s := range PADScores() {
		v, ok := padValue(fl, s)
		if !ok {
			m.missing[s] = true
			continue
		}
		if old, seen := m.min[s]; !seen || v < old {
			m.min[s] = v
		}
	}
}

// overall is the least score seen (face.Liveness.Min over the frames).
func (m *padMins) overall() float64 {
	o := math.Inf(1)
	for _, v := range m.min {
		o = math.Min(o, v)
	}
	return o
}

// judge compares the collected scores with l: low lists the scores below
// their thresholds; missing the scores the policy sets a threshold for that
// some frame lacked.
func (m *padMins) judge(l LivenessRule) (low, missing []string) {
	for _, s := range PADScores() {
		if m.missing[s] && l.PAD.get(s) != nil {
			missing = append(missing, s)
		}
		if v, ok := m.min[s]; ok && v < l.PADThreshold(s) {
			low = append(low, s)
		}
	}
	return low, missing
}

// padLowDetail and padMissingDetail are the reasons' details (score names
// only, never values).
func padLowDetail(low []string) string {
	return "the presentation-attack score is below the threshold (" + strings.Join(low, ", ") + ")"
}

func padMissingDetail(missing []string) string {
	return fmt.Sprintf("the policy sets a threshold for %s, which the face engine does not give", strings.Join(missing, ", "))
}

// validate checks the thresholds that are set.
func (t PADThresholds) validate() error {
	for _, s := range PADScores() {
		if v := t.get(s); v != nil && !finiteIn(*v, 0, 1) {
			return fmt.Errorf("%w: policy liveness.pad.%s: must be in [0,1]", ErrInvalidInput, s)
		}
	}
	return nil
}

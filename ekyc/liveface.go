package ekyc

import (
	"errors"
	"math"
	"slices"

	"github.com/madoguchi/madoguchi/face"
)

// LiveFrame is one analysed camera frame of a live-face check: the faces
// the engine found, or Undecodable when the image could not be analysed.
type LiveFrame struct {
	Faces       []face.Face
	Undecodable bool
}

// LiveFaceRule is what JudgeLiveFace decides with.
type LiveFaceRule struct {
	Liveness    LivenessRule
	Threshold   float64 // the face-match score must exceed it
	Consistency float64 // every frame must match the first above it
	MinFrames   int
}

// JudgeLiveFace decides a live-face check against an enrolled template:
// every frame one face, every passive PAD score the engine gives (MiniFAS
// included, as at an eKYC decision) at or above its threshold on each, the
// active challenge performed (a still image cannot), the same person
// throughout, and the best frame matching the template with decide (the
// engine's calibration) saying Match and the score above the rule's
// threshold. It returns the reasons for refusal (none: accepted) and the
// scores. Package txauth (face re-authentication) and package credential
// (the branch verifier) both decide with it.
func JudgeLiveFace(steps []Step, frames []LiveFrame, tpl face.Template, rule LiveFaceRule, decide func(face.Score) (face.Decision, error)) (reasons []string, scores map[string]float64) {
	reasons = []string{}
	add := func(code string) {
		if !slices.Contains(reasons, code) {
			reasons = append(reasons, code)
		}
	}
	scores = map[string]float64{}
	var (
		lms    []Landmarks
		probes []face.Face
		pad    padMins
	)
	if len(frames) < rule.MinFrames {
		add(ReasonTooFewSelfies)
	}
	for _, f := range frames {
		switch {
		case f.Undecodable:
			add(ReasonSelfieUndecodable)
			continue
		case len(f.Faces) == 0:
			add(ReasonNoFaceSelfie)
			continue
		case len(f.Faces) > 1:
			add(ReasonMultipleFaces)
		}
		fc := largest(f.Faces)
		probes = append(probes, fc)
		lms = append(lms, toLandmarks(fc.Landmarks))
		if !fc.Liveness.Available {
			add(ReasonPADUnavailable)
		} else {
			pad.add(fc.Liveness)
		}
	}
	if pad.any {
		scores["liveness"] = pad.overall()
		low, missing := pad.judge(rule.Liveness)
		if len(missing) > 0 {
			add(ReasonPADUnavailable)
		}
		if len(low) > 0 {
			add(ReasonPADLow)
		}
	}
	if len(lms) > 0 {
		cr := CheckChallenge(steps, lms, rule.Liveness)
		switch {
		case cr.Static:
			add(ReasonStaticFrames)
		case !cr.Passed:
			add(ReasonChallengeFailed)
		}
	}
	if len(probes) > 1 {
		worst := 1.0
		for _, f := range probes[1:] {
			if sc, err := face.Compare(probes[0].Embedding, f.Embedding); err == nil {
				worst = math.Min(worst, float64(sc))
			} else {
				add(ReasonEngineFailed)
			}
		}
		scores["selfie_consistency"] = worst
		if worst <= rule.Consistency {
			add(ReasonSelfieInconsistent)
		}
	}
	best := math.Inf(-1)
	for _, f := range probes {
		sc, err := face.Compare(tpl, f.Embedding)
		if err != nil {
			add(ReasonEngineFailed)
			break
		}
		best = math.Max(best, float64(sc))
	}
	if !math.IsInf(best, -1) {
		scores["face_match"] = best
		dec, err := decide(face.Score(best))
		switch {
		case errors.Is(err, face.ErrUncalibrated):
			add(ReasonFaceUncalibrated)
		case err != nil:
			add(ReasonEngineFailed)
		case dec != face.Match || best <= rule.Threshold:
			add(ReasonFaceMismatch)
		}
	} else if len(probes) == 0 {
		add(ReasonNoFaceSelfie)
	}
	return reasons, scores
}

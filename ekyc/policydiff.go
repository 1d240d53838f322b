package ekyc

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// PolicyChange is one difference between a tenant's stored policy and a
// proposed one, as an administrator (CLI, later the portal) sees it. Field
// is the JSON path ("face_match.threshold", "methods.ho",
// "actions.face.mismatch"); Old and New are JSON values ("" when absent).
// Weakens is true when the change makes a control weaker: it then needs a
// second admin's approval (dual control); a strengthening change does not.
type PolicyChange struct {
	Field   string `json:"field"`
	Old     string `json:"old"`
	New     string `json:"new"`
	Weakens bool   `json:"weakens"`
	Why     string `json:"why"`
}

// Weakening reports whether any change weakens a control.
func Weakening(changes []PolicyChange) bool {
	return slices.ContainsFunc(changes, func(c PolicyChange) bool { return c.Weakens })
}

// ComparePolicies lists the changes from old to next and classifies each.
// old is nil when the tenant has no policy yet: no session can be opened
// then, so every method the first policy enables is a weakening change.
//
// What weakens: a method enabled; ホ kept after the 2027 amendment; a
// higher target FMR; a lower face-match or selfie-consistency threshold; a
// lower PAD minimum, a lower threshold in effect for one PAD score (its own
// or min_pad, where either policy sets one), or a lower yaw threshold; a blink made easier (higher
// ear_closed, lower ear_open); fewer selfie frames or challenge steps; a
// reason whose action goes from reject to review; a longer session or
// capture-link lifetime; the operator's reviewers allowed to review (more
// people see personal data and decide); unsigned chip reads made more
// acceptable (device_signature refuse -> reason -> ""). The opposite of each strengthens. A field this
// function does not know (added to Policy later) is reported as weakening
// until it is classified here: unknown changes fail closed.
//
// It is a pure function of its arguments.
func ComparePolicies(old *Policy, next Policy) []PolicyChange {
	var out []PolicyChange
	add := func(field string, o, n any, weakens bool, why string) {
		out = append(out, PolicyChange{Field: field, Old: jsonText(o), New: jsonText(n), Weakens: weakens, Why: why})
	}
	if old == nil {
		for _, m := range next.Methods {
			add("methods."+m, nil, true, true, "first policy: enables method "+m+" (no session could be opened before)")
		}
		return out
	}
	o := *old

	// Methods.
	for _, m := range next.Methods {
		if !slices.Contains(o.Methods, m) {
			add("methods."+m, false, true, true, "enables method "+m)
		}
	}
	for _, m := range o.Methods {
		if !slices.Contains(next.Methods, m) {
			add("methods."+m, true, false, false, "disables method "+m)
		}
	}
	if o.OperatorReview != next.OperatorReview {
		add("operator_review", o.OperatorReview, next.OperatorReview, next.OperatorReview,
			"lets or stops the operator's reviewers see and decide this tenant's sessions")
	}
	if o.ReviewFourEyes != next.ReviewFourEyes {
		add("review_four_eyes", o.ReviewFourEyes, next.ReviewFourEyes, !next.ReviewFourEyes,
			"asks or no longer asks a second reviewer for every approval")
	}
	if o.ReviewSLA() != next.ReviewSLA() {
		add("review_sla_seconds", o.ReviewSLASeconds, next.ReviewSLASeconds, next.ReviewSLA() > o.ReviewSLA(),
			"changes how soon a referred session must be reviewed (0: the default, 24 hours)")
	}
	if o.DeviceSignature != next.DeviceSignature {
		add("device_signature", o.DeviceSignature, next.DeviceSignature,
			deviceSignatureRank(next.DeviceSignature) < deviceSignatureRank(o.DeviceSignature),
			"changes what a chip read without a registered device's signature is (accepted, a reason, refused)")
	}
	if o.OfferHoAfterAmendment != next.OfferHoAfterAmendment {
		add("offer_ho_after_amendment", o.OfferHoAfterAmendment, next.OfferHoAfterAmendment, next.OfferHoAfterAmendment,
			"keeps or ends ホ after 2027-04-01")
	}

	// Numbers: weaker when lower (lowerWeakens) or when higher.
	num := func(field string, ov, nv float64, lowerWeakens bool, what string) {
		if ov == nv {
			return
		}
		weakens := (nv < ov) == lowerWeakens
		dir := "raises"
		if nv < ov {
			dir = "lowers"
		}
		add(field, ov, nv, weakens, dir+" "+what)
	}
	num("face_match.target_fmr", o.FaceMatch.TargetFMR, next.FaceMatch.TargetFMR, false, "the false-match rate the threshold is held to")
	num("face_match.threshold", o.FaceMatch.Threshold, next.FaceMatch.Threshold, true, "the face-match threshold")
	num("face_match.consistency", o.FaceMatch.Consistency, next.FaceMatch.Consistency, true, "the selfie-consistency threshold")
	num("liveness.min_pad", o.Liveness.MinPAD, next.Liveness.MinPAD, true, "the PAD (liveness) minimum")
	// Per-score PAD thresholds: where either policy sets one for a score,
	// compare the threshold the score is held to in effect (its own or
	// min_pad).
	for _, sc := range PADScores() {
		op, np := o.Liveness.PAD.get(sc), next.Liveness.PAD.get(sc)
		if op == nil && np == nil || op != nil && np != nil && *op == *np {
			continue
		}
		ov, nv := o.Liveness.PADThreshold(sc), next.Liveness.PADThreshold(sc)
		why := "sets the " + sc + " PAD score's own threshold (unset: min_pad)"
		if ov != nv {
			why = fmt.Sprintf("changes the threshold the %s PAD score is held to from %g to %g (unset: min_pad)", sc, ov, nv)
		}
		add("liveness.pad."+sc, padText(op), padText(np), nv < ov, why)
	}
	num("liveness.yaw_threshold", o.Liveness.YawThreshold, next.Liveness.YawThreshold, true, "the head turn a challenge step needs")
	num("liveness.ear_closed", o.Liveness.EARClosed, next.Liveness.EARClosed, false, "the eye-aspect ratio that counts as closed")
	num("liveness.ear_open", o.Liveness.EAROpen, next.Liveness.EAROpen, true, "the eye-aspect ratio that counts as open")
	num("min_selfie_frames", float64(o.MinSelfieFrames), float64(next.MinSelfieFrames), true, "the selfie frames required")
	num("challenge_steps", float64(o.ChallengeSteps), float64(next.ChallengeSteps), true, "the liveness challenge steps")
	num("session_ttl_seconds", float64(o.SessionTTLSeconds), float64(next.SessionTTLSeconds), false, "a session's lifetime")
	num("capture_token_ttl_seconds", float64(o.CaptureTokenTTLSeconds), float64(next.CaptureTokenTTLSeconds), false, "the capture link's lifetime")
	num("handoff_ttl_seconds", o.HandoffTTL().Seconds(), next.HandoffTTL().Seconds(), false, "the ワ hand-off link's lifetime")

	// Actions: compare what each reason does in effect (explicit or
	// default), over every code either policy or the defaults name.
	codes := map[string]bool{}
	for c := range DefaultActions() {
		codes[c] = true
	}
	for c := range o.Actions {
		codes[c] = true
	}
	for c := range next.Actions {
		codes[c] = true
	}
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		oa, na := o.Action(c), next.Action(c)
		if oa == na {
			continue
		}
		add("actions."+c, string(oa), string(na), actionRank(na) < actionRank(oa), fmt.Sprintf("%s now leads to %s instead of %s", c, na, oa))
	}

	// Fail closed on fields not classified above.
	oj, nj := leaves(o), leaves(next)
	for _, k := range slices.Sorted(maps.Keys(unionKeys(oj, nj))) {
		if classified(k) || oj[k] == nj[k] {
			continue
		}
		out = append(out, PolicyChange{Field: k, Old: oj[k], New: nj[k], Weakens: true,
			Why: "a field the weakening check does not classify: treated as weakening"})
	}
	return out
}

// deviceSignatureRank orders the device-signature policies from weakest
// ("" accepts unsigned reads) to strongest ("refuse"); an unknown value
// ranks weakest.
func deviceSignatureRank(v string) int {
	switch v {
	case DeviceSignatureRefuse:
		return 2
	case DeviceSignatureReason:
		return 1
	}
	return 0
}

// actionRank orders actions from weakest to strongest. An action this
// package does not know ranks weakest, so a change to it needs approval.
func actionRank(a Action) int {
	switch a {
	case Reject:
		return 2
	case Review:
		return 1
	}
	return 0
}

// classifiedFields are the JSON leaves ComparePolicies handles by name.
var classifiedFields = []string{
	"methods", "offer_ho_after_amendment", "operator_review", "device_signature",
	"face_match.target_fmr", "face_match.threshold", "face_match.consistency",
	"liveness.min_pad", "liveness.pad", "liveness.yaw_threshold", "liveness.ear_closed", "liveness.ear_open",
	"min_selfie_frames", "challenge_steps", "actions", "session_ttl_seconds", "capture_token_ttl_seconds", "handoff_ttl_seconds",
	"review_four_eyes", "review_sla_seconds",
}

func classified(leaf string) bool {
	for _, f := range classifiedFields {
		if leaf == f || strings.HasPrefix(leaf, f+".") {
			return true
		}
	}
	return false
}

// leaves flattens a policy's JSON to path -> JSON text (objects are walked;
// arrays and scalars are leaves).
func leaves(p Policy) map[string]string {
	b, _ := json.Marshal(p)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if obj, ok := v.(map[string]any); ok && prefix != "actions" {
			for k, x := range obj {
				walk(strings.TrimPrefix(prefix+"."+k, "."), x)
			}
			return
		}
		out[prefix] = jsonText(v)
	}
	walk("", m)
	return out
}

func unionKeys(a, b map[string]string) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func jsonText(v any) string {
	if v == nil {
		return ""
	}
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// padText shows a per-score PAD threshold ("" when unset).
func padText(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

package ekyc

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestComparePolicies: every policy field, changed each way, is classified
// as weakening or strengthening, and the completeness check below makes a
// new Policy field fail this test until it is classified.
func TestComparePolicies(t *testing.T) {
	base := ExamplePolicy(0.6)
	base.Methods = []string{"he", "wa"}
	base.MinSelfieFrames = 6
	base.DeviceSignature = DeviceSignatureReason
	tests := []struct {
		field   string
		change  func(p *Policy)
		weakens bool
	}{
		{"methods.ho", func(p *Policy) { p.Methods = append(p.Methods, "ho") }, true},
		{"methods.wa", func(p *Policy) { p.Methods = []string{"he"} }, false},
		{"offer_ho_after_amendment", func(p *Policy) { p.OfferHoAfterAmendment = true }, true},
		{"operator_review", func(p *Policy) { p.OperatorReview = true }, true},
		{"review_four_eyes", func(p *Policy) { p.ReviewFourEyes = true }, false},
		{"review_sla_seconds", func(p *Policy) { p.ReviewSLASeconds = 48 * 3600 }, true},
		{"review_sla_seconds", func(p *Policy) { p.ReviewSLASeconds = 3600 }, false},
		{"device_signature", func(p *Policy) { p.DeviceSignature = DeviceSignatureOptional }, true},
		{"device_signature", func(p *Policy) { p.DeviceSignature = DeviceSignatureRefuse }, false},
		{"face_match.target_fmr", func(p *Policy) { p.FaceMatch.TargetFMR = 1e-3 }, true},
		{"face_match.target_fmr", func(p *Policy) { p.FaceMatch.TargetFMR = 1e-5 }, false},
		{"face_match.threshold", func(p *Policy) { p.FaceMatch.Threshold = 0.5 }, true},
		{"face_match.threshold", func(p *Policy) { p.FaceMatch.Threshold = 0.7 }, false},
		{"face_match.consistency", func(p *Policy) { p.FaceMatch.Consistency = 0.4 }, true},
		{"face_match.consistency", func(p *Policy) { p.FaceMatch.Consistency = 0.8 }, false},
		{"liveness.min_pad", func(p *Policy) { p.Liveness.MinPAD = 0.5 }, true},
		{"liveness.min_pad", func(p *Policy) { p.Liveness.MinPAD = 0.9 }, false},
		{"liveness.pad.antispoof", func(p *Policy) { p.Liveness.PAD.Antispoof = ptr(0.3) }, true},
		{"liveness.pad.antispoof", func(p *Policy) { p.Liveness.PAD.Antispoof = ptr(0.9) }, false},
		{"liveness.pad.liveness", func(p *Policy) { p.Liveness.PAD.Liveness = ptr(0) }, true},
		{"liveness.pad.liveness", func(p *Policy) { p.Liveness.PAD.Liveness = ptr(0.95) }, false},
		{"liveness.pad.minifas", func(p *Policy) { p.Liveness.PAD.MiniFAS = ptr(0.5) }, true},
		{"liveness.pad.minifas", func(p *Policy) { p.Liveness.PAD.MiniFAS = ptr(0.85) }, false},
		{"liveness.yaw_threshold", func(p *Policy) { p.Liveness.YawThreshold = 0.1 }, true},
		{"liveness.yaw_threshold", func(p *Policy) { p.Liveness.YawThreshold = 0.4 }, false},
		{"liveness.ear_closed", func(p *Policy) { p.Liveness.EARClosed = 0.22 }, true},
		{"liveness.ear_closed", func(p *Policy) { p.Liveness.EARClosed = 0.12 }, false},
		{"liveness.ear_open", func(p *Policy) { p.Liveness.EAROpen = 0.2 }, true},
		{"liveness.ear_open", func(p *Policy) { p.Liveness.EAROpen = 0.3 }, false},
		{"min_selfie_frames", func(p *Policy) { p.MinSelfieFrames = 5 }, true},
		{"min_selfie_frames", func(p *Policy) { p.MinSelfieFrames = 8 }, false},
		{"challenge_steps", func(p *Policy) { p.ChallengeSteps = 2 }, true},
		{"challenge_steps", func(p *Policy) { p.ChallengeSteps = 4 }, false},
		{"actions." + ReasonFaceMismatch, func(p *Policy) { p.Actions = map[string]Action{ReasonFaceMismatch: Review} }, true},
		{"actions." + ReasonFaceUncalibrated, func(p *Policy) { p.Actions = map[string]Action{ReasonFaceUncalibrated: Reject} }, false},
		{"session_ttl_seconds", func(p *Policy) { p.SessionTTLSeconds = 3600 }, true},
		{"session_ttl_seconds", func(p *Policy) { p.SessionTTLSeconds = 20 * 60; p.CaptureTokenTTLSeconds = 10 * 60 }, false},
		{"capture_token_ttl_seconds", func(p *Policy) { p.CaptureTokenTTLSeconds = 20 * 60 }, true},
		{"capture_token_ttl_seconds", func(p *Policy) { p.CaptureTokenTTLSeconds = 5 * 60 }, false},
		{"handoff_ttl_seconds", func(p *Policy) { p.HandoffTTLSeconds = 600 }, true},
		{"handoff_ttl_seconds", func(p *Policy) { p.HandoffTTLSeconds = 120 }, false},
	}
	seen := map[string][2]bool{} // field -> {weakening case, strengthening case}
	for _, tt := range tests {
		old := base
		old.Methods = slices.Clone(base.Methods)
		next := old
		next.Methods = slices.Clone(old.Methods)
		tt.change(&next)
		if err := next.Validate(); err != nil {
			t.Fatalf("%s: the changed policy is invalid: %v", tt.field, err)
		}
		changes := ComparePolicies(&old, next)
		var got *PolicyChange
		for i := range changes {
			if changes[i].Field == tt.field {
				got = &changes[i]
			}
		}
		if got == nil {
			t.Errorf("%s: not reported (changes %+v)", tt.field, changes)
			continue
		}
		if got.Weakens != tt.weakens || got.Why == "" {
			t.Errorf("ComparePolicies(%s) = %+v, want weakens=%v", tt.field, *got, tt.weakens)
		}
		if Weakening(changes) != tt.weakens {
			t.Errorf("%s: Weakening(%+v) = %v, want %v", tt.field, changes, Weakening(changes), tt.weakens)
		}
		key := tt.field
		if strings.HasPrefix(key, "actions.") {
			key = "actions"
		}
		if strings.HasPrefix(key, "methods.") {
			key = "methods"
		}
		s := seen[key]
		if tt.weakens {
			s[0] = true
		} else {
			s[1] = true
		}
		seen[key] = s
	}
	// Four eyes turned off (from a policy that has it) weakens.
	fourEyes := base
	fourEyes.ReviewFourEyes = true
	if c := ComparePolicies(&fourEyes, base); len(c) != 1 || c[0].Field != "review_four_eyes" || !c[0].Weakens {
		t.Errorf("ComparePolicies(four eyes off) = %+v, want one weakening change", c)
	} else {
		seen["review_four_eyes"] = [2]bool{true, seen["review_four_eyes"][1]}
	}
	// Completeness: every JSON leaf of Policy is classified and tested in
	// both directions (a boolean only where it can weaken).
	for _, f := range policyLeafFields() {
		if !classified(f) {
			t.Errorf("Policy field %s is not classified in ComparePolicies: add it (and a case here)", f)
		}
		s := seen[f]
		if !s[0] || !s[1] && f != "offer_ho_after_amendment" && f != "operator_review" {
			t.Errorf("Policy field %s: tested weakening %v, strengthening %v; want both", f, s[0], s[1])
		}
	}
	if c := ComparePolicies(&base, base); len(c) != 0 {
		t.Errorf("ComparePolicies(same) = %+v, want none", c)
	}
	// Turning the booleans off strengthens.
	for _, set := range []func(*Policy){
		func(p *Policy) { p.OfferHoAfterAmendment = true },
		func(p *Policy) { p.OperatorReview = true },
	} {
		on := base
		set(&on)
		if c := ComparePolicies(&on, base); len(c) != 1 || c[0].Weakens {
			t.Errorf("turning %+v off = %+v, want one strengthening change", on, c)
		}
	}
}

// TestComparePoliciesFirstAndMixed: the first policy enables methods (a
// weakening change); a change that strengthens one control and weakens
// another weakens.
func TestComparePoliciesFirstAndMixed(t *testing.T) {
	first := ComparePolicies(nil, ExamplePolicy(0.6))
	if !Weakening(first) || len(first) != 1 || first[0].Field != "methods.he" {
		t.Errorf("first policy = %+v, want one weakening methods.he", first)
	}
	base := ExamplePolicy(0.6)
	mixed := base
	mixed.FaceMatch.Threshold = 0.7
	mixed.Liveness.MinPAD = 0.7
	c := ComparePolicies(&base, mixed)
	if len(c) != 2 || !Weakening(c) {
		t.Errorf("mixed change = %+v, want two changes, weakening", c)
	}
}

// TestComparePoliciesFailsClosed: a leaf the classifier does not know is
// weakening.
func TestComparePoliciesFailsClosed(t *testing.T) {
	if classified("future_rule") || !classified("face_match.threshold") || !classified("actions") {
		t.Fatal("classified() is wrong")
	}
	a, b := map[string]string{"future_rule": "1"}, map[string]string{"future_rule": "2"}
	if k := unionKeys(a, b); !k["future_rule"] {
		t.Fatal("unionKeys")
	}
	if got := fmt.Sprint(leaves(ExamplePolicy(0.5))["face_match.threshold"]); got != "0.5" {
		t.Errorf("leaves()[face_match.threshold] = %s", got)
	}
}

// policyLeafFields lists Policy's JSON leaf paths by reflection (for the
// completeness test: every one must be classified).
func policyLeafFields() []string {
	var out []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				name = f.Name
			}
			path := strings.TrimPrefix(prefix+"."+name, ".")
			if f.Type.Kind() == reflect.Struct {
				walk(path, f.Type)
				continue
			}
			out = append(out, path)
		}
	}
	walk("", reflect.TypeOf(Policy{}))
	return out
}

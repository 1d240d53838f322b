package ekyc

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/face"
)

func ptr(v float64) *float64 { return &v }

// padFrames returns selfie frames (one face each) with the given passive
// PAD scores; minifas < 0 means the engine gave no MiniFAS score.
func padFrames(t *testing.T, frames [][3]float64) [][]face.Face {
	t.Helper()
	tpl, err := face.NewTemplate(testModel, identityVector(1))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]face.Face
	for i, f := range frames {
		l := face.Liveness{Available: true, Real: float32(f[0]), Live: float32(f[1])}
		if f[2] >= 0 {
			l.MiniFAS, l.HasMiniFAS = float32(f[2]), true
		}
		out = append(out, []face.Face{{Box: face.Box{10, 10, 100, 100}, Score: 0.99, Landmarks: landmarks(0.1*float64(i%3-1), 0.3),
			Liveness: l, Embedding: tpl, Model: testModel}})
	}
	return out
}

// TestEvaluatePADPerScore: each passive PAD score is held to its own
// threshold where the policy sets one, else to min_pad; a score the policy
// sets a threshold for but the engine does not give is unavailable, never
// a pass.
func TestEvaluatePADPerScore(t *testing.T) {
	he, _ := MethodByAPI("he")
	good := [3]float64{0.95, 0.95, 0.95}
	tests := []struct {
		name        string
		pad         PADThresholds
		minPAD      float64
		frames      [][3]float64
		low, unavai bool
		lowNames    string // scores named in the low reason's detail
	}{
		{"all above min_pad", PADThresholds{}, 0.8, [][3]float64{good, good}, false, false, ""},
		{"minifas low under min_pad", PADThresholds{}, 0.8, [][3]float64{good, {0.95, 0.95, 0.3}}, true, false, "minifas"},
		{"exactly at the threshold passes", PADThresholds{}, 0.8, [][3]float64{{0.8, 0.8, 0.8}}, false, false, ""},
		{"no minifas, none required", PADThresholds{}, 0.8, [][3]float64{{0.9, 0.9, -1}}, false, false, ""},
		// human's two scores do not separate prints: an operator lowers
		// theirs and keeps MiniFAS strict.
		{"antispoof and liveness relaxed", PADThresholds{Antispoof: ptr(0.2), Liveness: ptr(0.2)}, 0.8,
			[][3]float64{{0.3, 0.25, 0.9}}, false, false, ""},
		{"relaxed scores, minifas still low", PADThresholds{Antispoof: ptr(0.2), Liveness: ptr(0.2)}, 0.8,
			[][3]float64{{0.3, 0.25, 0.7}}, true, false, "minifas"},
		{"own threshold stricter than min_pad", PADThresholds{MiniFAS: ptr(0.95)}, 0.5,
			[][3]float64{{0.9, 0.9, 0.94}}, true, false, "minifas"},
		{"two low, both named", PADThresholds{Liveness: ptr(0.6)}, 0.8,
			[][3]float64{{0.7, 0.5, 0.9}}, true, false, "antispoof, liveness"},
		{"minifas required but absent", PADThresholds{MiniFAS: ptr(0.5)}, 0.5,
			[][3]float64{{0.9, 0.9, -1}, {0.9, 0.9, 0.9}}, false, true, ""},
		{"minifas lowest of every frame counts", PADThresholds{MiniFAS: ptr(0.5)}, 0.1,
			[][3]float64{{0.9, 0.9, 0.9}, {0.9, 0.9, 0.49}, {0.9, 0.9, 0.9}}, true, false, "minifas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ExamplePolicy(0.5)
			p.Liveness.MinPAD, p.Liveness.PAD = tt.minPAD, tt.pad
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			an := &analysis{model: testModel, selfies: padFrames(t, tt.frames)}
			d := evaluate(he, p, nil, an, (&testFace{}).Decide, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC))
			codes := d.ReasonCodes()
			if got := slices.Contains(codes, ReasonPADLow); got != tt.low {
				t.Errorf("evaluate() low = %v (%v), want %v", got, codes, tt.low)
			}
			if got := slices.Contains(codes, ReasonPADUnavailable); got != tt.unavai {
				t.Errorf("evaluate() unavailable = %v (%v), want %v", got, codes, tt.unavai)
			}
			for _, r := range d.Reasons {
				if r.Code == ReasonPADLow && !strings.HasSuffix(r.Detail, "("+tt.lowNames+")") {
					t.Errorf("low reason detail = %q, want it to name %q", r.Detail, tt.lowNames)
				}
			}
			perScore := tt.pad != (PADThresholds{})
			if _, ok := d.Thresholds["pad_minifas"]; ok != perScore {
				t.Errorf("thresholds = %v: per-score thresholds shown %v, want %v", d.Thresholds, ok, perScore)
			}
			if perScore {
				if got, want := d.Thresholds["pad_minifas"], p.Liveness.PADThreshold(PADMiniFAS); got != want {
					t.Errorf("thresholds[pad_minifas] = %v, want %v", got, want)
				}
			}
		})
	}
}

// TestJudgeLiveFacePADPerScore: the live-face check of txauth and the
// branch verifier applies the same per-score rule, MiniFAS included.
func TestJudgeLiveFacePADPerScore(t *testing.T) {
	tpl, err := face.NewTemplate(testModel, identityVector(1))
	if err != nil {
		t.Fatal(err)
	}
	decide := func(face.Score) (face.Decision, error) { return face.Match, nil }
	for _, tt := range []struct {
		name   string
		pad    PADThresholds
		frames [][3]float64
		want   string // the PAD reason expected, "" none
	}{
		{"good", PADThresholds{}, [][3]float64{{0.9, 0.9, 0.9}}, ""},
		{"minifas low", PADThresholds{}, [][3]float64{{0.9, 0.9, 0.2}}, ReasonPADLow},
		{"antispoof relaxed", PADThresholds{Antispoof: ptr(0.1)}, [][3]float64{{0.2, 0.9, 0.9}}, ""},
		{"minifas required, absent", PADThresholds{MiniFAS: ptr(0.5)}, [][3]float64{{0.9, 0.9, -1}}, ReasonPADUnavailable},
	} {
		var frames []LiveFrame
		for _, fs := range padFrames(t, tt.frames) {
			frames = append(frames, LiveFrame{Faces: fs})
		}
		rule := LiveFaceRule{Liveness: LivenessRule{MinPAD: 0.8, PAD: tt.pad, YawThreshold: 0.25, EARClosed: 0.18, EAROpen: 0.24},
			Threshold: 0.5, Consistency: 0.5, MinFrames: 1}
		reasons, _ := JudgeLiveFace(nil, frames, tpl, rule, decide)
		for _, code := range []string{ReasonPADLow, ReasonPADUnavailable} {
			if got := slices.Contains(reasons, code); got != (code == tt.want) {
				t.Errorf("%s: JudgeLiveFace() = %v, want %q among PAD reasons", tt.name, reasons, tt.want)
			}
		}
	}
}

// TestPolicyPADThresholdsValidate: per-score thresholds are in [0, 1];
// the policy document refuses unknown score names.
func TestPolicyPADThresholdsValidate(t *testing.T) {
	for _, v := range []float64{-0.01, 1.01} {
		p := ExamplePolicy(0.5)
		p.Liveness.PAD.MiniFAS = ptr(v)
		if err := p.Validate(); !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "liveness.pad.minifas") {
			t.Errorf("Validate(minifas %v) = %v, want ErrInvalidInput naming liveness.pad.minifas", v, err)
		}
	}
	doc := func(pad string) []byte {
		return []byte(`{"methods":["he"],"face_match":{"target_fmr":0.0001,"threshold":0.5,"consistency":0.5},` +
			`"liveness":{"min_pad":0.8,` + pad + `"yaw_threshold":0.25,"ear_closed":0.18,"ear_open":0.24},` +
			`"min_selfie_frames":4,"challenge_steps":3,"session_ttl_seconds":1800,"capture_token_ttl_seconds":900}`)
	}
	p, err := ParsePolicy(doc(`"pad":{"antispoof":0.2,"minifas":0.6},`))
	if err != nil {
		t.Fatalf("ParsePolicy(pad) = %v", err)
	}
	if p.Liveness.PADThreshold(PADAntispoof) != 0.2 || p.Liveness.PADThreshold(PADLiveness) != 0.8 || p.Liveness.PADThreshold(PADMiniFAS) != 0.6 {
		t.Errorf("ParsePolicy(pad) thresholds = %+v", p.Liveness)
	}
	for _, bad := range []string{`"pad":{"fusion":0.5},`, `"pad":{"minifas":"0.5"},`, `"pad":{"minifas":2},`} {
		if _, err := ParsePolicy(doc(bad)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParsePolicy(%s) = %v, want ErrInvalidInput", bad, err)
		}
	}
	// A policy without per-score thresholds stores as before (no "pad").
	p, err = ParsePolicy(doc(""))
	if err != nil {
		t.Fatalf("ParsePolicy(no pad) = %v", err)
	}
	if b, _ := json.Marshal(p); strings.Contains(string(b), `"pad"`) {
		t.Errorf("a policy without per-score thresholds stores as %s, want no pad", b)
	}
}

// TestComparePoliciesPADRemoved: removing a score's own threshold that was
// above min_pad lowers it in effect (weakening); adding one equal to
// min_pad changes nothing in effect (not weakening).
func TestComparePoliciesPADRemoved(t *testing.T) {
	strict := ExamplePolicy(0.6)
	strict.Liveness.PAD.MiniFAS = ptr(0.95)
	c := ComparePolicies(&strict, ExamplePolicy(0.6))
	if len(c) != 1 || c[0].Field != "liveness.pad.minifas" || !c[0].Weakens || c[0].New != "" {
		t.Errorf("ComparePolicies(remove minifas 0.95 over min_pad 0.8) = %+v, want one weakening change", c)
	}
	same := ExamplePolicy(0.6)
	same.Liveness.PAD.Antispoof = ptr(same.Liveness.MinPAD)
	plain := ExamplePolicy(0.6)
	c = ComparePolicies(&plain, same)
	if len(c) != 1 || c[0].Weakens {
		t.Errorf("ComparePolicies(add antispoof = min_pad) = %+v, want one change, not weakening", c)
	}
	// min_pad lowered under a score's own threshold: min_pad weakens, the
	// score with its own threshold is not reported.
	low := strict
	low.Liveness.MinPAD = 0.5
	c = ComparePolicies(&strict, low)
	if len(c) != 1 || c[0].Field != "liveness.min_pad" || !c[0].Weakens {
		t.Errorf("ComparePolicies(min_pad lowered) = %+v", c)
	}
}

package ekyc

import (
	"context"
	"slices"
	"testing"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// statedFace is testFace with a stated calibration FMR.
type statedFace struct {
	*testFace
	fmr float64
	ok  bool
}

func (s statedFace) CalibrationFMR() (float64, bool) { return s.fmr, s.ok }

// silentFace is a calibrated engine that does not state its FMR (no
// CalibrationReporter).
type silentFace struct{ tf *testFace }

func (s silentFace) AnalyzeImage(ctx context.Context, b []byte) ([]face.Face, error) {
	return s.tf.AnalyzeImage(ctx, b)
}
func (s silentFace) Model() string                               { return s.tf.Model() }
func (s silentFace) Decide(sc face.Score) (face.Decision, error) { return s.tf.Decide(sc) }

func TestCalibrationAgainstPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		tf := e.face
		for _, tc := range []struct {
			name    string
			engine  func(*testFace) FaceEngine
			outcome Outcome
			fmr     float64 // recorded face_engine_fmr; 0: none
		}{
			{"same FMR as policy", func(tf *testFace) FaceEngine { return statedFace{tf, 1e-4, true} }, OutcomeApproved, 1e-4},
			{"stricter than policy", func(tf *testFace) FaceEngine { return statedFace{tf, 1e-6, true} }, OutcomeApproved, 1e-6},
			{"weaker than policy", func(tf *testFace) FaceEngine { return statedFace{tf, 1e-3, true} }, OutcomeReview, 1e-3},
			{"FMR not stated", func(tf *testFace) FaceEngine { return statedFace{tf, 0, false} }, OutcomeReview, 0},
			{"no calibration reporter", func(tf *testFace) FaceEngine { return silentFace{tf} }, OutcomeReview, 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cfg := e.svc.cfg
				cfg.Face = tc.engine(tf)
				svc, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				e.svc = svc
				ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
				codes := ss.Decision.ReasonCodes()
				weaker := slices.Contains(codes, ReasonCalibrationWeaker)
				if ss.Outcome != tc.outcome || weaker != (tc.outcome == OutcomeReview) {
					t.Errorf("Submit(%s) = %s %v, want %s (reason %s: %v)", tc.name, ss.Outcome, codes, tc.outcome, ReasonCalibrationWeaker, tc.outcome == OutcomeReview)
				}
				if got := ss.Decision.Thresholds["face_engine_fmr"]; got != tc.fmr {
					t.Errorf("Submit(%s) thresholds[face_engine_fmr] = %g, want %g", tc.name, got, tc.fmr)
				}
			})
		}
	})
}

// A weaker calibration never turns a mismatch into a review: the selfie of
// another person is still rejected.
func TestWeakCalibrationStillRejectsMismatch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, func(c *Config) { c.Face = statedFace{c.Face.(*testFace), 1e-2, true} })
		ss := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(9, 0.95) })
		codes := ss.Decision.ReasonCodes()
		if ss.Outcome != OutcomeRejected || !slices.Contains(codes, ReasonFaceMismatch) || slices.Contains(codes, ReasonCalibrationWeaker) {
			t.Errorf("Submit(another person, weak calibration) = %s %v, want rejected with %s only", ss.Outcome, codes, ReasonFaceMismatch)
		}
	})
}

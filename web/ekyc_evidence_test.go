package web

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/madoguchi/madoguchi/ekyc"
)

// evidenceOnly serves one evidence view; the other EKYCService methods are
// not reached by this test.
type evidenceOnly struct {
	EKYCService
	v *ekyc.EvidenceView
}

func (e evidenceOnly) Evidence(ctx context.Context, st ekyc.Staff, id string) (*ekyc.EvidenceView, error) {
	if id != e.v.SessionID {
		return nil, ekyc.ErrNotFound
	}
	return e.v, nil
}

// TestEKYCEvidenceChecklist: the reviewer's evidence view carries the
// checklist of what automation cannot establish.
func TestEKYCEvidenceChecklist(t *testing.T) {
	ho, _ := ekyc.MethodByAPI("ho")
	v := &ekyc.EvidenceView{SessionID: "ses_1", Method: ho, Checklist: []ekyc.ChecklistItem{{Code: "ho.security_features", Text: "security features"}, {Code: "ho.portrait", Text: "portrait is the applicant"}}}
	staff := func(_ context.Context, tok string) (ekyc.Staff, error) {
		if tok != "rev" {
			return ekyc.Staff{}, ErrInvalidToken
		}
		return ekyc.Staff{ID: "st_r", Roles: []string{ekyc.RoleReviewer}}, nil
	}
	s, _ := newTestServer(t, Config{EKYC: &EKYCConfig{Service: evidenceOnly{v: v}, Staff: staff}})
	w := do(t, s, "GET", "/v1/ekyc/review/ses_1/evidence", nil, map[string]string{"Authorization": "Bearer rev"})
	if w.Code != 200 {
		t.Fatalf("evidence = %d %s", w.Code, w.Body)
	}
	var got struct {
		Method    string               `json:"method"`
		Checklist []ekyc.ChecklistItem `json:"checklist"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Method != "ho" || len(got.Checklist) != 2 || got.Checklist[1].Text != "portrait is the applicant" || got.Checklist[1].Code != "ho.portrait" {
		t.Errorf("evidence = %+v, want method ho and the two checklist items", got)
	}
	if w := do(t, s, "GET", "/v1/ekyc/review/ses_1/evidence", nil, nil); w.Code != 401 {
		t.Errorf("evidence without a staff token = %d, want 401", w.Code)
	}
}

package portal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/imaging"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal/form"
)

// reviewPage is the workbench page of one session.
type reviewPage struct {
	ID      string
	S       *ekyc.ReviewSummary
	Tenant  string
	Age     string
	Overdue bool
	Final   bool // no longer waiting for review
	Mine    bool // the person holds the claim: the evidence is shown
	Other   bool // someone else holds it
	FirstBy string
	Recent  bool // signed in recently enough to decide without re-authenticating

	// The evidence (Mine only; its view is audited by the ekyc domain).
	Ev        *ekyc.EvidenceView
	Selfies   []frameView
	Docs      []docView
	ChipPhoto bool
	Steps     []stepView
	Face      faceView
	Chip      *chipView
	Reasons   []reasonView

	Form                          form.Decision
	Errors                        form.Errors
	ApproveReasons, RejectReasons []string
	NeedClaims                    bool // a ホ approval must carry what was read off the images
	DocTypes                      []string
	ClaimFields, DocFields        []claimField
	FirstClaims                   []attr
}

// claimField is one input of the ホ claims.
type claimField struct {
	Name, Label, Value, Type, Auto, Err string
}

// fields fills the ホ claim inputs from the form and its errors.
func (p *reviewPage) fields() {
	f := func(name, value, typ, auto string) claimField {
		return claimField{Name: name, Label: "review." + name, Value: value, Type: typ, Auto: auto, Err: p.Errors[name]}
	}
	p.ClaimFields = []claimField{f("family_name", p.Form.FamilyName, "text", "off"), f("given_name", p.Form.GivenName, "text", "off"),
		f("birthdate", p.Form.Birthdate, "date", "off"), f("address", p.Form.Address, "text", "off")}
	p.DocFields = []claimField{f("doc_number", p.Form.DocNumber, "text", "off"), f("doc_expiry", p.Form.DocExpiry, "date", "off")}
}

// reasonView is an automated reason; Failed marks a check that failed
// (its default action is reject) and that the policy referred instead:
// approving overrides the engine.
type reasonView struct {
	ekyc.Reason
	Failed bool
}

type frameView struct {
	Seq       int
	Kind      string
	Yaw, EAR  string
	HasMetric bool
}

type docView struct {
	Kind string
	Seq  int
	Card bool // a card outline was found: the rectified card is shown
}

type stepView struct {
	N      int
	Step   string
	Status string // done, failed, not_reached
}

type faceView struct {
	Has                             bool
	Score, Threshold, TargetFMR     string
	EngineFMR                       string
	Above, HasEngineFMR, Consistent bool
	Consistency                     string
}

type chipView struct {
	Kind     string
	Verified bool
	Expiry   string
	Checks   []document.Check
	Signed   []attr
	Unsigned []string
}

type attr struct{ Name, Value string }

// reviewShow shows one session: its summary to any reviewer who may
// review it, and the evidence side by side with the decision form to the
// reviewer holding the claim.
func reviewShow(rq *Request) error {
	rv, id, err := loadReview(rq)
	if err != nil {
		return err
	}
	page, err := reviewPageFor(rq, rv, id)
	if err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "review_session", "review.session_title", page)
}

// reviewPageFor builds the page (and, for the claim's holder, reads the
// evidence: an audited view).
func reviewPageFor(rq *Request, rv Reviews, id string) (*reviewPage, error) {
	st := rq.reviewer()
	sum, err := rv.Summary(rq.Ctx(), st, id)
	if err != nil {
		return nil, notFoundEKYC(err)
	}
	now := rq.s.cfg.Now()
	p := &reviewPage{ID: id, S: sum, Tenant: rq.tenantName(sum.TenantID), Age: age(now.Sub(sum.DecidedAt)), Overdue: sum.Overdue(now),
		Final: sum.State != ekyc.StateDecided || sum.Outcome != ekyc.OutcomeReview, Recent: rq.recentlyAuthenticated(),
		DocTypes: form.DocumentTypes}
	p.Mine = !p.Final && sum.ClaimedBy == st.ID
	p.Other = !p.Final && sum.ClaimedBy != "" && !p.Mine
	if sum.First != nil {
		p.FirstBy = sum.First.StaffID
		if acct, err := rq.s.cfg.Staff.Account(rq.Ctx(), sum.First.StaffID); err == nil {
			p.FirstBy = acct.Username
		}
	}
	if sum.Decision != nil {
		def := ekyc.DefaultActions()
		for _, r := range sum.Decision.Reasons {
			p.Reasons = append(p.Reasons, reasonView{Reason: r, Failed: def[r.Code] == ekyc.Reject})
		}
		p.Face = faceOf(sum.Decision)
	}
	for _, r := range ekyc.ReviewReasons() {
		if r.Approve {
			p.ApproveReasons = append(p.ApproveReasons, r.Code)
		}
		if r.Reject {
			p.RejectReasons = append(p.RejectReasons, r.Code)
		}
	}
	if !p.Mine {
		return p, nil
	}
	ev, err := rv.Evidence(rq.Ctx(), st, id)
	if err != nil {
		return nil, notFoundEKYC(err)
	}
	p.Ev = ev
	p.fields()
	if fc := ev.FirstClaims; fc != nil {
		keys := make([]string, 0, len(fc.Claims))
		for k := range fc.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.FirstClaims = append(p.FirstClaims, attr{Name: k, Value: claimText(fc.Claims[k])})
		}
		if d := fc.Document; d != nil {
			p.FirstClaims = append(p.FirstClaims, attr{Name: "document", Value: d.Type + " " + d.DocumentNumber + " " + d.DateOfExpiry})
		}
	}
	p.NeedClaims = ev.Method.NeedsDocumentImages && ev.FirstClaims == nil
	p.ChipPhoto = ev.Method.NeedsChip && ev.Chip != nil && ev.Chip.PhotoFormat != ""
	var lv *ekyc.ChallengeResult
	if ev.Decision != nil {
		lv = ev.Decision.Liveness
		p.Steps = stepsOf(ev.Decision)
	}
	outlines := map[string]bool{}
	if ev.Documents != nil {
		for _, k := range []imaging.FrameKind{imaging.Front, imaging.Back, imaging.Tilt} {
			if fr, ok := ev.Documents.Frame(k); ok && fr.Outline != nil {
				outlines["doc_"+string(k)] = true
			}
		}
	}
	seenDoc := map[string]bool{}
	i := 0
	for _, f := range ev.Frames {
		k := string(f.Kind)
		if f.Kind == ekyc.FrameSelfie {
			fv := frameView{Seq: f.Seq, Kind: k}
			if lv != nil && i < len(lv.Yaws) && i < len(lv.EARs) {
				fv.Yaw, fv.EAR, fv.HasMetric = strconv.FormatFloat(lv.Yaws[i], 'f', 2, 64), strconv.FormatFloat(lv.EARs[i], 'f', 2, 64), true
			}
			i++
			p.Selfies = append(p.Selfies, fv)
			continue
		}
		p.Docs = append(p.Docs, docView{Kind: k, Seq: f.Seq, Card: outlines[k] && !seenDoc[k]})
		seenDoc[k] = true
	}
	if c := ev.Chip; c != nil {
		cv := &chipView{Kind: string(c.Kind), Verified: c.Verified, Expiry: c.Expiry, Checks: c.Checks, Unsigned: c.Unsigned}
		keys := make([]string, 0, len(c.Claims))
		for k := range c.Claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			cv.Signed = append(cv.Signed, attr{Name: k, Value: claimText(c.Claims[k])})
		}
		p.Chip = cv
	}
	return p, nil
}

// claimText shows a claim value: a string as it is, anything else as JSON.
func claimText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// stepsOf lists the liveness challenge step by step with how far the
// person got.
func stepsOf(d *ekyc.Decision) []stepView {
	var out []stepView
	for i, s := range d.Challenge {
		v := stepView{N: i + 1, Step: string(s), Status: "not_reached"}
		if lv := d.Liveness; lv != nil {
			switch {
			case lv.Passed || i < lv.Done:
				v.Status = "done"
			case i == lv.Done:
				v.Status = "failed"
			}
		}
		out = append(out, v)
	}
	return out
}

// faceOf shows the face score against the threshold the policy states was
// calibrated at its target false-match rate, and the engine's own
// calibration.
func faceOf(d *ekyc.Decision) faceView {
	f := faceView{}
	score, ok := d.Scores["face_match"]
	if !ok {
		return f
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	f.Has, f.Score, f.Threshold = true, num(score), num(d.Thresholds["face_match"])
	f.Above = score > d.Thresholds["face_match"]
	f.TargetFMR = strconv.FormatFloat(d.Thresholds["face_match_target_fmr"], 'g', 3, 64)
	if v, ok := d.Thresholds["face_engine_fmr"]; ok {
		f.HasEngineFMR, f.EngineFMR = true, strconv.FormatFloat(v, 'g', 3, 64)
	}
	if v, ok := d.Scores["selfie_consistency"]; ok {
		f.Consistency, f.Consistent = num(v), v > d.Thresholds["selfie_consistency"]
	}
	return f
}

// checklistCodes lists the codes of a checklist.
func checklistCodes(items []ekyc.ChecklistItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Code)
	}
	return out
}

// Checked reports whether the form confirmed code (for re-rendering).
func (p *reviewPage) Checked(code string) bool { return slices.Contains(p.Form.Checked, code) }

// ReasonChosen reports whether the form chose reason code.
func (p *reviewPage) ReasonChosen(code string) bool { return slices.Contains(p.Form.Reasons, code) }

// Both reports whether a reason code fits both verdicts (listed once).
func (p *reviewPage) Both(code string) bool {
	return slices.Contains(p.ApproveReasons, code) && slices.Contains(p.RejectReasons, code)
}

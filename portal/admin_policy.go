package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// maxPolicyForm caps the policy form's body.
const maxPolicyForm = form.MaxPolicyJSON*3 + 4<<10

// Policies is a tenant's eKYC policy (cmd/madoguchi wires it over package
// ekyc: LoadPolicy, ComparePolicies, StorePolicy).
type Policies interface {
	// Policy returns the tenant's policy as indented JSON and its version
	// ("" and 0 when it has none).
	Policy(ctx context.Context, tenantID string) (text string, version int, err error)
	// Compare parses and validates next (ErrInvalidPolicy) and lists its
	// changes from the current policy, each marked when it weakens a
	// control; it returns the version compared against and next in
	// canonical form (what a request carries).
	Compare(ctx context.Context, tenantID string, next []byte) (changes []PolicyChange, base int, canonical []byte, err error)
	// Store stores a policy that weakens nothing, if the current version
	// is still base (ErrPolicyChanged otherwise), audited as
	// ekyc.policy.set by actor; it returns the new version.
	Store(ctx context.Context, actor staff.Actor, tenantID string, canonical []byte, base int) (int, error)
}

// PolicyChange is one line of a policy diff.
type PolicyChange struct {
	Field, Old, New string
	Weakens         bool
	Why             string
}

// Policy errors.
var (
	ErrInvalidPolicy = errors.New("portal: invalid policy")
	ErrPolicyChanged = errors.New("portal: the policy changed meanwhile")
)

// PolicySet is the payload of an ekyc.policy.set approval: the policy and
// the version it was compared against (the approval is refused if the
// policy changed since: the second admin would approve a diff nobody saw).
type PolicySet struct {
	TenantID    string          `json:"tenant_id"`
	BaseVersion int             `json:"base_version"`
	Policy      json.RawMessage `json:"policy"`
}

// weakens reports whether any change weakens a control.
func weakens(cs []PolicyChange) bool {
	for _, c := range cs {
		if c.Weakens {
			return true
		}
	}
	return false
}

// adminPolicy shows a tenant's eKYC policy (operator staff choose the
// tenant) and, to admins, the editor.
func adminPolicy(rq *Request) error {
	return renderPolicy(rq, http.StatusOK, nil, nil, nil)
}

func renderPolicy(rq *Request, status int, f *form.Policy, changes []PolicyChange, errs form.Errors) error {
	pol := rq.s.cfg.Admin.Policies
	if pol == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	data := map[string]any{"TenantID": tid, "Errors": errs, "Admin": rq.isAdmin(), "Changes": changes}
	if data["Tenants"], err = rq.tenantChoices(tid); err != nil {
		return err
	}
	if tid != "" {
		text, ver, err := pol.Policy(rq.Ctx(), tid)
		if err != nil {
			return err
		}
		data["Current"], data["Version"] = text, ver
		data["OperatorReview"] = operatorReviewFlag(text)
		if f == nil {
			f = &form.Policy{JSON: text}
		}
	}
	data["Form"] = f
	data["Weakens"] = weakens(changes)
	return rq.Render(status, "admin_policy", "admin.policy.title", data)
}

// adminPolicySet previews (action=preview) or applies a policy. The
// preview shows the diff against the current version, each weakening line
// marked. Applying a change that only strengthens stores it; one that
// weakens any control files an ekyc.policy.set request for a second admin.
func adminPolicySet(rq *Request) error {
	pol, sa := rq.s.cfg.Admin.Policies, rq.s.cfg.Admin.Staff
	if pol == nil || sa == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	if tid == "" {
		return ErrNotFound
	}
	back := Prefix + "/admin/policy"
	if rq.Principal.Operator() {
		back += "?tenant=" + tid
	}
	f := form.ParsePolicy(rq.R)
	if errs := f.Validate(); errs.Any() {
		return renderPolicy(rq, http.StatusUnprocessableEntity, &f, nil, errs)
	}
	changes, base, canonical, err := pol.Compare(rq.Ctx(), tid, []byte(f.JSON))
	if errors.Is(err, ErrInvalidPolicy) {
		return renderPolicy(rq, http.StatusUnprocessableEntity, &f, nil, form.Errors{"policy": "form.policy_invalid"})
	}
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		return renderPolicy(rq, http.StatusUnprocessableEntity, &f, nil, form.Errors{"policy": "form.policy_unchanged"})
	}
	// The base version the person saw must still be current.
	if seen := rq.R.PostFormValue("version"); seen != strconv.Itoa(base) {
		return renderPolicy(rq, http.StatusConflict, &f, changes, form.Errors{"": "form.policy_moved"})
	}
	if rq.R.PostFormValue("action") != "apply" {
		return renderPolicy(rq, http.StatusOK, &f, changes, nil)
	}
	// Applying is a change: re-authenticate (the preview is shown again
	// afterwards, nothing is lost but the text, which the person pasted).
	if err := rq.RequireRecentAuth(back); err != nil {
		return err
	}
	if weakens(changes) {
		payload, err := json.Marshal(PolicySet{TenantID: tid, BaseVersion: base, Policy: canonical})
		if err != nil {
			return err
		}
		ap, err := sa.Request(rq.Ctx(), rq.Actor(), KindPolicySet, payload)
		if err != nil {
			return err
		}
		rq.Flash("flash.policy_needs_approval")
		return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
	}
	_, err = pol.Store(rq.Ctx(), rq.Actor(), tid, canonical, base)
	if errors.Is(err, ErrPolicyChanged) {
		return renderPolicy(rq, http.StatusConflict, &f, changes, form.Errors{"": "form.policy_moved"})
	}
	if err != nil {
		return err
	}
	rq.Flash("flash.policy_saved")
	return rq.Redirect(back)
}

// policyRequestChanges is the diff an ekyc.policy.set request would apply,
// against the current policy.
func (rq *Request) policyRequestChanges(a staff.Approval) ([]PolicyChange, error) {
	pol := rq.s.cfg.Admin.Policies
	var p PolicySet
	if pol == nil || json.Unmarshal(a.Payload, &p) != nil {
		return nil, nil
	}
	changes, _, _, err := pol.Compare(rq.Ctx(), p.TenantID, p.Policy)
	if errors.Is(err, ErrInvalidPolicy) {
		return nil, nil
	}
	return changes, err
}

// operatorReviewFlag reads "operator_review" from a policy's JSON.
func operatorReviewFlag(text string) bool {
	var p struct {
		OperatorReview bool `json:"operator_review"`
	}
	_ = json.Unmarshal([]byte(text), &p)
	return p.OperatorReview
}

// adminPolicyOperatorReview prepares the change of the policy's
// "operator_review" flag (whether the operator's reviewers may review the
// tenant's sessions): it shows the edited policy with its diff, to be
// applied like any other change (a change the weakening check does not
// classify, or that lets more people see the tenant's sessions, needs a
// second admin).
func adminPolicyOperatorReview(rq *Request) error {
	pol := rq.s.cfg.Admin.Policies
	if pol == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	if tid == "" {
		return ErrNotFound
	}
	text, _, err := pol.Policy(rq.Ctx(), tid)
	if err != nil {
		return err
	}
	if text == "" {
		return renderPolicy(rq, http.StatusUnprocessableEntity, nil, nil, form.Errors{"": "form.policy_missing"})
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return err
	}
	allow := rq.R.PostFormValue("allow") == "on"
	if allow {
		m["operator_review"] = true
	} else {
		delete(m, "operator_review")
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f := form.Policy{JSON: string(b)}
	changes, _, _, err := pol.Compare(rq.Ctx(), tid, b)
	if err != nil {
		return err
	}
	if len(changes) == 0 {
		return renderPolicy(rq, http.StatusUnprocessableEntity, &f, nil, form.Errors{"": "form.policy_unchanged"})
	}
	return renderPolicy(rq, http.StatusOK, &f, changes, nil)
}

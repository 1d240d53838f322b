package portal

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
)

// policyJSON is ekyc.ExamplePolicy(threshold) with edit applied, as JSON.
func policyJSON(t *testing.T, threshold float64, edit func(*ekyc.Policy)) string {
	t.Helper()
	p := ekyc.ExamplePolicy(0.6)
	p.FaceMatch.Threshold = threshold
	if edit != nil {
		edit(&p)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminPolicyDualControl: a change that weakens a control (a lower
// threshold) is shown as a marked diff and filed for a second admin; the
// requester cannot approve it; the second admin's approval stores it (and
// the audit entry names both); a change that only strengthens is stored at
// once; a stale diff, bad JSON and no change are refused with a message.
func TestAdminPolicyDualControl(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := ekyc.StorePolicy(ctx, e.db, e.audit, ekyc.Actor{Kind: audit.ActorSystem, ID: "test"}, "tn_a", ekyc.ExamplePolicy(0.6), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.addPerson("a-admin2", "tn_a", staff.RoleAdmin)
	a := e.signedIn("a-admin")
	version := func() (ekyc.Policy, int) {
		p, v, err := ekyc.LoadPolicy(ctx, e.db, "tn_a")
		if err != nil {
			t.Fatal(err)
		}
		return p, v
	}
	if r := a.get("/portal/admin/policy"); r.status != http.StatusOK || !strings.Contains(r.body, e.msg("admin.policy.version", 1)) {
		t.Fatalf("policy page = %d", r.status)
	}
	weaker := policyJSON(t, 0.4, nil)
	r := a.post("/portal/admin/policy", url.Values{"policy": {weaker}, "version": {"1"}, "action": {"preview"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `<tr class="weakens"><th scope="row"><code>face_match.threshold</code>`) || !strings.Contains(r.body, `id="policy-weakens"`) {
		t.Fatalf("preview of a lower threshold = %d, no marked diff\n%s", r.status, r.body)
	}
	if _, v := version(); v != 1 {
		t.Fatal("a preview stored the policy")
	}
	id := filed(t, a.post("/portal/admin/policy", url.Values{"policy": {weaker}, "version": {"1"}, "action": {"apply"}}))
	if _, v := version(); v != 1 {
		t.Fatal("a weakening change was stored without a second admin")
	}
	if ap, _ := e.dir.Approval(ctx, id); ap.Kind != KindPolicySet || ap.TenantID != "tn_a" {
		t.Errorf("approval = %+v", ap)
	}
	if r := a.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusConflict {
		t.Errorf("requester approves own policy change = %d, want 409", r.status)
	}
	if r := e.signedIn("b-admin").get("/portal/admin/approvals/" + id); r.status != http.StatusNotFound {
		t.Errorf("another tenant's admin sees the request: %d", r.status)
	}
	a2 := e.signedIn("a-admin2")
	if r := a2.get("/portal/admin/approvals/" + id); !strings.Contains(r.body, `id="policy-diff"`) || !strings.Contains(r.body, "face_match.threshold") {
		t.Error("the approver is not shown the diff")
	}
	if r := a2.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("second admin approves = %d\n%s", r.status, r.body)
	}
	if p, v := version(); v != 2 || p.FaceMatch.Threshold != 0.4 {
		t.Fatalf("after approval: version %d threshold %v", v, p.FaceMatch.Threshold)
	}
	var stored bool
	for _, x := range e.audit.find("ekyc.policy.set", audit.OutcomeOK) {
		stored = stored || (x.Details["approval"] == id && x.Details["requester"] == e.people["a-admin"].id && x.ActorID == e.people["a-admin2"].id)
	}
	if !stored {
		t.Error("the stored change's audit entry does not name the request, the requester and the approver")
	}

	// Strengthening only: stored at once by one admin.
	stronger := policyJSON(t, 0.7, nil)
	r = a.post("/portal/admin/policy", url.Values{"policy": {stronger}, "version": {"2"}, "action": {"preview"}})
	if r.status != http.StatusOK || strings.Contains(r.body, `class="weakens"`) || !strings.Contains(r.body, `id="policy-strengthens"`) {
		t.Errorf("preview of a higher threshold = %d", r.status)
	}
	if r := a.post("/portal/admin/policy", url.Values{"policy": {stronger}, "version": {"2"}, "action": {"apply"}}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/admin/policy" {
		t.Fatalf("apply a strengthening change = %d %q", r.status, r.header.Get("Location"))
	}
	if p, v := version(); v != 3 || p.FaceMatch.Threshold != 0.7 {
		t.Errorf("after a strengthening change: version %d threshold %v", v, p.FaceMatch.Threshold)
	}

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		key    string
	}{
		{"stale diff", url.Values{"policy": {policyJSON(t, 0.8, nil)}, "version": {"2"}, "action": {"apply"}}, http.StatusConflict, "form.policy_moved"},
		{"not JSON", url.Values{"policy": {"{threshold"}, "version": {"3"}}, http.StatusUnprocessableEntity, "form.policy_invalid"},
		{"unknown field", url.Values{"policy": {`{"methods":["he"],"bogus":1}`}, "version": {"3"}}, http.StatusUnprocessableEntity, "form.policy_invalid"},
		{"out of range", url.Values{"policy": {policyJSON(t, 7, nil)}, "version": {"3"}}, http.StatusUnprocessableEntity, "form.policy_invalid"},
		{"no change", url.Values{"policy": {stronger}, "version": {"3"}}, http.StatusUnprocessableEntity, "form.policy_unchanged"},
		{"empty", url.Values{"policy": {""}, "version": {"3"}}, http.StatusUnprocessableEntity, "form.required"},
	} {
		if r := a.post("/portal/admin/policy", tc.form); r.status != tc.status || !strings.Contains(r.body, e.msg(tc.key)) {
			t.Errorf("%s: %d, want %d with %s", tc.name, r.status, tc.status, tc.key)
		}
	}
	if _, v := version(); v != 3 {
		t.Errorf("refused forms changed the policy (version %d)", v)
	}

	// Allowing the operator's reviewers is a weakening change.
	r = a.post("/portal/admin/policy/operator-review", url.Values{"allow": {"on"}})
	if r.status != http.StatusOK || !strings.Contains(r.body, `<tr class="weakens"><th scope="row"><code>operator_review</code>`) {
		t.Errorf("operator review preview = %d\n%s", r.status, r.body)
	}
	// Another tenant's admin edits only their own (tn_b has no policy).
	if r := e.signedIn("b-admin").get("/portal/admin/policy?tenant=tn_a"); !strings.Contains(r.body, e.msg("admin.policy.none")) {
		t.Error("b-admin reaches tn_a's policy with ?tenant=")
	}
	// Applying needs a recent sign-in.
	e.clock.Add(6 * time.Minute)
	if r := a.post("/portal/admin/policy", url.Values{"policy": {policyJSON(t, 0.8, nil)}, "version": {"3"}, "action": {"apply"}}); r.status != http.StatusSeeOther ||
		!strings.HasPrefix(r.header.Get("Location"), "/portal/reauth") {
		t.Errorf("apply without a recent sign-in = %d %q", r.status, r.header.Get("Location"))
	}
}

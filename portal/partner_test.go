package portal

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
)

var testEvidencePDF = []byte("%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")

// pendingPartner registers a new API client of tenantID with a pending
// OAuth profile and returns its id.
func (e *env) pendingPartner(tenantID string) string {
	e.t.Helper()
	id := e.client(tenantID)
	if _, err := e.oauth.srv.RegisterClient(context.Background(), oauth.Actor{Kind: audit.ActorSystem, ID: "test"}, tenantID, id,
		oauth.ProfileSpec{RedirectURIs: []string{oauthRedirect}, GrantTypes: []string{oauth.GrantAuthorizationCode}}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// recordedPartner is a pending partner of tenantID whose areas who
// recorded: the first met with a PDF, the rest not applicable.
func (e *env) recordedPartner(tenantID, who string) string {
	e.t.Helper()
	id := e.pendingPartner(tenantID)
	by := oauth.Actor{Kind: audit.ActorStaff, ID: e.people[who].id}
	for i, a := range oauth.CriteriaAreas {
		st, name, file := oauth.ItemNotApplicable, "", []byte(nil)
		if i == 0 {
			st, name, file = oauth.ItemMet, "policy.pdf", testEvidencePDF
		}
		if err := e.oauth.srv.SetAssessmentItem(context.Background(), by, e.blobs, tenantID, id, a, st, "checked", name, file); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

// signedOffPartner is a recorded partner of tenant A signed off by
// a-reviewer.
func (e *env) signedOffPartner() string {
	e.t.Helper()
	id := e.recordedPartner("tn_a", "a-admin")
	if _, err := e.oauth.srv.SignOff(context.Background(), oauth.Actor{Kind: audit.ActorStaff, ID: e.people["a-reviewer"].id}, "tn_a", id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// partnerObject: the onboarding routes' objects belong to tenant A's
// staff; B's get 404, colleagues and the operator without the route's
// role 403, those with it see what the owner sees.
func partnerObject(owner string, obj func(e *env, b *browser) string, ok int, visibleTo ...string) routeSpec {
	var intruders []string
	for _, p := range []string{"b-admin", "b-reviewer", "b-auditor", "a-admin", "a-reviewer", "a-auditor", "op-reviewer", "op-auditor"} {
		if p != owner {
			intruders = append(intruders, p)
		}
	}
	return routeSpec{object: obj, ownerOK: ok, owner: owner, visibleTo: visibleTo, intruders: intruders}
}

func init() {
	routeSpecs["GET /partners"] = routeSpec{}
	path := func(suffix string, make func(e *env) string) func(e *env, b *browser) string {
		return func(e *env, b *browser) string { return "/partners/" + make(e) + suffix }
	}
	pending := func(e *env) string { return e.pendingPartner("tn_a") }
	recorded := func(e *env) string { return e.recordedPartner("tn_a", "a-admin") }
	readers := []string{"a-admin", "a-reviewer", "a-auditor", "op-reviewer", "op-auditor"}
	routeSpecs["GET /partners/{id}"] = partnerObject("a-admin", path("", pending), http.StatusOK, readers...)
	// An upload route sent as a plain form passes CSRF but is not an upload: 400.
	routeSpecs["POST /partners/{id}/items/{area}"] = partnerObject("a-admin", path("/items/api_usage", pending), http.StatusBadRequest, "a-admin")
	routeSpecs["GET /partners/{id}/items/{area}/evidence"] = partnerObject("a-reviewer",
		path("/items/"+oauth.CriteriaAreas[0]+"/evidence", recorded), http.StatusOK, readers...)
	routeSpecs["POST /partners/{id}/signoff"] = partnerObject("a-reviewer", path("/signoff", recorded), http.StatusSeeOther, "a-reviewer", "op-reviewer")
	routeSpecs["POST /partners/{id}/activate"] = partnerObject("a-admin",
		func(e *env, b *browser) string {
			return "/partners/" + e.signedOffPartner() + "/activate"
		}, http.StatusSeeOther, "a-admin")
}

// TestPartnerOnboardingPages takes a partner through the pages: each area
// recorded by an admin (a wrong file type and an oversized file refused
// with a clear error), the evidence downloaded and audited, the sign-off
// refused to a reviewer who recorded an area and given by one who did
// not, activation requested by one admin, refused to the same admin and
// approved by a second in the approvals inbox; then the assessment is
// frozen.
func TestPartnerOnboardingPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	lead := e.addPerson("a-lead", "tn_a", staff.RoleAdmin) // admin and reviewer
	g, _ := json.Marshal(staff.RoleGrant{StaffID: lead.id, Role: staff.RoleReviewer})
	if ap, err := e.dir.Request(ctx, e.admins[0], staff.KindRoleGrant, g); err != nil {
		t.Fatal(err)
	} else if _, err := e.dir.Approve(ctx, ap.ID, e.admins[1]); err != nil {
		t.Fatal(err)
	}
	e.addPerson("a-admin2", "tn_a", staff.RoleAdmin)
	id := e.pendingPartner("tn_a")
	page := Prefix + "/partners/" + id
	admin, lead2, reviewer := e.signedIn("a-admin"), e.signedIn("a-lead"), e.signedIn("a-reviewer")

	r := admin.get(page)
	if r.status != http.StatusOK || !strings.Contains(r.body, "セキュリティ管理体制") || strings.Count(r.body, `<tr id="row-`) != len(oauth.CriteriaAreas) {
		t.Fatalf("GET onboarding = %d, want the nine areas\n%s", r.status, r.body)
	}
	if r := admin.get(Prefix + "/admin/clients/" + id); !strings.Contains(r.body, `id="client-onboarding"`) {
		t.Error("the client page does not link to its onboarding")
	}
	item := func(b *browser, area, status string, file []byte, note string) resp {
		t.Helper()
		files := map[string][]byte{}
		if file != nil {
			files["evidence"] = file
		}
		if note == "" {
			note = "checked " + area
		}
		return b.upload(page+"/items/"+area, "", map[string]string{"status": status, "note": note}, files)
	}
	for _, tc := range []struct {
		name   string
		status string
		file   []byte
		want   int
		text   string
	}{
		{"an HTML file", oauth.ItemMet, []byte("<html><script>alert(1)</script>"), http.StatusUnprocessableEntity, "PDF・PNG・JPEG"},
		{"a file over the limit", oauth.ItemMet, append(append([]byte{}, testEvidencePDF...), make([]byte, oauth.MaxEvidenceSize)...), http.StatusRequestEntityTooLarge, ""},
		{"an unknown status", "done", testEvidencePDF, http.StatusUnprocessableEntity, "充足・未充足・該当なし"},
	} {
		r := item(admin, oauth.CriteriaAreas[0], tc.status, tc.file, "")
		if r.status != tc.want || !strings.Contains(r.body, tc.text) {
			t.Errorf("%s: %d, want %d with %q", tc.name, r.status, tc.want, tc.text)
		}
	}
	if r := item(admin, oauth.CriteriaAreas[0], oauth.ItemNotApplicable, nil, strings.Repeat("a", oauth.MaxNoteLen+1)); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "1000 文字") {
		t.Errorf("a note over the limit: %d, want 422 with the limit", r.status)
	}
	if r := item(admin, oauth.CriteriaAreas[0], oauth.ItemNotApplicable, nil, strings.Repeat("審", 5000)); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("a note over the form's field cap: %d, want 413", r.status)
	}
	if a, _ := e.oauth.srv.Assessment(ctx, "tn_a", id); a.Items[0].Status != oauth.ItemOpen {
		t.Fatalf("a refused upload recorded the area: %+v", a.Items[0])
	}
	if r := item(reviewer, oauth.CriteriaAreas[0], oauth.ItemMet, testEvidencePDF, ""); r.status != http.StatusForbidden {
		t.Errorf("a reviewer recorded an area: %d, want 403", r.status)
	}
	for i, area := range oauth.CriteriaAreas {
		st, file, by := oauth.ItemNotApplicable, []byte(nil), admin
		switch i {
		case 0:
			st, file = oauth.ItemMet, testEvidencePDF
		case len(oauth.CriteriaAreas) - 1:
			by = lead2 // a-lead records one area: they cannot sign off
		}
		if r := item(by, area, st, file, strings.Repeat("審", 1000)); r.status != http.StatusSeeOther {
			t.Fatalf("record %s: %d\n%s", area, r.status, r.body)
		}
	}

	r = reviewer.get(page + "/items/" + oauth.CriteriaAreas[0] + "/evidence")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != oauth.EvidencePDF || !bytes.Equal([]byte(r.body), testEvidencePDF) ||
		!strings.Contains(r.header.Get("Content-Disposition"), id+"-"+oauth.CriteriaAreas[0]+".pdf") {
		t.Fatalf("evidence download = %d %q %q", r.status, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"))
	}
	if n := len(e.audit.find("oauth.assessment.evidence.read", audit.OutcomeOK)); n != 1 {
		t.Errorf("evidence downloads audited: %d, want 1", n)
	}
	if r := reviewer.get(page + "/items/" + oauth.CriteriaAreas[1] + "/evidence"); r.status != http.StatusNotFound {
		t.Errorf("evidence of an area without a file: %d, want 404", r.status)
	}

	if r := lead2.post(page+"/signoff", nil); r.status != http.StatusConflict || !strings.Contains(r.body, "別の審査担当者") {
		t.Errorf("sign-off by someone who recorded an area: %d, want 409\n%s", r.status, r.body)
	}
	if r := admin.post(page+"/activate", nil); r.status != http.StatusConflict {
		t.Errorf("activation requested before sign-off: %d, want 409", r.status)
	}
	if r := reviewer.post(page+"/signoff", nil); r.status != http.StatusSeeOther {
		t.Fatalf("sign-off: %d\n%s", r.status, r.body)
	}
	r = admin.post(page+"/activate", nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, Prefix+"/admin/approvals/ap_") {
		t.Fatalf("request activation: %d %s", r.status, loc)
	}
	if r := admin.get(page); !strings.Contains(r.body, `id="partner-approval" href="`+loc+`"`) {
		t.Error("the page does not show the pending activation request")
	}
	if r := admin.get(loc); !strings.Contains(r.body, "連携先クライアントの有効化") || !strings.Contains(r.body, id) {
		t.Errorf("the approval page does not describe the activation\n%s", r.body)
	}
	if r := admin.post(loc+"/approve", nil); r.status != http.StatusConflict {
		t.Errorf("the requester approved: %d, want 409", r.status)
	}
	if p, _ := e.oauth.srv.Profile(ctx, "tn_a", id); p.Status != oauth.ProfilePending {
		t.Fatalf("status after the requester's approval = %s", p.Status)
	}
	if r := e.signedIn("b-admin").post(loc+"/approve", nil); r.status != http.StatusNotFound {
		t.Errorf("another tenant's admin approved: %d, want 404", r.status)
	}
	if r := e.signedIn("a-admin2").post(loc+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("second admin's approval: %d\n%s", r.status, r.body)
	}
	if p, _ := e.oauth.srv.Profile(ctx, "tn_a", id); p.Status != oauth.ProfileActive {
		t.Fatalf("status after the second admin's approval = %s, want active", p.Status)
	}
	if n := len(e.audit.find("oauth.client.activate", audit.OutcomeOK)); n != 1 {
		t.Errorf("activations audited: %d, want 1", n)
	}
	if r := item(admin, oauth.CriteriaAreas[1], oauth.ItemNotMet, nil, ""); r.status != http.StatusUnprocessableEntity {
		t.Errorf("recording an active client's area: %d, want 422", r.status)
	}
}

// TestPartnerActivationAfterChange: an area recorded after the activation
// request clears the sign-off, and approving the old request activates
// nothing (the page says the action was refused).
func TestPartnerActivationAfterChange(t *testing.T) {
	e := newEnv(t)
	e.addPerson("a-admin2", "tn_a", staff.RoleAdmin)
	id := e.signedOffPartner()
	page := Prefix + "/partners/" + id
	admin := e.signedIn("a-admin")
	loc := admin.post(page+"/activate", nil).header.Get("Location")
	if r := admin.upload(page+"/items/other", "", map[string]string{"status": oauth.ItemNotMet}, nil); r.status != http.StatusSeeOther {
		t.Fatalf("record: %d", r.status)
	}
	if r := e.signedIn("a-admin2").post(loc+"/approve", nil); r.status != http.StatusConflict {
		t.Fatalf("approving a request for a changed assessment: %d, want 409", r.status)
	}
	if p, _ := e.oauth.srv.Profile(context.Background(), "tn_a", id); p.Status != oauth.ProfilePending {
		t.Fatalf("status = %s, want pending", p.Status)
	}
}

// partnerEvidenceMarker is the SHA-256 of tenant A's evidence file: no
// list page shows it to tenant B (TestCrossTenantListPages).
func (e *env) partnerEvidenceMarker() string {
	e.t.Helper()
	id := e.recordedPartner("tn_a", "a-admin")
	var sum string
	if err := e.db.QueryRow(context.Background(), `SELECT evidence_sha256 FROM oauth_assessment_items WHERE client_id = ? AND evidence_sha256 IS NOT NULL`, id).Scan(&sum); err != nil {
		e.t.Fatal(err)
	}
	return sum
}

package portal

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/staff"
)

type credCustomers map[string]string // customer -> tenant

func (c credCustomers) Customer(_ context.Context, tenant, id string) (credential.Customer, error) {
	if c[id] != tenant {
		return credential.Customer{}, credential.ErrNotFound
	}
	return credential.Customer{ID: id, TenantID: tenant}, nil
}

type credTemplates struct{ tpl face.Template }

func (c credTemplates) CredentialTemplate(context.Context, credential.Actor, string, string) (face.Template, error) {
	return c.tpl, nil
}

// TestCredentialPages drives the credential pages against the real
// credential service on the portal's store: a tenant's staff look up and
// revoke their customers' credentials (another tenant's are neither listed
// nor revocable), and enrol and remove branch devices with two admins (the
// one who files cannot approve; reviewers and other tenants cannot act).
func TestCredentialPages(t *testing.T) {
	e, svc := newCredentialEnv(t)
	ctx := context.Background()
	client := credential.Actor{Kind: audit.ActorClient, ID: "cl_test"}
	c1, err := svc.Issue(ctx, client, "tn_a", credential.IssueRequest{Customer: "cus_1"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := svc.Issue(ctx, client, "tn_a", credential.IssueRequest{Customer: "cus_1"})
	if err != nil {
		t.Fatal(err)
	}

	ar, br := e.signedIn("a-reviewer"), e.signedIn("b-reviewer")
	if r := ar.get(Prefix + "/credentials?customer=cus_1"); r.status != http.StatusOK || !strings.Contains(r.body, c1.ID) || !strings.Contains(r.body, c2.ID) {
		t.Fatalf("GET /credentials (own tenant) = %d, want both credentials\n%s", r.status, r.body)
	}
	if r := ar.get(Prefix + "/credentials"); strings.Contains(r.body, "/portal/credentials/devices") {
		t.Errorf("a reviewer is shown the branch devices link")
	}
	if r := e.signedIn("a-admin").get(Prefix + "/credentials"); !strings.Contains(r.body, "/portal/credentials/devices") {
		t.Errorf("an admin is not shown the branch devices link")
	}
	if r := br.get(Prefix + "/credentials?customer=cus_1"); r.status != http.StatusOK || strings.Contains(r.body, c1.ID) {
		t.Fatalf("GET /credentials (another tenant's customer) = %d, lists it: %v", r.status, strings.Contains(r.body, c1.ID))
	}
	if r := e.signedIn("a-auditor").get(Prefix + "/credentials"); r.status != http.StatusForbidden {
		t.Errorf("auditor GET /credentials = %d, want 403", r.status)
	}
	for _, tc := range []struct {
		who  *browser
		form url.Values
		code int
	}{
		{ar, url.Values{"id": {c1.ID}, "reason": {"reissued"}}, http.StatusBadRequest}, // a reason only the service sets
		{br, url.Values{"id": {c1.ID}, "reason": {"lost_phone"}}, http.StatusNotFound}, // another tenant's
		{ar, url.Values{"id": {c1.ID}, "reason": {"lost_phone"}, "customer": {"cus_1"}}, http.StatusSeeOther},
		{ar, url.Values{"id": {c1.ID}, "reason": {"lost_phone"}}, http.StatusBadRequest}, // already revoked
	} {
		if r := tc.who.post(Prefix+"/credentials/revoke", tc.form); r.status != tc.code {
			t.Errorf("POST revoke %v = %d, want %d", tc.form, r.status, tc.code)
		}
	}
	if r, _ := svc.Get(ctx, "tn_a", c1.ID); r.RevokeReason != credential.ReasonLostPhone {
		t.Errorf("c1 after the page's revoke: reason %q", r.RevokeReason)
	}
	if r, _ := svc.Get(ctx, "tn_a", c2.ID); !r.RevokedAt.IsZero() {
		t.Errorf("c2 revoked too")
	}
	var revokes []audit.Entry
	size, _ := e.audit.log.Size(ctx)
	for i := range size {
		_, leaf, _ := e.audit.log.Entry(ctx, i)
		if en, err := audit.ParseLeaf(leaf); err == nil && en.Action == "credential.revoke" {
			revokes = append(revokes, en)
		}
	}
	if len(revokes) != 1 || revokes[0].ActorKind != audit.ActorStaff || revokes[0].ActorID != e.people["a-reviewer"].id {
		t.Errorf("audit credential.revoke = %+v, want one entry by a-reviewer", revokes)
	}

	// Reissue: the new QR code once, the old credential revoked in the
	// same transaction, the person and the reason in the audit log.
	for _, tc := range []struct {
		who    *browser
		reason string
		code   int
	}{
		{br, credential.ReissuePhoneReplaced, http.StatusNotFound}, // another tenant's
		{ar, credential.ReasonReissued, http.StatusBadRequest},     // not a reissue reason
		{e.signedIn("a-auditor"), credential.ReissueOther, http.StatusForbidden},
	} {
		if r := tc.who.post(Prefix+"/credentials/"+c2.ID+"/reissue", url.Values{"reason": {tc.reason}}); r.status != tc.code {
			t.Errorf("POST reissue (reason %s) = %d, want %d", tc.reason, r.status, tc.code)
		}
	}
	if r, _ := svc.Get(ctx, "tn_a", c2.ID); !r.RevokedAt.IsZero() {
		t.Fatalf("c2 revoked by a refused reissue: %+v", r)
	}
	if r := ar.get(Prefix + "/credentials?customer=cus_1"); !strings.Contains(r.body, "/portal/credentials/"+c2.ID+"/reissue") ||
		strings.Contains(r.body, "/portal/credentials/"+c1.ID+"/reissue") {
		t.Errorf("the list offers reissue for the active credential %v, for the revoked one %v",
			strings.Contains(r.body, c2.ID+"/reissue"), strings.Contains(r.body, c1.ID+"/reissue"))
	}
	r := ar.post(Prefix+"/credentials/"+c2.ID+"/reissue", url.Values{"reason": {credential.ReissuePhoneReplaced}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "<svg") {
		t.Fatalf("POST reissue = %d, want 200 with the QR code\n%s", r.status, r.body)
	}
	recs, _ := svc.List(ctx, "tn_a", "cus_1")
	old, _ := svc.Get(ctx, "tn_a", c2.ID)
	if len(recs) != 3 || old.RevokeReason != credential.ReasonReissued || old.ReplacedBy == "" || !strings.Contains(r.body, old.ReplacedBy) {
		t.Fatalf("after reissue: %d credentials, old %+v; page names the new one: %v", len(recs), old, strings.Contains(r.body, old.ReplacedBy))
	}
	if nw, _ := svc.Get(ctx, "tn_a", old.ReplacedBy); nw.State(e.clock.Now()) != "active" {
		t.Errorf("the new credential is %s", nw.State(e.clock.Now()))
	}
	var issues []audit.Entry
	size, _ = e.audit.log.Size(ctx)
	for i := range size {
		_, leaf, _ := e.audit.log.Entry(ctx, i)
		if en, err := audit.ParseLeaf(leaf); err == nil && en.Action == "credential.issue" && en.Details["replaces"] == c2.ID {
			issues = append(issues, en)
		}
	}
	if len(issues) != 1 || issues[0].ActorKind != audit.ActorStaff || issues[0].ActorID != e.people["a-reviewer"].id ||
		issues[0].Details["reason"] != credential.ReissuePhoneReplaced {
		t.Errorf("audit credential.issue replacing c2 = %+v, want one by a-reviewer, reason %s", issues, credential.ReissuePhoneReplaced)
	}
	if r := ar.post(Prefix+"/credentials/"+c2.ID+"/reissue", url.Values{"reason": {credential.ReissueOther}}); r.status != http.StatusBadRequest {
		t.Errorf("reissue of a revoked credential = %d, want 400", r.status)
	}

	// Devices: two admins of the tenant.
	e.addPerson("a-admin2", "tn_a", staff.RoleAdmin)
	a1, a2 := e.signedIn("a-admin"), e.signedIn("a-admin2")
	hk, _ := ecdh.X25519().GenerateKey(rand.Reader)
	ls, _, _ := audit.GenerateSigner(rand.Reader, "madoguchi.branch/test")
	code := credential.EnrolmentCode(hk.PublicKey(), ls.VerifierKey())
	if r := ar.get(Prefix + "/credentials/devices"); r.status != http.StatusForbidden {
		t.Errorf("reviewer GET devices = %d, want 403", r.status)
	}
	if r := a1.post(Prefix+"/credentials/devices", url.Values{"action": {"request"}, "name": {"Shinjuku 3"}, "code": {"mdgb1.garbage"}}); r.status != http.StatusBadRequest {
		t.Errorf("enrol with a bad code = %d, want 400", r.status)
	}
	if r := a1.post(Prefix+"/credentials/devices", url.Values{"action": {"request"}, "name": {"Shinjuku 3"}, "code": {code}}); r.status != http.StatusSeeOther {
		t.Fatalf("enrol = %d", r.status)
	}
	st := credential.Staff{TenantID: "tn_a"}
	ds, _ := svc.Devices(ctx, st, "tn_a")
	if len(ds) != 1 || ds[0].State != credential.DevicePending {
		t.Fatalf("devices after filing = %+v", ds)
	}
	id := ds[0].ID
	page := a1.get(Prefix + "/credentials/devices")
	if page.status != http.StatusOK || !strings.Contains(page.body, ds[0].Fingerprint()) || strings.Contains(page.body, `value="approve"`) {
		t.Errorf("the filer's device page = %d; shows the fingerprint %v, offers approval %v", page.status,
			strings.Contains(page.body, ds[0].Fingerprint()), strings.Contains(page.body, `value="approve"`))
	}
	if !strings.Contains(a2.get(Prefix+"/credentials/devices").body, `value="approve"`) {
		t.Errorf("the second admin is not offered the approval")
	}
	steps := []struct {
		who    *browser
		action string
		code   int
		state  string
	}{
		{a1, "approve", http.StatusForbidden, credential.DevicePending}, // the filer
		{e.signedIn("b-admin"), "approve", http.StatusNotFound, credential.DevicePending},
		{a2, "approve", http.StatusSeeOther, credential.DeviceActive},
		{a2, "remove", http.StatusSeeOther, credential.DeviceRemovalPending},
		{a2, "approve-removal", http.StatusForbidden, credential.DeviceRemovalPending},
		{a1, "approve-removal", http.StatusSeeOther, credential.DeviceRemoved},
		{a1, "delete", http.StatusBadRequest, credential.DeviceRemoved},
	}
	for _, s := range steps {
		if r := s.who.post(Prefix+"/credentials/devices", url.Values{"action": {s.action}, "id": {id}}); r.status != s.code {
			t.Errorf("POST devices %s = %d, want %d", s.action, r.status, s.code)
		}
		if d, _ := svc.Device(ctx, st, id); d.State != s.state {
			t.Errorf("after %s: device %s, want %s", s.action, d.State, s.state)
		}
	}
}

// newCredentialEnv is a portal with the real credential service on its
// own store: customers cus_1 (tenant tn_a) and cus_b (tn_b).
func newCredentialEnv(t *testing.T, mod ...func(*Config)) (*env, *credential.Service) {
	t.Helper()
	var svc *credential.Service
	e := newEnv(t, append(mod, func(c *Config) { c.Credentials = credentialsLate{&svc} })...)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	iss, _ := credential.NewIssuerKey(k)
	v := make([]float32, 128)
	for i := range v {
		v[i] = float32(i%7) - 3
	}
	tpl, _ := face.NewTemplate("test-model", v)
	var err error
	svc, err = credential.New(credential.Config{DB: e.db, Audit: e.audit.log, Vault: e.vault, Issuer: iss, IssuerName: "madoguchi.test",
		Customers: credCustomers{"cus_1": "tn_a", "cus_b": "tn_b"}, Templates: credTemplates{tpl}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.credentials = svc
	return e, svc
}

// credentialsLate lets the test build the service on the portal's own
// store after newEnv made it.
type credentialsLate struct{ s **credential.Service }

func (c credentialsLate) List(ctx context.Context, tenant, customer string) ([]credential.Record, error) {
	return (*c.s).List(ctx, tenant, customer)
}
func (c credentialsLate) Revoke(ctx context.Context, a credential.Actor, tenant, id, reason string) (*credential.Record, error) {
	return (*c.s).Revoke(ctx, a, tenant, id, reason)
}
func (c credentialsLate) Reissue(ctx context.Context, a credential.Actor, tenant, id, reason string) (*credential.Credential, error) {
	return (*c.s).Reissue(ctx, a, tenant, id, reason)
}
func (c credentialsLate) Devices(ctx context.Context, st credential.Staff, tenant string) ([]credential.Device, error) {
	return (*c.s).Devices(ctx, st, tenant)
}
func (c credentialsLate) RequestDevice(ctx context.Context, st credential.Staff, tenant, name, code string) (*credential.Device, error) {
	return (*c.s).RequestDevice(ctx, st, tenant, name, code)
}
func (c credentialsLate) ApproveDevice(ctx context.Context, st credential.Staff, id string) (*credential.Device, error) {
	return (*c.s).ApproveDevice(ctx, st, id)
}
func (c credentialsLate) RequestRemoval(ctx context.Context, st credential.Staff, id string) (*credential.Device, error) {
	return (*c.s).RequestRemoval(ctx, st, id)
}
func (c credentialsLate) ApproveRemoval(ctx context.Context, st credential.Staff, id string) (*credential.Device, error) {
	return (*c.s).ApproveRemoval(ctx, st, id)
}

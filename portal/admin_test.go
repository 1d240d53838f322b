package portal

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"html"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// msg is the Japanese text of a catalogue key, HTML-escaped as pages show it.
func (e *env) msg(key string, args ...any) string {
	e.t.Helper()
	s, err := e.srv.cat.T(i18n.Ja, key, args...)
	if err != nil {
		e.t.Fatal(err)
	}
	return html.EscapeString(s)
}

var approvalPath = regexp.MustCompile(`^/portal/admin/approvals/(ap_[a-z0-9]+)$`)

// filed returns the approval id a 303 points to.
func filed(t *testing.T, r resp) string {
	t.Helper()
	m := approvalPath.FindStringSubmatch(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || m == nil {
		t.Fatalf("status %d, Location %q; want 303 to an approval\n%s", r.status, r.header.Get("Location"), r.body)
	}
	return m[1]
}

func TestAdminPageRoles(t *testing.T) {
	e := newEnv(t)
	pages := []string{"/admin", "/admin/tenants", "/admin/clients", "/admin/staff", "/admin/approvals", "/admin/webhooks", "/admin/trust", "/admin/keys", "/admin/policy"}
	operatorOnly := map[string]bool{"/admin/tenants": true, "/admin/trust": true, "/admin/keys": true}
	for _, who := range []string{"op-admin", "op-auditor", "a-admin", "a-auditor", "a-reviewer", "op-reviewer", "nobody"} {
		b := e.signedIn(who)
		p := e.people[who]
		for _, page := range pages {
			want := http.StatusOK
			switch {
			case strings.Contains(who, "reviewer") || who == "nobody":
				want = http.StatusForbidden
			case operatorOnly[page] && p.tenant != "":
				want = http.StatusForbidden
			}
			if r := b.get(Prefix + page); r.status != want {
				t.Errorf("%s: GET %s = %d, want %d", who, page, r.status, want)
			}
		}
		// Auditors and reviewers change nothing: every administration
		// action is 403 before it looks at its object.
		if who != "op-admin" && who != "a-admin" {
			for _, rt := range e.srv.Routes() {
				if rt.Method != http.MethodPost || !strings.HasPrefix(rt.Path, "/admin") {
					continue
				}
				if r := b.post(Prefix+concrete(rt.Path), url.Values{}); r.status != http.StatusForbidden {
					t.Errorf("%s: POST %s = %d, want 403", who, rt.Path, r.status)
				}
			}
		}
	}
	// A tenant admin reaching for another tenant with ?tenant= stays in
	// their own.
	b := e.signedIn("a-admin")
	bClient := e.client("tn_b")
	if r := b.get("/portal/admin/clients?tenant=tn_b"); r.status != http.StatusOK || strings.Contains(r.body, bClient) {
		t.Errorf("a-admin sees tn_b's clients with ?tenant=tn_b (status %d)", r.status)
	}
	// Operator staff choosing a tenant that does not exist: 404.
	if r := e.signedIn("op-admin").get("/portal/admin/clients?tenant=tn_nope"); r.status != http.StatusNotFound {
		t.Errorf("op-admin ?tenant=tn_nope = %d, want 404", r.status)
	}
}

// TestAdminClientDualControl: a client created from a JWKS needs a second
// admin; the requester cannot approve; another tenant cannot see the
// request; the second admin's approval creates it; all audited.
func TestAdminClientDualControl(t *testing.T) {
	e := newEnv(t)
	e.addPerson("a-admin2", "tn_a", staff.RoleAdmin)
	a1 := e.signedIn("a-admin")
	r := a1.upload("/portal/admin/clients?tenant=tn_b", "", map[string]string{"name": "Mobile app", "scopes": "ekyc:sessions ekyc:results"},
		map[string][]byte{"jwks": testJWKS("app-2026")})
	id := filed(t, r)
	ap, err := e.dir.Approval(context.Background(), id)
	if err != nil || ap.TenantID != "tn_a" || ap.Kind != staff.KindClientCreate || ap.Requester != e.people["a-admin"].id {
		t.Fatalf("approval = %+v, %v; want a client.create for tn_a by a-admin", ap, err)
	}
	page := a1.get("/portal/admin/approvals/" + id)
	if !strings.Contains(page.body, "app-2026") || !strings.Contains(page.body, e.msg("admin.approval.mine_text")) || strings.Contains(page.body, `id="approve"`) {
		t.Errorf("the requester's view should describe the key, say a second admin must approve and offer no approve button\n%s", page.body)
	}
	// The requester cannot approve (the page says so; audited as denied).
	if r := a1.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusConflict || !strings.Contains(r.body, e.msg("form.same_approver")) {
		t.Errorf("requester approves = %d, want 409 with the message", r.status)
	}
	if !e.auditHas("approval.approve", audit.OutcomeDenied, id) {
		t.Error("the refused self-approval is not audited")
	}
	// Another tenant's admin: 404 on the request, nothing in the inbox.
	bAdmin := e.signedIn("b-admin")
	if r := bAdmin.get("/portal/admin/approvals/" + id); r.status != http.StatusNotFound {
		t.Errorf("b-admin GET = %d, want 404", r.status)
	}
	if r := bAdmin.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusNotFound {
		t.Errorf("b-admin approve = %d, want 404", r.status)
	}
	if r := bAdmin.get("/portal/admin/approvals"); strings.Contains(r.body, id) {
		t.Error("b-admin's inbox lists tn_a's request")
	}
	if clients, _ := e.admin.tenants.ListClients(context.Background(), "tn_a"); len(clients) != 0 {
		t.Fatalf("a client exists before the second approval: %+v", clients)
	}
	// The second admin of the tenant sees it as theirs to decide, approves.
	a2 := e.signedIn("a-admin2")
	if r := a2.get("/portal/admin"); !strings.Contains(r.body, `id="waiting"`) {
		t.Error("the administration index does not say a request is waiting")
	}
	if r := a1.get("/portal/admin"); strings.Contains(r.body, `id="waiting"`) {
		t.Error("the requester is told their own request waits for them")
	}
	if r := a2.get("/portal/admin/approvals"); !strings.Contains(r.body, id) || !strings.Contains(r.body, e.msg("admin.approval.can_decide")) {
		t.Errorf("a-admin2's inbox does not offer the request\n%s", r.body)
	}
	if r := a2.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("second admin approves = %d\n%s", r.status, r.body)
	}
	clients, err := e.admin.tenants.ListClients(context.Background(), "tn_a")
	if err != nil || len(clients) != 1 || clients[0].Name != "Mobile app" || clients[0].Method != tenant.PrivateKeyJWT || clients[0].Keys.Keys()[0].Kid != "app-2026" {
		t.Fatalf("clients after approval = %+v, %v", clients, err)
	}
	for _, a := range []struct{ action, object string }{{"approval.request", id}, {"approval.approve", id}, {"client.create", clients[0].ID}} {
		if !e.auditHas(a.action, audit.OutcomeOK, a.object) {
			t.Errorf("no %s audit entry for %s", a.action, a.object)
		}
	}
	// Deciding again: already decided.
	if r := a2.post("/portal/admin/approvals/"+id+"/reject", nil); r.status != http.StatusConflict || !strings.Contains(r.body, e.msg("form.decided")) {
		t.Errorf("reject after approval = %d, want 409 decided", r.status)
	}

	// A certificate client, approved by an operator admin; then a key
	// rotation, approved, replaces the pin.
	now := e.clock.Now()
	r = a1.upload("/portal/admin/clients", "", map[string]string{"name": "Batch", "scopes": "ekyc:results"}, map[string][]byte{"cert": testCertPEM(now, "batch")})
	id = filed(t, r)
	if r := e.signedIn("op-admin").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("operator approves a tenant's request = %d", r.status)
	}
	clients, _ = e.admin.tenants.ListClients(context.Background(), "tn_a")
	if len(clients) != 2 || clients[1].Method != tenant.SelfSignedTLS {
		t.Fatalf("certificate client not created: %+v", clients)
	}
	old := clients[1].CertSHA256
	a1 = e.signedIn("a-admin")
	// Wrong method for this client: refused on the page.
	if r := a1.upload("/portal/admin/clients/"+clients[1].ID+"/rotate", "", nil, map[string][]byte{"jwks": testJWKS("x")}); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.body, e.msg("form.credential_method")) {
		t.Errorf("rotate with a JWKS on a certificate client = %d", r.status)
	}
	id = filed(t, a1.upload("/portal/admin/clients/"+clients[1].ID+"/rotate", "", nil, map[string][]byte{"cert": testCertPEM(now, "batch-2")}))
	if r := e.signedIn("a-admin2").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("rotation approval = %d\n%s", r.status, r.body)
	}
	c, _ := e.admin.tenants.Client(context.Background(), "tn_a", clients[1].ID)
	if c.CertSHA256 == old || c.CertSHA256 == "" || !e.auditHas("client.rotate", audit.OutcomeOK, c.ID) {
		t.Errorf("rotation did not replace the pinned certificate or was not audited")
	}
	// Disable: at once, audited; a second disable says it is not active.
	if r := a1.post("/portal/admin/clients/"+c.ID+"/disable", nil); r.status != http.StatusSeeOther {
		t.Fatalf("disable = %d", r.status)
	}
	if c, _ := e.admin.tenants.Client(context.Background(), "tn_a", c.ID); c.Status != tenant.StatusDisabled || !e.auditHas("client.disable", audit.OutcomeOK, c.ID) {
		t.Errorf("client after disable: %s", c.Status)
	}
	if r := a1.post("/portal/admin/clients/"+c.ID+"/disable", nil); r.status != http.StatusSeeOther {
		t.Errorf("second disable = %d", r.status)
	}
	if r := a1.post("/portal/admin/clients/"+c.ID+"/enable", nil); r.status != http.StatusSeeOther {
		t.Fatalf("enable = %d", r.status)
	}
	if c, _ := e.admin.tenants.Client(context.Background(), "tn_a", c.ID); c.Status != tenant.StatusActive || !e.auditHas("client.enable", audit.OutcomeOK, c.ID) {
		t.Errorf("client after enable: %s", c.Status)
	}
	if r := e.signedIn("b-admin").post("/portal/admin/clients/"+c.ID+"/disable", nil); r.status != http.StatusNotFound {
		t.Errorf("another tenant's admin disables the client: %d", r.status)
	}
}

func TestAdminReauthRequired(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("op-admin")
	cl := e.client("tn_a")
	e.clock.Add(6 * time.Minute) // past the 5-minute window
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/portal/admin/tenants", url.Values{"name": {"Bank Q"}}},
		{"/portal/admin/tenants/tn_a/access", url.Values{"allow": {"10.0.0.0/8"}}},
		{"/portal/admin/clients/" + cl + "/disable", nil},
		{"/portal/admin/staff?tenant=tn_a", url.Values{"username": {"late-person"}}},
		{"/portal/admin/staff/" + e.people["a-reviewer"].id + "/reset-totp", nil},
		{"/portal/admin/keys/rotate", nil},
		{"/portal/admin/approvals/" + e.tenantApproval(e.signedIn("a-admin")) + "/reject", nil},
	} {
		r := b.post(tc.path, tc.form)
		if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/reauth?next=") {
			t.Errorf("POST %s without a recent sign-in = %d %q, want 303 to /portal/reauth", tc.path, r.status, r.header.Get("Location"))
		}
	}
	if r := b.upload("/portal/admin/clients?tenant=tn_a", "", map[string]string{"name": "x", "scopes": "a"}, map[string][]byte{"jwks": testJWKS("k")}); r.status != http.StatusSeeOther ||
		!strings.HasPrefix(r.header.Get("Location"), "/portal/reauth?next=") {
		t.Errorf("upload without a recent sign-in = %d, want 303 to reauth", r.status)
	}
	if ts, _ := e.admin.tenants.ListTenants(context.Background()); len(ts) != 2 {
		t.Error("a tenant was created without re-authentication")
	}
	if acc, _ := e.dir.TenantAccess(context.Background(), "tn_a"); len(acc.IPAllow) != 0 {
		t.Error("the allow-list changed without re-authentication")
	}
	if aps, _ := e.dir.ApprovalsIn(context.Background(), "", true, staff.StatusPending); len(aps) != 1 {
		t.Errorf("%d pending requests, want only the test's one", len(aps))
	}
}

func TestAdminUploadCSRF(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a-admin")
	other := e.signedIn("b-admin").csrf()
	fields := map[string]string{"name": "x", "scopes": "ekyc:sessions"}
	files := map[string][]byte{"jwks": testJWKS("k")}
	for _, tc := range []struct {
		name string
		send func() resp
	}{
		{"no token part", func() resp { return b.upload("/portal/admin/clients", "-", fields, files) }},
		{"wrong token", func() resp { return b.upload("/portal/admin/clients", "AAAA"+b.csrf()[4:], fields, files) }},
		{"another browser's token", func() resp { return b.upload("/portal/admin/clients", other, fields, files) }},
		{"token not the first part", func() resp {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			_ = mw.WriteField("name", "x")
			_ = mw.WriteField("csrf", b.csrf())
			_ = mw.Close()
			return b.requestCT(http.MethodPost, "/portal/admin/clients", buf.Bytes(), mw.FormDataContentType())
		}},
		{"cross-site", func() resp {
			r := httptest.NewRequest(http.MethodPost, "https://"+testHost+"/portal/admin/clients", strings.NewReader("--x--"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			for k, v := range b.cookies {
				r.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
			return resp{status: w.Code}
		}},
	} {
		if r := tc.send(); r.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, r.status)
		}
	}
	if aps, _ := e.dir.ApprovalsIn(context.Background(), "", true, staff.StatusPending); len(aps) != 0 {
		t.Errorf("a refused upload filed %d requests", len(aps))
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	n int
	r io.Reader
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestAdminUploadCaps: a declared body over the route's cap is refused
// before a byte is read, and a file over its own limit is refused without
// reading on.
func TestAdminUploadCaps(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op-admin")
	for _, tc := range []struct {
		path string
		size int64
	}{
		{"/portal/admin/clients?tenant=tn_a", maxKeyUpload + 1},
		{"/portal/admin/clients/cl_x/rotate", maxKeyUpload + 1},
		{"/portal/admin/trust/masterlist", maxMasterListUpload + 1},
		{"/portal/admin/trust/csca", maxCertUpload + 1},
		{"/portal/admin/tenants", DefaultMaxBody + 1},
	} {
		body := &countingReader{r: strings.NewReader(strings.Repeat("x", int(tc.size)))}
		r := httptest.NewRequest(http.MethodPost, "https://"+testHost+tc.path, body)
		r.ContentLength = tc.size
		r.Header.Set("Content-Type", "multipart/form-data; boundary=x")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		for k, v := range op.cookies {
			r.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge || body.n != 0 {
			t.Errorf("%s with %d bytes: status %d after reading %d bytes, want 413 before reading", tc.path, tc.size, w.Code, body.n)
		}
	}
	// A JWKS over its own 64 KiB limit inside a body under the route's cap.
	big := []byte(`{"keys":[` + strings.Repeat(" ", tenant.MaxJWKSLen) + `]}`)
	if r := op.upload("/portal/admin/clients?tenant=tn_a", "", map[string]string{"name": "x", "scopes": "a"}, map[string][]byte{"jwks": big}); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized JWKS part = %d, want 413", r.status)
	}
	// A file field the form does not take.
	if r := op.upload("/portal/admin/clients?tenant=tn_a", "", nil, map[string][]byte{"other": []byte("x")}); r.status != http.StatusBadRequest {
		t.Errorf("unknown file field = %d, want 400", r.status)
	}
}

// TestAdminValidation: every form answers with the page, status 422 and
// the field's message; nothing is written.
func TestAdminValidation(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op-admin")
	a := e.signedIn("a-admin")
	cl := e.client("tn_a")
	now := e.clock.Now()
	for _, tc := range []struct {
		name string
		send func() resp
		key  string
	}{
		{"tenant without a name", func() resp { return op.post("/portal/admin/tenants", url.Values{"name": {""}}) }, "form.required"},
		{"tenant name taken", func() resp { return op.post("/portal/admin/tenants", url.Values{"name": {"Bank A"}}) }, "form.name_taken"},
		{"allow-list garbage", func() resp {
			return op.post("/portal/admin/tenants/tn_a/access", url.Values{"allow": {"10.0.0.0/8\nnot-an-address"}})
		}, "form.ip_allow"},
		{"client without a credential", func() resp {
			return a.upload("/portal/admin/clients", "", map[string]string{"name": "x", "scopes": "ekyc:sessions"}, nil)
		}, "form.credential_required"},
		{"client with both", func() resp {
			return a.upload("/portal/admin/clients", "", map[string]string{"name": "x", "scopes": "ekyc:sessions"},
				map[string][]byte{"jwks": testJWKS("k"), "cert": testCertPEM(now, "c")})
		}, "form.one_credential"},
		{"client with a private key", func() resp {
			return a.upload("/portal/admin/clients", "", map[string]string{"name": "x", "scopes": "ekyc:sessions"},
				map[string][]byte{"jwks": []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}`)})
		}, "form.credential_invalid"},
		{"client with a bad scope", func() resp {
			return a.upload("/portal/admin/clients", "", map[string]string{"name": "x", "scopes": "Bad Scope!"}, map[string][]byte{"jwks": testJWKS("k")})
		}, "form.scope"},
		{"client without scopes", func() resp {
			return a.upload("/portal/admin/clients", "", map[string]string{"name": "x"}, map[string][]byte{"jwks": testJWKS("k")})
		}, "form.required"},
		{"rotate without a file", func() resp { return a.upload("/portal/admin/clients/"+cl+"/rotate", "", nil, nil) }, "form.credential_required"},
		{"invite a bad username", func() resp { return a.post("/portal/admin/staff", url.Values{"username": {"Bad Name"}}) }, "form.username"},
		{"invite a taken username", func() resp { return a.post("/portal/admin/staff", url.Values{"username": {"a-reviewer"}}) }, "form.name_taken"},
		{"role that does not exist", func() resp {
			return a.post("/portal/admin/staff/"+e.people["a-reviewer"].id+"/roles", url.Values{"role": {"root"}})
		}, "form.role"},
		{"reset own TOTP", func() resp { return a.post("/portal/admin/staff/"+e.people["a-admin"].id+"/reset-totp", nil) }, "form.not_self"},
		{"reject reason too long", func() resp {
			return op.post("/portal/admin/approvals/"+e.tenantApproval(a)+"/reject", url.Values{"reason": {strings.Repeat("x", 300)}})
		}, "form.too_long"},
		{"CSCA with a bad country", func() resp {
			return op.upload("/portal/admin/trust/csca", "", map[string]string{"country": "Japan"}, map[string][]byte{"csca": []byte("x")})
		}, "form.country"},
		{"CSCA that is no CA", func() resp {
			return op.upload("/portal/admin/trust/csca", "", map[string]string{"country": "ID"}, map[string][]byte{"csca": testCertPEM(now, "leaf")})
		}, "form.csca_refused"},
		{"master list without files", func() resp { return op.upload("/portal/admin/trust/masterlist", "", nil, nil) }, "form.required"},
	} {
		r := tc.send()
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, e.msg(tc.key)) {
			t.Errorf("%s: status %d, want 422 with %q", tc.name, r.status, tc.key)
		}
		if strings.Contains(r.body, `aria-invalid="true"`) == false && tc.key != "form.not_self" {
			t.Errorf("%s: no field marked aria-invalid", tc.name)
		}
	}
	if ts, _ := e.admin.tenants.ListTenants(context.Background()); len(ts) != 2 {
		t.Error("an invalid form created a tenant")
	}
	if aps, _ := e.dir.ApprovalsIn(context.Background(), "", true, staff.StatusPending); len(aps) != 1 {
		t.Errorf("invalid forms filed requests: %d pending, want 1", len(aps))
	}
}

func TestAdminStaffInviteRolesReset(t *testing.T) {
	e := newEnv(t)
	a := e.signedIn("a-admin")
	r := a.post("/portal/admin/staff", url.Values{"username": {"new-hire"}})
	pw := regexp.MustCompile(`id="secret-password">([^<]+)<`).FindStringSubmatch(r.body)
	uri := regexp.MustCompile(`id="secret-uri">([^<]+)<`).FindStringSubmatch(r.body)
	if r.status != http.StatusOK || pw == nil || uri == nil {
		t.Fatalf("invite = %d, no password or TOTP URI shown\n%s", r.status, r.body)
	}
	acc, err := e.dir.AccountByUsername(context.Background(), "new-hire")
	if err != nil || acc.TenantID != "tn_a" || len(acc.Roles) != 0 {
		t.Fatalf("invited account = %+v, %v; want tn_a without roles", acc, err)
	}
	// The person signs in with what was handed over.
	u, _ := url.Parse(html.UnescapeString(uri[1]))
	e.people["new-hire"] = &person{id: acc.ID, username: "new-hire", tenant: "tn_a", secret: decodeSecret(t, u.Query().Get("secret"))}
	nb := e.browser()
	if r := nb.post("/portal/login", url.Values{"username": {"new-hire"}, "password": {pw[1]}, "code": {e.code(e.people["new-hire"])}}); r.status != http.StatusSeeOther {
		t.Fatalf("the invited person cannot sign in: %d", r.status)
	}
	// b-admin cannot see or touch the account.
	bb := e.signedIn("b-admin")
	if r := bb.get("/portal/admin/staff/" + acc.ID); r.status != http.StatusNotFound {
		t.Errorf("b-admin sees tn_a's account: %d", r.status)
	}
	if r := bb.get("/portal/admin/staff"); strings.Contains(r.body, "new-hire") {
		t.Error("b-admin's staff list shows tn_a's account")
	}
	// A tenant admin asks for a role; the operator approves; granted.
	id := filed(t, a.post("/portal/admin/staff/"+acc.ID+"/roles", url.Values{"role": {"reviewer"}}))
	if r := e.signedIn("op-admin").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve role = %d\n%s", r.status, r.body)
	}
	if acc, _ := e.dir.Account(context.Background(), acc.ID); len(acc.Roles) != 1 || acc.Roles[0] != staff.RoleReviewer {
		t.Errorf("roles after approval = %v", acc.Roles)
	}
	// A tenant admin cannot open the operator's accounts.
	if r := a.get("/portal/admin/staff/" + e.people["op-admin"].id); r.status != http.StatusNotFound {
		t.Errorf("a-admin opens an operator account: %d", r.status)
	}
	// Reset TOTP: the session ends, the old key stops working, the new one is shown once.
	r = a.post("/portal/admin/staff/"+acc.ID+"/reset-totp", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "otpauth://") {
		t.Fatalf("reset TOTP = %d", r.status)
	}
	if r := nb.get("/portal/"); r.status != http.StatusSeeOther {
		t.Errorf("the account's session survived the TOTP reset: %d", r.status)
	}
	if r := e.browser().post("/portal/login", url.Values{"username": {"new-hire"}, "password": {pw[1]}, "code": {e.code(e.people["new-hire"])}}); r.status == http.StatusSeeOther {
		t.Error("the old TOTP key still signs in")
	}
	if r := a.post("/portal/admin/staff/"+acc.ID+"/reset-passkeys", nil); r.status != http.StatusSeeOther || !e.auditHas("staff.passkey.reset", audit.OutcomeOK, acc.ID) {
		t.Errorf("reset passkeys = %d", r.status)
	}
	// Disable: the account's sessions end and it cannot sign in; another
	// tenant's admin cannot; enabling lets it back in.
	uri2 := regexp.MustCompile(`id="secret-uri">([^<]+)<`).FindStringSubmatch(r.body)
	u2, _ := url.Parse(html.UnescapeString(uri2[1]))
	e.people["new-hire"].secret = decodeSecret(t, u2.Query().Get("secret"))
	nb = e.browser()
	if r := nb.post("/portal/login", url.Values{"username": {"new-hire"}, "password": {pw[1]}, "code": {e.code(e.people["new-hire"])}}); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in with the reset TOTP key = %d", r.status)
	}
	if r := bb.post("/portal/admin/staff/"+acc.ID+"/disable", nil); r.status != http.StatusNotFound {
		t.Errorf("b-admin disables tn_a's account: %d", r.status)
	}
	if r := a.post("/portal/admin/staff/"+acc.ID+"/disable", nil); r.status != http.StatusSeeOther || !e.auditHas("staff.disable", audit.OutcomeOK, acc.ID) {
		t.Fatalf("disable = %d", r.status)
	}
	if r := nb.get("/portal/"); r.status != http.StatusSeeOther {
		t.Errorf("a disabled account's session still works: %d", r.status)
	}
	if r := e.browser().post("/portal/login", url.Values{"username": {"new-hire"}, "password": {pw[1]}, "code": {e.code(e.people["new-hire"])}}); r.status == http.StatusSeeOther {
		t.Error("a disabled account signs in")
	}
	if r := a.post("/portal/admin/staff/"+e.people["a-admin"].id+"/disable", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("an admin disables themselves: %d", r.status)
	}
	if r := a.post("/portal/admin/staff/"+acc.ID+"/enable", nil); r.status != http.StatusSeeOther || !e.auditHas("staff.enable", audit.OutcomeOK, acc.ID) {
		t.Errorf("enable = %d", r.status)
	}
	if r := e.browser().post("/portal/login", url.Values{"username": {"new-hire"}, "password": {pw[1]}, "code": {e.code(e.people["new-hire"])}}); r.status != http.StatusSeeOther {
		t.Errorf("the enabled account cannot sign in: %d", r.status)
	}
	if !e.auditHas("staff.invite", audit.OutcomeOK, acc.ID) || !e.auditHas("staff.totp.reset", audit.OutcomeOK, acc.ID) {
		t.Error("invite or TOTP reset not audited")
	}
}

func TestAdminTenantsAndAccess(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op-admin")
	r := op.post("/portal/admin/tenants", url.Values{"name": {"Bank C"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/admin/tenants/tn_") {
		t.Fatalf("create tenant = %d %q", r.status, r.header.Get("Location"))
	}
	if r := op.get("/portal/admin/tenants"); !strings.Contains(r.body, "Bank C") {
		t.Error("the new tenant is not listed")
	}
	// An allow-list that excludes the reviewer's network ends their access.
	rv := e.signedIn("a-reviewer")
	if r := op.post("/portal/admin/tenants/tn_a/access", url.Values{"allow": {"198.51.100.0/24\n2001:db8::/32"}}); r.status != http.StatusSeeOther {
		t.Fatalf("set access = %d\n%s", r.status, r.body)
	}
	if acc, _ := e.dir.TenantAccess(context.Background(), "tn_a"); len(acc.IPAllow) != 2 {
		t.Errorf("allow-list = %v", acc.IPAllow)
	}
	if r := rv.get("/portal/"); r.status != http.StatusForbidden {
		t.Errorf("reviewer outside the allow-list = %d, want 403", r.status)
	}
	if r := op.get("/portal/admin/tenants/tn_a"); !strings.Contains(r.body, "198.51.100.0/24") {
		t.Error("the tenant page does not show the allow-list")
	}
	// Clearing it lets every network in again.
	if r := op.post("/portal/admin/tenants/tn_a/access", url.Values{"allow": {""}}); r.status != http.StatusSeeOther {
		t.Fatalf("clear access = %d", r.status)
	}
	if r := e.signedIn("a-reviewer").get("/portal/"); r.status != http.StatusOK {
		t.Errorf("reviewer after clearing = %d", r.status)
	}
	if !e.auditHas("tenant.create", audit.OutcomeOK, "") || !e.auditHas("staff.access.set", audit.OutcomeOK, "") {
		t.Error("tenant creation or access change not audited")
	}
}

func TestAdminWebhooks(t *testing.T) {
	e := newEnv(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer failing.Close()
	idA := e.enqueue("tn_a", failing.URL+"/a")
	idB := e.enqueue("tn_b", failing.URL+"/b")
	ctx := context.Background()
	if _, err := e.admin.notify.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	a := e.signedIn("a-admin")
	list := a.get("/portal/admin/webhooks")
	if !strings.Contains(list.body, idA) || strings.Contains(list.body, idB) {
		t.Errorf("a-admin's deliveries: tn_a's shown %v, tn_b's shown %v", strings.Contains(list.body, idA), strings.Contains(list.body, idB))
	}
	if r := a.post("/portal/admin/webhooks/"+idB+"/retry", nil); r.status != http.StatusNotFound {
		t.Errorf("a-admin retries tn_b's event = %d, want 404", r.status)
	}
	// Retry: due now (the next attempt was a minute away).
	if r := a.post("/portal/admin/webhooks/"+idA+"/retry", nil); r.status != http.StatusSeeOther {
		t.Fatalf("retry = %d", r.status)
	}
	d, _ := e.admin.notify.Get(ctx, idA)
	if d.State != notify.StatePending || d.NextAt.After(e.clock.Now()) || !e.auditHas("ekyc.webhook.retry", audit.OutcomeOK, idA) {
		t.Errorf("after retry: %+v", d)
	}
	// The second failure makes it dead (MaxAttempts 2); replay revives it.
	if _, err := e.admin.notify.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.admin.notify.Get(ctx, idA); d.State != notify.StateDead {
		t.Fatalf("state = %s, want dead", d.State)
	}
	if r := a.get("/portal/admin/webhooks?state=dead"); !strings.Contains(r.body, "/portal/admin/webhooks/"+idA+"/replay") {
		t.Error("the dead letter has no replay button")
	}
	if r := a.post("/portal/admin/webhooks/"+idA+"/retry", nil); r.status != http.StatusSeeOther || !e.auditHas("ekyc.webhook.retry", audit.OutcomeOK, idA) {
		t.Errorf("retry on a dead event = %d", r.status)
	}
	if r := a.post("/portal/admin/webhooks/"+idA+"/replay", nil); r.status != http.StatusSeeOther {
		t.Fatalf("replay = %d", r.status)
	}
	if d, _ := e.admin.notify.Get(ctx, idA); d.State != notify.StatePending || d.Attempts != 0 || !e.auditHas("ekyc.webhook.replay", audit.OutcomeOK, idA) {
		t.Errorf("after replay: %+v", d)
	}
	// The operator sees every tenant's.
	if r := e.signedIn("op-auditor").get("/portal/admin/webhooks"); !strings.Contains(r.body, idA) || !strings.Contains(r.body, idB) {
		t.Error("the operator's list misses a tenant's events")
	}
}

// testCSCA is a self-signed CSCA-like certificate of country.
func testCSCA(t *testing.T, now time.Time, country string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{Country: []string{country}, Organization: []string{"Test"}, CommonName: "CSCA " + country},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestAdminTrustAnchors(t *testing.T) {
	if testing.Short() {
		t.Skip("verifies the German master list (seconds under the race detector)")
	}
	e := newEnv(t)
	op := e.signedIn("op-admin")
	ml := readTestdata(t, "document/trust/testdata/DE_ML_2026-05-28.ml")
	root := readTestdata(t, "document/trust/testdata/DE_ROOT_CA_CSCA07.cer")
	// A root the list's signer does not chain to: refused, nothing stored, audited.
	r := op.upload("/portal/admin/trust/masterlist", "", nil, map[string][]byte{"masterlist": ml, "root": testCSCA(t, e.clock.Now(), "JP")})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, e.msg("form.masterlist_refused")) {
		t.Errorf("wrong root = %d", r.status)
	}
	if list, _ := e.admin.trust.Anchors(context.Background()); len(list) != 0 || !e.auditHas("trust.masterlist.import", audit.OutcomeDenied, "") {
		t.Errorf("a refused list stored %d anchors (or was not audited)", len(list))
	}
	r = op.upload("/portal/admin/trust/masterlist", "", nil, map[string][]byte{"masterlist": ml, "root": root})
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="ml-imported"`) {
		t.Fatalf("German master list = %d\n%s", r.status, r.body)
	}
	list, _ := e.admin.trust.Anchors(context.Background())
	if len(list) < 10 || !e.auditHas("trust.masterlist.import", audit.OutcomeOK, "") {
		t.Errorf("%d anchors after the German list", len(list))
	}
	// A single CSCA: dual control among operator admins.
	csca := testCSCA(t, e.clock.Now(), "ID")
	id := filed(t, op.upload("/portal/admin/trust/csca", "", map[string]string{"country": "id"}, map[string][]byte{"csca": csca}))
	if r := op.get("/portal/admin/approvals/" + id); !strings.Contains(r.body, "CSCA ID") {
		t.Error("the CSCA request does not show the certificate's subject")
	}
	if r := e.signedIn("a-admin").get("/portal/admin/approvals/" + id); r.status != http.StatusNotFound {
		t.Errorf("a tenant admin opens an installation request: %d", r.status)
	}
	if r := e.signedIn("op-admin2").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve CSCA = %d\n%s", r.status, r.body)
	}
	if after, _ := e.admin.trust.Anchors(context.Background()); len(after) != len(list)+1 {
		t.Errorf("anchors after the CSCA approval: %d, want %d", len(after), len(list)+1)
	}
}

func TestAdminKeyRotation(t *testing.T) {
	e := newEnv(t)
	op := e.signedIn("op-admin")
	r := op.get("/portal/admin/keys")
	if r.status != http.StatusOK || !strings.Contains(r.body, `id="kek-current">1<`) {
		t.Fatalf("keys page = %d\n%s", r.status, r.body)
	}
	id := filed(t, op.post("/portal/admin/keys/rotate", nil))
	if r := op.post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusConflict {
		t.Errorf("the requester rotates alone: %d", r.status)
	}
	if r := e.signedIn("a-admin").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusNotFound {
		t.Errorf("a tenant admin approves a KEK rotation: %d", r.status)
	}
	if r := e.signedIn("op-admin2").post("/portal/admin/approvals/"+id+"/approve", nil); r.status != http.StatusSeeOther {
		t.Fatalf("approve = %d", r.status)
	}
	if r := op.get("/portal/admin/keys"); !strings.Contains(r.body, `id="kek-current">2<`) {
		t.Error("the KEK did not rotate")
	}
	if !e.auditHas("vault.kek.rotate", audit.OutcomeOK, "") {
		t.Error("rotation not audited")
	}
}

// TestAdminPagesRender renders every administration page with objects in
// it, in both languages, for each role: no raw key, no server error.
func TestAdminPagesRender(t *testing.T) {
	e := newEnv(t)
	cl := e.client("tn_a")
	apTenant := e.tenantApproval(e.signedIn("a-admin"))
	e.enqueue("tn_a", "http://192.0.2.1/hook")
	if _, err := ekyc.StorePolicy(context.Background(), e.db, e.audit, ekyc.Actor{Kind: audit.ActorSystem, ID: "test"}, "tn_a", ekyc.ExamplePolicy(0.6), e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for _, lang := range i18n.Languages() {
		for _, who := range []string{"op-admin", "op-auditor", "a-admin", "a-auditor"} {
			b := e.signedIn(who)
			b.cookies[session.CookieLang] = string(lang)
			for _, p := range []string{"/admin", "/admin/tenants", "/admin/tenants/tn_a", "/admin/clients", "/admin/clients?tenant=tn_a",
				"/admin/clients/" + cl, "/admin/staff", "/admin/staff?tenant=tn_a", "/admin/staff/" + e.people["a-reviewer"].id,
				"/admin/approvals", "/admin/approvals/" + apTenant, "/admin/webhooks", "/admin/webhooks?state=dead", "/admin/trust", "/admin/keys",
				"/admin/policy", "/admin/policy?tenant=tn_a"} {
				r := b.get(Prefix + p)
				if k := rawKey(e.srv.cat, r.body); k != "" {
					t.Errorf("%s %s %s: raw key %q", lang, who, p, k)
				}
				if r.status >= 500 {
					t.Errorf("%s %s %s: status %d", lang, who, p, r.status)
				}
			}
		}
	}
}

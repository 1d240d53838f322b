package portal

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/portal/session"
)

// The route-table tests. Every route the portal serves must have a spec
// here (TestEveryRouteHasASpec fails otherwise), so each new page is run
// through the framework's guarantees: signed out, CSRF, roles and, for a
// route that takes an id, another tenant's (and another person's) object.

// routeSpec says how to exercise one route.
type routeSpec struct {
	// body is what a POST sends: url.Values for a form, a map for JSON.
	body any
	// object, for a route with a path parameter, creates an object owned
	// by the signed-in browser b and returns the concrete path.
	object func(e *env, b *browser) string
	// ownerOK is the status the owner gets (routes with an object).
	ownerOK int
	// visibleTo are other personas that may see the object as the owner
	// does (a record is the tenant's, not one person's).
	visibleTo []string
	// owner is the persona who owns the object (default a-reviewer) and
	// intruders those who must not reach it (default: another tenant's
	// staff, a colleague, the operator); administration objects belong to
	// a tenant's admins or to the operator (admin_routes_test.go).
	owner     string
	intruders []string
}

// testRoutes are extra routes only the tests mount: a role-restricted page
// and a page showing a tenant's object through Load (a Review kind, so the
// operator-review policy applies), the way the workbench's pages will.
func testRoutes() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/test/admin-only", Roles: []Role{TenantAdmin, OperatorAdmin}, Nav: "nav.account", Hint: "hint.account",
			Handle: func(rq *Request) error { return rq.Render(http.StatusOK, "home", "home.title", map[string]any{}) }},
		{Method: http.MethodGet, Path: "/test/tenants/{id}", Roles: []Role{TenantReviewer, OperatorReviewer, OperatorAdmin},
			Handle: func(rq *Request) error {
				id, err := Load(rq, tenantKind, rq.PathValue("id"))
				if err != nil {
					return err
				}
				rq.W.WriteHeader(http.StatusOK)
				_, err = rq.W.Write([]byte("tenant " + id))
				return err
			}},
	}
}

// tenantKind is a test kind: a tenant row, whose owner is itself; viewing
// it counts as personal data and it is a Review kind.
var tenantKind = ObjectKind[string]{
	Name: "test.tenant", Personal: true, Review: true,
	Fetch: func(ctx context.Context, q Querier, id string) (string, Owner, error) {
		var got string
		err := q.QueryRow(ctx, `SELECT id FROM tenants WHERE id = ?`, id).Scan(&got)
		return got, Owner{TenantID: got}, err
	},
}

func withTestRoutes(c *Config) { c.extra = testRoutes() }

var routeSpecs = map[string]routeSpec{
	"GET /{$}":             {},
	"GET /account":         {},
	"GET /monitor":         {},
	"POST /monitor/action": {body: url.Values{"action": {"hold"}, "id": {"cf_none"}}},
	// Offline face credentials (credential_test.go).
	"GET /credentials":         {},
	"POST /credentials/revoke": {body: url.Values{"id": {"crd_none"}, "reason": {"lost_phone"}}},
	"POST /credentials/{id}/reissue": {
		body: url.Values{"reason": {"phone_replaced"}},
		object: func(e *env, b *browser) string {
			c, err := e.credentials.Issue(context.Background(), credential.Actor{Kind: audit.ActorClient, ID: "cl_test"}, "tn_a",
				credential.IssueRequest{Customer: "cus_1"})
			if err != nil {
				e.t.Fatal(err)
			}
			return "/credentials/" + c.ID + "/reissue"
		},
		// The credential is the tenant's: its admin may reissue it too,
		// which would leave nothing for the owner's request.
		ownerOK: http.StatusOK, intruders: []string{"b-reviewer", "b-admin", "op-admin", "op-reviewer"},
	},
	"GET /credentials/devices":  {},
	"POST /credentials/devices": {body: url.Values{"action": {"approve"}, "id": {"bdv_none"}}},
	// OAuth consents (consents_test.go).
	"GET /consents": {},
	"POST /consents/{id}/revoke": {
		object: func(e *env, b *browser) string {
			return "/consents/" + e.consent("tn_a", "cust-"+rand.Text()[:8], "1000") + "/revoke"
		},
		ownerOK: http.StatusSeeOther, owner: "a-admin", intruders: []string{"b-admin", "b-reviewer", "a-reviewer", "op-admin", "op-reviewer"},
	},
	"GET /monitor/locks":         {},
	"POST /monitor/locks":        {body: url.Values{"action": {"approve"}, "id": {"ul_none"}}},
	"GET /monitor/callbacks":     {},
	"POST /monitor/callbacks":    {body: url.Values{"alert": {"al_none"}, "outcome": {"unreachable"}}},
	"GET /login":                 {},
	"POST /login":                {body: url.Values{"username": {"x"}, "password": {"y"}, "code": {"123456"}}},
	"POST /logout":               {},
	"GET /reauth":                {},
	"POST /reauth":               {body: url.Values{"password": {"y"}, "code": {"123456"}}},
	"POST /lang":                 {body: url.Values{"lang": {"en"}}},
	"POST /account/totp":         {},
	"POST /account/totp/confirm": {body: url.Values{"code": {"123456"}}},
	"POST /account/passkeys/{id}/delete": {
		object: func(e *env, b *browser) string {
			b.registerPasskey("key")
			pks, err := e.dir.Passkeys(context.Background(), b.e.people[b.whoami()].id)
			if err != nil || len(pks) == 0 {
				e.t.Fatalf("no passkey registered: %v", err)
			}
			return "/account/passkeys/" + pks[len(pks)-1].ID + "/delete"
		},
		ownerOK: http.StatusSeeOther,
	},
	"GET /account/password":         {},
	"POST /account/password":        {body: url.Values{"current": {"x"}, "new": {"a new password here"}, "confirm": {"does not match"}}},
	"POST /passkey/begin":           {body: map[string]string{"purpose": "login"}},
	"POST /passkey/finish":          {body: map[string]any{"credential": map[string]string{}}},
	"POST /account/passkeys/begin":  {body: map[string]string{}},
	"POST /account/passkeys/finish": {body: map[string]any{"name": "k", "credential": map[string]string{}}},
	// Audit and dashboard (audit_test.go).
	"GET /audit":                    {},
	"GET /audit/entries/{id}":       auditObject(func(e *env, b *browser) string { return entryPath(e, b, "") }),
	"GET /audit/entries/{id}/proof": auditObject(func(e *env, b *browser) string { return entryPath(e, b, "/proof") }),
	"GET /audit/trail/{id}":         auditObject(trailPathFor),
	"GET /dashboard":                {},
	// The review workbench and records (review_routes_test.go).
	"GET /review":                                   {},
	"GET /review/{id}":                              {object: reviewObject("", false), ownerOK: http.StatusOK},
	"POST /review/{id}/claim":                       {object: reviewObject("/claim", false), ownerOK: http.StatusSeeOther},
	"POST /review/{id}/release":                     {object: reviewObject("/release", true), ownerOK: http.StatusSeeOther},
	"POST /review/{id}/decide":                      {object: reviewObject("/decide", true), ownerOK: http.StatusSeeOther, body: rejectForm()},
	"GET /review/{id}/frames/{seq}":                 {object: reviewObject("/frames/1", true), ownerOK: http.StatusOK},
	"GET /review/{id}/cards/{kind}":                 {object: hoCardObject, ownerOK: http.StatusOK},
	"GET /review/{id}/chip-photo":                   {object: reviewObject("/chip-photo", true), ownerOK: http.StatusOK},
	"GET /review/{id}/related/{other}":              {object: relatedObject(""), ownerOK: http.StatusOK},
	"GET /review/{id}/related/{other}/frames/{seq}": {object: relatedObject("/frames/1"), ownerOK: http.StatusOK},
	"GET /review/{id}/related/{other}/chip-photo":   {object: relatedObject("/chip-photo"), ownerOK: http.StatusOK},
	"GET /records":                                  {},
	"GET /records/{id}":                             {object: recordObject(""), ownerOK: http.StatusOK, visibleTo: recordViewers},
	"GET /records/{id}/record.json":                 {object: recordObject("/record.json"), ownerOK: http.StatusOK, visibleTo: recordViewers},
	"GET /records/{id}/record.pdf":                  {object: recordObject("/record.pdf"), ownerOK: pdfOK(), visibleTo: recordViewers},
	// The administration pages (admin_routes_test.go).
	"GET /admin": {}, "GET /admin/tenants": {}, "POST /admin/tenants": {body: url.Values{"name": {"Bank Z"}}},
	"GET /admin/tenants/{id}":         adminOperatorObject(func(e *env, b *browser) string { return "/admin/tenants/tn_a" }, http.StatusOK),
	"POST /admin/tenants/{id}/access": adminOperatorObject(func(e *env, b *browser) string { return "/admin/tenants/tn_a/access" }, http.StatusSeeOther),
	"GET /admin/clients":              {}, "POST /admin/clients": {},
	"GET /admin/clients/{id}": adminTenantObject(func(e *env, b *browser) string { return "/admin/clients/" + e.client("tn_a") }, http.StatusOK),
	// An upload route sent as a plain form passes CSRF but is not an upload: 400.
	"POST /admin/clients/{id}/rotate":  adminTenantObject(func(e *env, b *browser) string { return "/admin/clients/" + e.client("tn_a") + "/rotate" }, http.StatusBadRequest),
	"POST /admin/clients/{id}/enable":  adminTenantObject(func(e *env, b *browser) string { return "/admin/clients/" + e.client("tn_a") + "/enable" }, http.StatusSeeOther),
	"POST /admin/staff/{id}/disable":   adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") + "/disable" }, http.StatusSeeOther),
	"POST /admin/staff/{id}/enable":    adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") + "/enable" }, http.StatusSeeOther),
	"POST /admin/clients/{id}/disable": adminTenantObject(func(e *env, b *browser) string { return "/admin/clients/" + e.client("tn_a") + "/disable" }, http.StatusSeeOther),
	"GET /admin/staff":                 {}, "POST /admin/staff": {body: url.Values{"username": {"invited-person"}}},
	"GET /admin/staff/{id}": adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") }, http.StatusOK),
	"POST /admin/staff/{id}/roles": withBody(adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") + "/roles" }, http.StatusSeeOther),
		url.Values{"role": {"auditor"}}),
	"POST /admin/staff/{id}/reset-totp":     adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") + "/reset-totp" }, http.StatusOK),
	"POST /admin/staff/{id}/reset-passkeys": adminTenantObject(func(e *env, b *browser) string { return "/admin/staff/" + e.account("tn_a") + "/reset-passkeys" }, http.StatusSeeOther),
	"GET /admin/approvals":                  {},
	"GET /admin/approvals/{id}":             adminTenantObject(func(e *env, b *browser) string { return "/admin/approvals/" + e.tenantApproval(b) }, http.StatusOK),
	// The owner filed the request: approving it is refused (409).
	"POST /admin/approvals/{id}/approve": adminTenantObject(func(e *env, b *browser) string { return "/admin/approvals/" + e.tenantApproval(b) + "/approve" }, http.StatusConflict),
	"POST /admin/approvals/{id}/reject":  adminTenantObject(func(e *env, b *browser) string { return "/admin/approvals/" + e.tenantApproval(b) + "/reject" }, http.StatusSeeOther),
	"GET /admin/webhooks":                {},
	"POST /admin/webhooks/{id}/retry": adminTenantObject(func(e *env, b *browser) string {
		return "/admin/webhooks/" + e.enqueue("tn_a", "http://192.0.2.1/hook") + "/retry"
	}, http.StatusSeeOther),
	"POST /admin/webhooks/{id}/replay": adminTenantObject(func(e *env, b *browser) string {
		return "/admin/webhooks/" + e.enqueue("tn_a", "http://192.0.2.1/hook") + "/replay"
	}, http.StatusSeeOther),
	"GET /admin/trust": {}, "POST /admin/trust/masterlist": {}, "POST /admin/trust/csca": {},
	"GET /admin/keys": {}, "POST /admin/keys/rotate": {},
	"GET /admin/policy": {}, "POST /admin/policy": {body: url.Values{"policy": {"{}"}}},
	"POST /admin/policy/operator-review": {body: url.Values{"allow": {"on"}}},
	// The tests' own routes.
	"GET /test/admin-only": {},
	"GET /test/tenants/{id}": {
		object:  func(e *env, b *browser) string { return "/test/tenants/" + e.people[b.whoami()].tenant },
		ownerOK: http.StatusOK,
	},
}

// whoami is the persona the browser signed in as (tests keep one per
// browser).
func (b *browser) whoami() string {
	p, err := b.e.dir.CheckSession(context.Background(), b.cookies[session.CookieSession])
	if err != nil {
		b.e.t.Fatalf("browser not signed in: %v", err)
	}
	for name, pp := range b.e.people {
		if pp.id == p.StaffID {
			return name
		}
	}
	b.e.t.Fatal("unknown persona")
	return ""
}

func key(rt Route) string { return rt.Method + " " + rt.Path }

func TestEveryRouteHasASpec(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	seen := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		k := key(rt)
		seen[k] = true
		spec, ok := routeSpecs[k]
		if !ok {
			t.Errorf("route %s has no spec in routeSpecs: add one (and a cross-tenant object if it takes an id)", k)
			continue
		}
		if strings.Contains(strings.ReplaceAll(rt.Path, "{$}", ""), "{") && spec.object == nil {
			t.Errorf("route %s takes a path parameter but its spec has no object: the cross-tenant test cannot cover it", k)
		}
	}
	for k := range routeSpecs {
		if !seen[k] {
			t.Errorf("routeSpecs has %s, which is not a route", k)
		}
	}
}

// send sends the spec's request for rt with b's CSRF token.
func send(b *browser, rt Route, path string, spec routeSpec) resp {
	b.e.t.Helper()
	if rt.Method == http.MethodGet {
		return b.get(Prefix + path)
	}
	if rt.JSON {
		body := spec.body
		if body == nil {
			body = map[string]string{}
		}
		return b.postJSON(Prefix+path, body)
	}
	form := url.Values{}
	if v, ok := spec.body.(url.Values); ok {
		for k, vs := range v {
			form[k] = append([]string(nil), vs...)
		}
	}
	return b.post(Prefix+path, form)
}

func concrete(path string) string {
	return strings.NewReplacer("{$}", "", "{id}", "unknown-id").Replace(path)
}

func TestSignedOutRoutes(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	for _, rt := range e.srv.Routes() {
		if rt.Public {
			continue
		}
		t.Run(key(rt), func(t *testing.T) {
			b := e.browser()
			r := send(b, rt, concrete(rt.Path), routeSpecs[key(rt)])
			switch {
			case rt.JSON:
				if r.status != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", r.status)
				}
			case r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/login?next="):
				t.Errorf("status = %d, Location %q; want 303 to the sign-in page", r.status, r.header.Get("Location"))
			}
		})
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	for _, rt := range e.srv.Routes() {
		if rt.Method != http.MethodPost {
			continue
		}
		t.Run(key(rt), func(t *testing.T) {
			b := e.signedIn("a-reviewer")
			other := e.browser()
			good := b.csrf()
			path := Prefix + concrete(rt.Path)
			for _, tc := range []struct {
				name  string
				token string
				hdr   map[string]string
			}{
				{"no token", "", nil},
				{"wrong token", "AAAA" + good[4:], nil},
				{"another browser's token", other.csrf(), nil},
				{"cross-site request with a good token", good, map[string]string{"Sec-Fetch-Site": "cross-site"}},
				{"cross-origin Origin with a good token", good, map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}},
			} {
				var r resp
				if rt.JSON {
					h := map[string]string{CSRFHeader: tc.token}
					for k, v := range tc.hdr {
						h[k] = v
					}
					r = b.request(http.MethodPost, path, []byte(`{}`), h)
				} else {
					r = b.request(http.MethodPost, path, url.Values{"csrf": {tc.token}, "lang": {"en"}}, tc.hdr)
				}
				if r.status != http.StatusForbidden {
					t.Errorf("%s: status = %d, want 403", tc.name, r.status)
				}
			}
			// Nothing happened: the session is alive, the language unchanged.
			if _, err := e.dir.CheckSession(context.Background(), b.cookies[session.CookieSession]); err != nil {
				t.Errorf("session after refused posts: %v", err)
			}
			if b.cookies[session.CookieLang] != "" {
				t.Error("a refused post changed the language")
			}
		})
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	for _, tc := range []struct {
		who  string
		want int
	}{
		{"a-admin", http.StatusOK}, {"op-admin", http.StatusOK},
		{"a-reviewer", http.StatusForbidden}, {"a-auditor", http.StatusForbidden}, {"op-reviewer", http.StatusForbidden},
		{"op-auditor", http.StatusForbidden}, {"nobody", http.StatusForbidden},
	} {
		b := e.signedIn(tc.who)
		if r := b.get("/portal/test/admin-only"); r.status != tc.want {
			t.Errorf("%s: GET admin-only = %d, want %d", tc.who, r.status, tc.want)
		}
		// The navigation and the home page list the page only to those who
		// may open it.
		home := b.get("/portal/")
		if listed := strings.Contains(home.body, `href="/portal/test/admin-only"`); listed != (tc.want == http.StatusOK) {
			t.Errorf("%s: admin-only page listed on the home page = %v, want %v", tc.who, listed, tc.want == http.StatusOK)
		}
	}
}

// TestCrossTenant runs every route that takes an id with an object of a
// person of tenant A (its reviewer unless the spec names its owner):
// another tenant's staff, another person of the same tenant and the
// operator get 404 where the object is not theirs to see, and the owner
// gets through.
func TestCrossTenant(t *testing.T) {
	e, _ := newCredentialEnv(t, withTestRoutes)
	for _, rt := range e.srv.Routes() {
		spec := routeSpecs[key(rt)]
		if spec.object == nil {
			continue
		}
		t.Run(key(rt), func(t *testing.T) {
			ownerName, intruders := spec.owner, spec.intruders
			if ownerName == "" {
				ownerName = "a-reviewer"
			}
			if intruders == nil {
				intruders = []string{"b-reviewer", "b-admin", "a-admin", "op-admin", "op-reviewer"}
			}
			owner := e.signedIn(ownerName)
			path := spec.object(e, owner)
			for _, intruder := range intruders {
				b := e.signedIn(intruder)
				sp, err := e.dir.CheckSession(context.Background(), b.cookies[session.CookieSession])
				if err != nil {
					t.Fatal(err)
				}
				roles, _ := portalRoles(sp, false)
				want := http.StatusNotFound // the role may use the page; the object is not theirs
				if slices.Contains(spec.visibleTo, intruder) {
					want = spec.ownerOK
				}
				if !(&Principal{Roles: roles}).may(&rt) {
					want = http.StatusForbidden
				}
				if r := send(b, rt, path, spec); r.status != want {
					t.Errorf("%s: %s %s = %d, want %d", intruder, rt.Method, path, r.status, want)
				}
			}
			if r := send(owner, rt, path, spec); r.status != spec.ownerOK {
				t.Errorf("owner: %s %s = %d, want %d\n%s", rt.Method, path, r.status, spec.ownerOK, r.body)
			}
		})
	}
	if len(e.audit.find("portal.view", audit.OutcomeDenied)) == 0 {
		t.Error("refused cross-tenant views are not audited")
	}
}

// TestOperatorReview: operator reviewers see a tenant's review objects only
// where its policy allows it.
func TestOperatorReview(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	b := e.signedIn("op-reviewer")
	if r := b.get("/portal/test/tenants/tn_a"); r.status != http.StatusNotFound {
		t.Errorf("without consent: %d, want 404", r.status)
	}
	e.operatorReview["tn_a"] = true
	if r := b.get("/portal/test/tenants/tn_a"); r.status != http.StatusOK {
		t.Errorf("with consent: %d, want 200", r.status)
	}
	if r := b.get("/portal/test/tenants/tn_b"); r.status != http.StatusNotFound {
		t.Errorf("another tenant without consent: %d, want 404", r.status)
	}
	views := e.audit.find("portal.view", audit.OutcomeOK)
	if len(views) != 1 || views[0].Object != "test.tenant:tn_a" || views[0].TenantID != "tn_a" ||
		views[0].ActorID != e.people["op-reviewer"].id || views[0].Details["ip"] != "192.0.2.10" {
		t.Errorf("view audit entries = %+v, want one for tn_a by op-reviewer from 192.0.2.10", views)
	}
}

func TestVisible(t *testing.T) {
	e := newEnv(t)
	e.operatorReview["tn_a"] = true
	ctx := context.Background()
	tenantP := &Principal{StaffID: "st_1", TenantID: "tn_a"}
	opP := &Principal{StaffID: "st_9"}
	for _, tc := range []struct {
		name   string
		p      *Principal
		o      Owner
		review bool
		want   bool
	}{
		{"tenant: own tenant", tenantP, Owner{TenantID: "tn_a"}, false, true},
		{"tenant: other tenant", tenantP, Owner{TenantID: "tn_b"}, false, false},
		{"tenant: installation object", tenantP, Owner{}, false, false},
		{"tenant: own object", tenantP, Owner{TenantID: "tn_a", StaffID: "st_1"}, false, true},
		{"tenant: colleague's object", tenantP, Owner{TenantID: "tn_a", StaffID: "st_2"}, false, false},
		{"operator: any tenant", opP, Owner{TenantID: "tn_b"}, false, true},
		{"operator: installation object", opP, Owner{}, false, true},
		{"operator: review, consent", opP, Owner{TenantID: "tn_a"}, true, true},
		{"operator: review, no consent", opP, Owner{TenantID: "tn_b"}, true, false},
		{"operator: someone's own object", opP, Owner{TenantID: "tn_a", StaffID: "st_1"}, false, false},
	} {
		got, err := e.srv.visible(ctx, tc.p, tc.o, tc.review)
		if err != nil || got != tc.want {
			t.Errorf("%s: visible = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

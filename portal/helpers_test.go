package portal

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/credential"
	"github.com/madoguchi/madoguchi/internal/webauthntest"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// The portal's tests run the real staff directory, vault and audit log on
// a real store (SQLite; the store-level code is tested on both dialects in
// package staff), with a clock the test moves.

const (
	testHost     = "portal.test"
	testOrigin   = "https://portal.test"
	testPassword = "correct horse battery staple"
)

var fastArgon2 = staff.Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// auditRec appends to the real audit log and remembers the entries.
type auditRec struct {
	log     *audit.Log
	mu      sync.Mutex
	entries []audit.Entry
}

func (a *auditRec) Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error) {
	i, err := a.log.Append(ctx, tx, e)
	if err == nil {
		a.mu.Lock()
		a.entries = append(a.entries, e)
		a.mu.Unlock()
	}
	return i, err
}

// find returns the entries with action and outcome.
func (a *auditRec) find(action, outcome string) []audit.Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Entry
	for _, e := range a.entries {
		if e.Action == action && (outcome == "" || e.Outcome == outcome) {
			out = append(out, e)
		}
	}
	return out
}

// person is a staff account the tests sign in as.
type person struct {
	id, username, tenant string
	secret               []byte
}

type env struct {
	t        testing.TB
	db       *store.DB
	clock    *clock
	audit    *auditRec
	dir      *staff.Directory
	passkeys *staff.Passkeys
	srv      *Server
	cfg      Config
	// operatorReview is the policy flag per tenant.
	operatorReview map[string]bool
	people         map[string]*person
	admins         [2]staff.Actor
	vault          *vault.Vault
	rv             *reviewEnv
	fraud          *namingFraud // the review service's fraud checks
	// admin holds the administration pages' services (admin_helpers_test.go).
	admin *adminDeps
	// oauth is the authorization server behind the consents pages
	// (consents_test.go).
	oauth *oauthEnv
	// credentials is the credential service (newCredentialEnv).
	credentials *credential.Service
	// blobs keeps evidence files of partner onboarding (partner_test.go).
	blobs *blob.Store
}

// Personas: op-admin (operator admin, bootstrap), op-admin2, op-reviewer,
// op-auditor, a-reviewer, a-admin, a-auditor (tenant tn_a), b-reviewer,
// b-admin, b-auditor (tenant tn_b), nobody (tenant tn_a, no role).
func newEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, testStore(t), mod...)
}

// newEnvOn is newEnv on the store db (storetest.Each).
func newEnvOn(t testing.TB, db *store.DB, mod ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	// The vault audits through the recorder, like the portal's services.
	e := &env{t: t, db: db, clock: &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}, audit: &auditRec{log: vaulttest.Log(t, db)},
		operatorReview: map[string]bool{}, people: map[string]*person{}}
	bs := vaulttest.Blobs(t, db)
	v := vaulttest.Vault(t, db, e.audit, vault.WithBlobs(bs))
	e.vault = v
	var err error
	e.dir, err = staff.New(db, e.audit, v, staff.Config{Argon2: fastArgon2, Now: e.clock.Now, Executors: e.adminExecutors(v)})
	if err != nil {
		t.Fatal(err)
	}
	e.passkeys, err = staff.NewPasskeys(e.dir, staff.PasskeyConfig{RPID: testHost, Origins: []string{testOrigin}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"tn_a", "tn_b"} {
		if _, err := db.Exec(ctx, `INSERT INTO tenants (id, name, status, created_at) VALUES (?, ?, 'active', 0)`, id, "Bank "+strings.ToUpper(id[3:])); err != nil {
			t.Fatal(err)
		}
	}
	sys := staff.Actor{Kind: audit.ActorSystem, OSUser: "test"}
	a1, err := e.dir.Bootstrap(ctx, sys, "op-admin", []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	e.admins[0] = staff.Actor{Kind: audit.ActorStaff, ID: a1.Account.ID}
	a2, err := e.dir.Bootstrap(ctx, e.admins[0], "op-admin2", []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	e.admins[1] = staff.Actor{Kind: audit.ActorStaff, ID: a2.Account.ID}
	e.remember(a1, "op-admin", "")
	e.remember(a2, "op-admin2", "")
	for _, p := range []struct {
		name, tenant string
		role         staff.Role
	}{
		{"op-reviewer", "", staff.RoleReviewer}, {"op-auditor", "", staff.RoleAuditor},
		{"a-reviewer", "tn_a", staff.RoleReviewer}, {"a-admin", "tn_a", staff.RoleAdmin}, {"a-auditor", "tn_a", staff.RoleAuditor},
		{"b-reviewer", "tn_b", staff.RoleReviewer}, {"b-admin", "tn_b", staff.RoleAdmin}, {"b-auditor", "tn_b", staff.RoleAuditor},
		{"nobody", "tn_a", ""},
	} {
		e.addPerson(p.name, p.tenant, p.role)
	}
	e.cfg = Config{
		DB: db, Audit: e.audit, Staff: StaffDirectory(e.dir), Passkeys: e.passkeys,
		OperatorReview: func(_ context.Context, tenantID string) (bool, error) { return e.operatorReview[tenantID], nil },
		TenantName:     func(_ context.Context, id string) (string, error) { return "Bank " + strings.ToUpper(id[3:]), nil },
		AuditLog:       e.audit.log,
		Tenants: func(context.Context) ([]TenantRef, error) {
			return []TenantRef{{ID: "tn_a", Name: "Bank A"}, {ID: "tn_b", Name: "Bank B"}}, nil
		},
		RequestID: func(context.Context) string { return "req-test-0001" },
		Now:       e.clock.Now,
		Admin:     e.admin.config(e.dir),
	}
	e.withReview(bs) // the review workbench and records (review_env_test.go)
	e.withOAuth()    // the consents and partner onboarding pages (consents_test.go)
	e.blobs, e.cfg.PartnerEvidence = bs, bs
	for _, m := range mod {
		m(&e.cfg)
	}
	if e.srv, err = New(e.cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) remember(en staff.Enrollment, name, tenant string) {
	e.t.Helper()
	u, err := url.Parse(en.TOTPURI.Reveal())
	if err != nil {
		e.t.Fatal(err)
	}
	sec, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.people[name] = &person{id: en.Account.ID, username: name, tenant: tenant, secret: sec}
}

func (e *env) addPerson(name, tenant string, role staff.Role) *person {
	e.t.Helper()
	ctx := context.Background()
	var en staff.Enrollment
	var err error
	if tenant == "" {
		en, err = e.dir.CreateAccount(ctx, e.admins[0], name, []byte(testPassword))
	} else {
		en, err = e.dir.CreateTenantAccount(ctx, e.admins[0], tenant, name, []byte(testPassword))
	}
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	if role != "" {
		g, _ := json.Marshal(staff.RoleGrant{StaffID: en.Account.ID, Role: role})
		ap, err := e.dir.Request(ctx, e.admins[0], staff.KindRoleGrant, g)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.dir.Approve(ctx, ap.ID, e.admins[1]); err != nil {
			e.t.Fatal(err)
		}
	}
	e.remember(en, name, tenant)
	return e.people[name]
}

// code is a fresh TOTP code for p: the clock moves on a step first, so no
// two sign-ins reuse a step.
func (e *env) code(p *person) string {
	e.clock.Add(staff.TOTPPeriod)
	return staff.TOTPCode(p.secret, e.clock.Now())
}

// browser is a cookie-keeping client of the portal handler. Secure cookies
// are kept whatever the scheme, as the tests call the handler directly.
type browser struct {
	e       *env
	cookies map[string]string
	remote  string // RemoteAddr
	auth    *webauthntest.Authenticator
}

func (e *env) browser() *browser {
	return &browser{e: e, cookies: map[string]string{}, remote: "192.0.2.10:5555", auth: webauthntest.New(testOrigin)}
}

type resp struct {
	status  int
	header  http.Header
	body    string
	cookies []*http.Cookie
}

// request sends one request. body is url.Values (a form), []byte (JSON) or
// nil; hdr adds headers.
func (b *browser) request(method, path string, body any, hdr map[string]string) resp {
	b.e.t.Helper()
	var r io.Reader
	ct := ""
	switch v := body.(type) {
	case url.Values:
		r, ct = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	case []byte:
		r, ct = strings.NewReader(string(v)), "application/json"
	case rawBody: // admin_helpers_test.go
		r, ct = strings.NewReader(string(v.b)), v.ct
	}
	req := httptest.NewRequest(method, "https://"+testHost+path, r)
	req.RemoteAddr = b.remote
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	b.e.srv.ServeHTTP(w, req)
	res := w.Result()
	out := resp{status: res.StatusCode, header: res.Header, body: w.Body.String(), cookies: res.Cookies()}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	return out
}

func (b *browser) get(path string) resp { return b.request(http.MethodGet, path, nil, nil) }

var csrfRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// csrf fetches a page and returns the token it carries.
func (b *browser) csrf() string {
	b.e.t.Helper()
	r := b.get("/portal/login")
	if r.status == http.StatusSeeOther { // signed in
		r = b.get("/portal/account")
	}
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		b.e.t.Fatalf("no csrf token on the sign-in page (status %d)", r.status)
	}
	return html.UnescapeString(m[1])
}

// post posts a form with the browser's CSRF token.
func (b *browser) post(path string, form url.Values) resp {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf())
	}
	return b.request(http.MethodPost, path, form, nil)
}

// postJSON posts JSON as the portal's script does.
func (b *browser) postJSON(path string, v any) resp {
	b.e.t.Helper()
	body, err := json.Marshal(v)
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.request(http.MethodPost, path, body, map[string]string{CSRFHeader: b.csrf()})
}

// signIn signs in as name with password and TOTP and fails the test
// unless it worked.
func (b *browser) signIn(name string) {
	b.e.t.Helper()
	p := b.e.people[name]
	r := b.post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {b.e.code(p)}})
	if r.status != http.StatusSeeOther || b.cookies[session.CookieSession] == "" {
		b.e.t.Fatalf("sign in as %s = %d, want 303 and a session\n%s", name, r.status, r.body)
	}
}

// signedIn returns a browser signed in as name.
func (e *env) signedIn(name string) *browser {
	e.t.Helper()
	b := e.browser()
	b.signIn(name)
	return b
}

// registerPasskey registers a passkey for the signed-in browser.
func (b *browser) registerPasskey(name string) {
	b.e.t.Helper()
	r := b.postJSON("/portal/account/passkeys/begin", map[string]any{})
	if r.status != http.StatusOK {
		b.e.t.Fatalf("passkey begin = %d %s", r.status, r.body)
	}
	cred, err := b.auth.Create([]byte(r.body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	r = b.postJSON("/portal/account/passkeys/finish", map[string]any{"name": name, "credential": json.RawMessage(cred)})
	if r.status != http.StatusOK {
		b.e.t.Fatalf("passkey finish = %d %s", r.status, r.body)
	}
}

// passkeySignIn signs in with the browser's authenticator; it returns the
// finish response.
func (b *browser) passkeySignIn(purpose string) resp {
	b.e.t.Helper()
	r := b.postJSON("/portal/passkey/begin", map[string]string{"purpose": purpose})
	if r.status != http.StatusOK {
		return r
	}
	cred, err := b.auth.Get([]byte(r.body))
	if err != nil {
		b.e.t.Fatal(err)
	}
	return b.postJSON("/portal/passkey/finish", map[string]any{"credential": json.RawMessage(cred), "next": "/portal/account"})
}

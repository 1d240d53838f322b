package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

func TestSignInCookies(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := e.people["a-reviewer"]
	r := b.post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {e.code(p)},
		"next": {"/portal/account"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/account" {
		t.Fatalf("sign in = %d → %q, want 303 → /portal/account", r.status, r.header.Get("Location"))
	}
	var sess *http.Cookie
	for _, c := range r.cookies {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v Path %q Domain %q; want __Host-, Secure, HttpOnly, Strict, /, no domain",
				c.Name, c.Secure, c.HttpOnly, c.SameSite, c.Path, c.Domain)
		}
		if c.Name == session.CookieSession {
			sess = c
		}
	}
	if sess == nil || sess.MaxAge != 0 {
		t.Fatalf("session cookie = %+v, want a browser-session cookie", sess)
	}
	raw := strings.Join(r.header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"__Host-mdg_session=", "Secure", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %s", raw, want)
		}
	}
	// The next page knows who it is, and the sign-in is audited with where
	// it came from.
	if home := b.get("/portal/"); home.status != http.StatusOK || !strings.Contains(home.body, "a-reviewer") || !strings.Contains(home.body, "Bank A") {
		t.Errorf("home after sign-in = %d", home.status)
	}
	ok := e.audit.find("portal.signin", audit.OutcomeOK)
	if len(ok) != 1 || ok[0].ActorID != p.id || ok[0].TenantID != "tn_a" || ok[0].Details["ip"] != "192.0.2.10" || ok[0].Details["method"] != "password" {
		t.Errorf("sign-in audit = %+v", ok)
	}
	// An open redirect is not possible through next.
	for _, next := range []string{"https://evil.example/", "//evil.example/portal/", "/v1/whoami", "/portal/\\evil", "javascript:alert(1)"} {
		b2 := e.browser()
		p2 := e.people["a-admin"]
		r := b2.post("/portal/login", url.Values{"username": {p2.username}, "password": {testPassword}, "code": {e.code(p2)}, "next": {next}})
		if loc := r.header.Get("Location"); loc != "/portal/" {
			t.Errorf("next=%q: Location %q, want /portal/", next, loc)
		}
	}
}

// TestSignInFailureIdentical: a wrong password, a wrong code, an unknown
// user and a locked account get byte-identical pages and statuses.
func TestSignInFailureIdentical(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	p := e.people["a-reviewer"]
	try := func(user, pw, code string) resp {
		return b.post("/portal/login", url.Values{"username": {user}, "password": {pw}, "code": {code}})
	}
	ref := try("ghost", testPassword, "123456")
	if ref.status != http.StatusUnauthorized || !strings.Contains(ref.body, `id="signin-error"`) {
		t.Fatalf("unknown user = %d, want 401 with the failure message\n%s", ref.status, ref.body)
	}
	for name, r := range map[string]resp{
		"unknown user, another password": try("ghost", "wrong password!!", "654321"),
		"wrong password":                 try(p.username, "wrong password!!", e.code(p)),
		"wrong code":                     try(p.username, testPassword, "000000"),
	} {
		// The username the person typed is echoed back; normalise it.
		body := strings.ReplaceAll(r.body, `value="a-reviewer"`, `value="ghost"`)
		if r.status != ref.status || body != ref.body {
			t.Errorf("%s: status %d, body differs from the unknown user's: %v", name, r.status, body != ref.body)
		}
	}
	// Put (account, this address) in backoff (staff's policy: 5 failures,
	// then 30 s) and compare again with the right credentials, inside the
	// backoff: the next step's code, without moving the clock as e.code does.
	for range 6 {
		try(p.username, "wrong password!!", "000000")
	}
	r := try(p.username, testPassword, staff.TOTPCode(p.secret, e.clock.Now().Add(staff.TOTPPeriod)))
	if body := strings.ReplaceAll(r.body, `value="a-reviewer"`, `value="ghost"`); r.status != ref.status || body != ref.body {
		t.Errorf("locked account: status %d, page differs from the unknown user's", r.status)
	}
	if n := len(e.audit.find("portal.signin", audit.OutcomeDenied)); n < 9 {
		t.Errorf("denied sign-ins audited = %d, want every one", n)
	}
	for _, en := range e.audit.find("portal.signin", audit.OutcomeDenied) {
		if en.Details["ip"] == "" || en.Object != "" {
			t.Errorf("denied sign-in entry %+v: want the client address and no account", en)
		}
	}
}

func TestSignInValidation(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name string
		form url.Values
		want []string // field error ids
	}{
		{"empty", url.Values{}, []string{"username-error", "password-error", "code-error"}},
		{"code letters", url.Values{"username": {"x"}, "password": {"y"}, "code": {"12345a"}}, []string{"code-error"}},
		{"code short", url.Values{"username": {"x"}, "password": {"y"}, "code": {"123"}}, []string{"code-error"}},
		{"username too long", url.Values{"username": {strings.Repeat("u", 65)}, "password": {"y"}, "code": {"123456"}}, []string{"username-error"}},
	} {
		b := e.browser()
		r := b.post("/portal/login", tc.form)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, r.status)
		}
		for _, id := range tc.want {
			if !strings.Contains(r.body, `id="`+id+`"`) || !strings.Contains(r.body, `aria-describedby="`) {
				t.Errorf("%s: page lacks %s", tc.name, id)
			}
		}
	}
}

func TestSessionLimits(t *testing.T) {
	e := newEnv(t)
	idle, life := e.dir.SessionLimits()

	b := e.signedIn("a-reviewer")
	e.clock.Add(idle + time.Second)
	r := b.get("/portal/account")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/login?next=%2Fportal%2Faccount") {
		t.Fatalf("after the idle timeout: %d → %q, want the sign-in page", r.status, r.header.Get("Location"))
	}
	if login := b.get(r.header.Get("Location")); !strings.Contains(login.body, `id="flash"`) {
		t.Error("the sign-in page does not say the session expired")
	}

	// Activity keeps a session alive, but not past its lifetime.
	b = e.signedIn("a-reviewer")
	start := e.clock.Now()
	for e.clock.Add(idle - time.Minute); b.get("/portal/").status == http.StatusOK; e.clock.Add(idle - time.Minute) {
	}
	if lived := e.clock.Now().Sub(start); lived < life || lived > life+idle {
		t.Errorf("an active session lasted %v, want its lifetime %v", lived, life)
	}
}

func TestSignOut(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("b-admin")
	tok := b.cookies[session.CookieSession]
	r := b.post("/portal/logout", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/login" {
		t.Fatalf("sign out = %d → %q", r.status, r.header.Get("Location"))
	}
	if _, ok := b.cookies[session.CookieSession]; ok {
		t.Error("session cookie not cleared")
	}
	if _, err := e.dir.CheckSession(context.Background(), tok); !errors.Is(err, staff.ErrSession) {
		t.Errorf("session after sign-out: %v, want ErrSession", err)
	}
	if len(e.audit.find("portal.signout", audit.OutcomeOK)) != 1 {
		t.Error("sign-out not audited")
	}
}

func TestReauth(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a-admin")
	p := e.people["a-admin"]
	e.clock.Add(6 * time.Minute)
	// A sensitive action sends the person to re-authenticate.
	r := b.post("/portal/account/totp", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/reauth?next=%2Fportal%2Faccount" {
		t.Fatalf("stale session: %d → %q, want the reauth page", r.status, r.header.Get("Location"))
	}
	page := b.get(r.header.Get("Location"))
	if page.status != http.StatusOK || !strings.Contains(page.body, `value="a-admin"`) {
		t.Fatalf("reauth page = %d", page.status)
	}
	old := b.cookies[session.CookieSession]
	// The username field is ignored: it is always the signed-in person.
	if r := b.post("/portal/reauth", url.Values{"username": {"op-admin"}, "password": {"nope nope nope"}, "code": {e.code(p)}, "next": {"/portal/account"}}); r.status != http.StatusUnauthorized {
		t.Errorf("reauth with a wrong password = %d, want 401", r.status)
	}
	r = b.post("/portal/reauth", url.Values{"username": {"op-admin"}, "password": {testPassword}, "code": {e.code(p)}, "next": {"/portal/account"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/account" {
		t.Fatalf("reauth = %d → %q", r.status, r.header.Get("Location"))
	}
	if b.cookies[session.CookieSession] == old {
		t.Error("re-authentication kept the old session")
	}
	if _, err := e.dir.CheckSession(context.Background(), old); !errors.Is(err, staff.ErrSession) {
		t.Error("the session re-authentication replaced still works")
	}
	if b.whoami() != "a-admin" {
		t.Error("re-authentication switched accounts")
	}
	// Now the action runs.
	if r := b.post("/portal/account/totp", nil); r.status != http.StatusOK || !strings.Contains(r.body, `id="totp-secret"`) {
		t.Errorf("after reauth: %d, want the new key page", r.status)
	}
	if len(e.audit.find("portal.reauth", audit.OutcomeDenied)) != 1 {
		t.Error("failed re-authentication not audited")
	}
}

func TestTOTPReenrolPages(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a-reviewer")
	p := e.people["a-reviewer"]
	r := b.post("/portal/account/totp", nil)
	if r.status != http.StatusOK {
		t.Fatalf("new key = %d\n%s", r.status, r.body)
	}
	uri := r.body[strings.Index(r.body, `<code id="totp-uri">`)+len(`<code id="totp-uri">`):]
	uri = strings.ReplaceAll(uri[:strings.Index(uri, "</code>")], "&amp;", "&")
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "otpauth" {
		t.Fatalf("URI %q: %v", uri, err)
	}
	next := &person{id: p.id, username: p.username}
	e.remember(staffEnrollment(p.id, uri), "a-reviewer-new", "tn_a")
	next.secret = e.people["a-reviewer-new"].secret

	for _, tc := range []struct {
		code string
		want int
	}{{"", http.StatusUnprocessableEntity}, {"abc", http.StatusUnprocessableEntity}, {"000000", http.StatusUnprocessableEntity}} {
		if r := b.post("/portal/account/totp/confirm", url.Values{"code": {tc.code}}); r.status != tc.want {
			t.Errorf("confirm %q = %d, want %d", tc.code, r.status, tc.want)
		}
	}
	r = b.post("/portal/account/totp/confirm", url.Values{"code": {e.code(next)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("confirm = %d\n%s", r.status, r.body)
	}
	if page := b.get("/portal/account"); !strings.Contains(page.body, `id="flash"`) {
		t.Error("no confirmation message")
	}
	// The new key signs in; the old one does not.
	b2 := e.browser()
	if r := b2.post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {e.code(p)}}); r.status != http.StatusUnauthorized {
		t.Errorf("old key = %d, want 401", r.status)
	}
	if r := b2.post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {e.code(next)}}); r.status != http.StatusSeeOther {
		t.Errorf("new key = %d, want 303", r.status)
	}
}

func staffEnrollment(id, uri string) staff.Enrollment {
	return staff.Enrollment{Account: staff.Account{ID: id}, TOTPURI: staff.Secret(uri)}
}

func TestPasskeyPages(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a-reviewer")
	b.registerPasskey("office laptop")
	acct := b.get("/portal/account")
	if !strings.Contains(acct.body, "office laptop") || !strings.Contains(acct.body, `id="flash"`) {
		t.Fatalf("account page does not list the new passkey\n%s", acct.body)
	}
	// A bad name is refused with a message.
	r := b.postJSON("/portal/account/passkeys/finish", map[string]any{"name": "", "credential": map[string]string{}})
	var out map[string]string
	if r.status != http.StatusUnprocessableEntity || json.Unmarshal([]byte(r.body), &out) != nil || out["error"] == "" {
		t.Errorf("empty name = %d %s, want 422 with a message", r.status, r.body)
	}

	// Sign out; sign in with the passkey.
	b.post("/portal/logout", nil)
	r = b.passkeySignIn("login")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"redirect":"/portal/account"`) {
		t.Fatalf("passkey sign-in = %d %s", r.status, r.body)
	}
	if b.whoami() != "a-reviewer" {
		t.Fatal("passkey signed in someone else")
	}
	acct = b.get("/portal/account")
	if !strings.Contains(acct.body, "パスキー</dd>") {
		t.Error("account page does not show the passkey sign-in method")
	}
	ok := e.audit.find("portal.signin", audit.OutcomeOK)
	if last := ok[len(ok)-1]; last.Details["method"] != "passkey" || last.ActorID != e.people["a-reviewer"].id {
		t.Errorf("passkey sign-in audit = %+v", last)
	}
	// A replayed ceremony cookie or a forged assertion is refused, with
	// the password sign-in's message.
	b.post("/portal/logout", nil)
	r = b.postJSON("/portal/passkey/begin", map[string]string{"purpose": "login"})
	cred, _ := b.auth.Get([]byte(r.body))
	cred = []byte(strings.Replace(string(cred), `"signature":"M`, `"signature":"N`, 1))
	r = b.postJSON("/portal/passkey/finish", map[string]any{"credential": json.RawMessage(cred)})
	msg, _ := e.srv.cat.T("ja", "signin.failed")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, msg) {
		t.Errorf("forged assertion = %d %s, want 401 with the sign-in failure message", r.status, r.body)
	}
	if r := b.postJSON("/portal/passkey/begin", map[string]string{"purpose": "reauth"}); r.status != http.StatusUnauthorized {
		t.Errorf("reauth ceremony while signed out = %d, want 401", r.status)
	}
	if r := b.postJSON("/portal/passkey/begin", map[string]string{"purpose": "other"}); r.status != http.StatusBadRequest {
		t.Errorf("unknown purpose = %d, want 400", r.status)
	}
	if r := b.request(http.MethodPost, "/portal/passkey/begin", []byte(`{"purpose":"login","extra":1}`), map[string]string{CSRFHeader: b.csrf()}); r.status != http.StatusBadRequest {
		t.Errorf("unknown field = %d, want 400", r.status)
	}

	// Passkey re-authentication after the window.
	if r := b.passkeySignIn("login"); r.status != http.StatusOK {
		t.Fatalf("sign in again = %d", r.status)
	}
	e.clock.Add(10 * time.Minute)
	if r := b.postJSON("/portal/account/passkeys/begin", map[string]any{}); r.status != http.StatusForbidden {
		t.Errorf("register with a stale session = %d, want 403", r.status)
	}
	if r := b.passkeySignIn("reauth"); r.status != http.StatusOK {
		t.Fatalf("passkey reauth = %d %s", r.status, r.body)
	}
	if r := b.postJSON("/portal/account/passkeys/begin", map[string]any{}); r.status != http.StatusOK {
		t.Errorf("register after reauth = %d", r.status)
	}
}

func TestAdminPasskeyRequired(t *testing.T) {
	e := newEnv(t, withTestRoutes, func(c *Config) { c.RequireAdminPasskey = true })
	b := e.signedIn("a-admin")
	home := b.get("/portal/")
	if !strings.Contains(home.body, `id="admin-withheld"`) {
		t.Error("no notice that admin functions need a passkey")
	}
	if r := b.get("/portal/test/admin-only"); r.status != http.StatusForbidden {
		t.Errorf("admin page with a password session = %d, want 403", r.status)
	}
	b.registerPasskey("admin key")
	b.post("/portal/logout", nil)
	if r := b.passkeySignIn("login"); r.status != http.StatusOK {
		t.Fatalf("passkey sign-in = %d", r.status)
	}
	if r := b.get("/portal/test/admin-only"); r.status != http.StatusOK {
		t.Errorf("admin page with a passkey session = %d, want 200", r.status)
	}
	// Reviewers are unaffected.
	if r := e.signedIn("op-reviewer").get("/portal/"); strings.Contains(r.body, `id="admin-withheld"`) {
		t.Error("a reviewer is told about admin passkeys")
	}
	if _, err := New(Config{DB: e.db, Audit: e.audit, Staff: StaffDirectory(e.dir), OperatorReview: e.cfg.OperatorReview, RequireAdminPasskey: true}); err == nil {
		t.Error("New accepted RequireAdminPasskey without a passkey relying party")
	}
}

func TestIPAllowList(t *testing.T) {
	e := newEnv(t)
	allow, _ := staff.ParseIPAllow("192.0.2.0/24")
	if err := e.dir.SetTenantAccess(context.Background(), e.admins[0], "tn_a", allow); err != nil {
		t.Fatal(err)
	}
	inside := e.signedIn("a-reviewer") // 192.0.2.10
	outside := e.browser()
	outside.remote = "203.0.113.7:4444"
	p := e.people["a-reviewer"]
	r := outside.post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {e.code(p)}})
	ghost := outside.post("/portal/login", url.Values{"username": {"ghost"}, "password": {testPassword}, "code": {"123456"}})
	if r.status != http.StatusUnauthorized || strings.ReplaceAll(r.body, `value="a-reviewer"`, `value="ghost"`) != ghost.body {
		t.Errorf("sign-in from outside the allow-list = %d, want the ordinary failure page", r.status)
	}
	if _, ok := outside.cookies[session.CookieSession]; ok {
		t.Error("a session cookie was set outside the allow-list")
	}
	// Another tenant is not restricted.
	b := e.browser()
	b.remote = "203.0.113.7:4444"
	b.signIn("b-reviewer")
	// A session that moves outside the list ends.
	inside.remote = "203.0.113.8:1"
	if r := inside.get("/portal/"); r.status != http.StatusForbidden {
		t.Errorf("session from outside = %d, want 403", r.status)
	}
	inside.remote = "192.0.2.10:1"
	if r := inside.get("/portal/"); r.status != http.StatusSeeOther {
		t.Errorf("that session back inside = %d, want 303 (it ended)", r.status)
	}
	if n := len(e.audit.find("portal.access", audit.OutcomeDenied)); n != 2 {
		t.Errorf("refusals audited = %d, want 2", n)
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn("a-reviewer")
	tok := b.csrf()
	big := url.Values{"csrf": {tok}, "code": {strings.Repeat("1", DefaultMaxBody)}}
	// Declared too large: refused before reading.
	r := b.request(http.MethodPost, "/portal/account/totp/confirm", big, nil)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form = %d, want 413", r.status)
	}
	// Not declared (chunked): refused when the cap is reached.
	req := map[string]string{"Content-Length": ""}
	r = b.request(http.MethodPost, "/portal/account/totp/confirm", big, req)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized form without a length = %d, want 413", r.status)
	}
	blob := append([]byte(`{"name":"`), []byte(strings.Repeat("a", 90<<10))...)
	r = b.request(http.MethodPost, "/portal/account/passkeys/finish", append(blob, `"}`...), map[string]string{CSRFHeader: tok})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized JSON = %d, want 413", r.status)
	}
}

// failingDir makes one directory call fail with an internal error.
type failingDir struct {
	Directory
}

var errSecret = errors.New("database password is hunter2")

func (failingDir) Passkeys(context.Context, string) ([]staff.Passkey, error) { return nil, errSecret }

func TestErrorPageLeaksNothing(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Staff = failingDir{c.Staff} })
	b := e.signedIn("a-reviewer")
	r := b.get("/portal/account")
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", r.status)
	}
	if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, "database") {
		t.Error("the error page shows the internal error")
	}
	if !strings.Contains(r.body, "req-test-0001") {
		t.Error("the error page does not show the request id")
	}
	if r := b.get("/portal/no/such/page"); r.status != http.StatusNotFound || !strings.Contains(r.body, "<h1>") {
		t.Errorf("unknown page = %d", r.status)
	}
	if r := b.request(http.MethodDelete, "/portal/account", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("DELETE = %d, want 404", r.status)
	}
}

func TestHeaders(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/portal/login", "/portal/static/portal.css", "/portal/static/passkey.js", "/portal/nope"} {
		r := e.browser().get(path)
		if r.header.Get("Content-Security-Policy") != CSP || r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: security headers %v", path, r.header)
		}
	}
	if !strings.Contains(CSP, "script-src 'self'") || strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP %q", CSP)
	}
	if r := e.browser().get("/portal/login"); r.header.Get("Cache-Control") != "no-store" {
		t.Error("pages may be cached")
	}
	if r := e.browser().get("/portal/static/"); r.status != http.StatusNotFound {
		t.Errorf("static directory listing = %d, want 404", r.status)
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	if r := b.get("/portal/login"); !strings.Contains(r.body, `<html lang="ja">`) || !strings.Contains(r.body, "サインイン") {
		t.Error("Japanese is not the default")
	}
	r := b.post("/portal/lang", url.Values{"lang": {"en"}, "next": {"/portal/login"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/login" {
		t.Fatalf("switch = %d", r.status)
	}
	if r := b.get("/portal/login"); !strings.Contains(r.body, `<html lang="en">`) || !strings.Contains(r.body, "Sign in") {
		t.Error("English after switching")
	}
	if r := b.post("/portal/lang", url.Values{"lang": {"fr"}}); r.status != http.StatusBadRequest {
		t.Errorf("unknown language = %d, want 400", r.status)
	}
}

func TestClientIP(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:1", "", "192.0.2.1"},
		{"192.0.2.1:1", "198.51.100.1", "192.0.2.1"}, // untrusted peer: header ignored
		{"10.0.0.5:1", "198.51.100.1", "198.51.100.1"},
		{"10.0.0.5:1", "203.0.113.9, 198.51.100.1, 10.0.0.7", "198.51.100.1"},
		{"10.0.0.5:1", "garbage", "10.0.0.5"},
		{"10.0.0.5:1", "", "10.0.0.5"},
		{"[::ffff:192.0.2.1]:1", "", "192.0.2.1"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := e.srv.clientIP(r); got.String() != tc.want {
			t.Errorf("clientIP(%s, %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestPager(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		query      string
		page, off  int
		prev, next string
	}{
		{"", 1, 0, "", "/x?page=2"},
		{"page=3&q=a", 3, 40, "/x?page=2&q=a", "/x?page=4&q=a"},
		{"page=-1", 1, 0, "", "/x?page=2"},
		{"page=99999999", 1, 0, "", "/x?page=2"},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/x?"+tc.query, nil)
		rq := e.srv.newRequest(nil, r, &Route{})
		p := rq.Pager(20)
		rows := Trim(&p, make([]int, p.Limit()))
		if p.Page != tc.page || p.Offset() != tc.off || len(rows) != 20 || !p.More {
			t.Errorf("%q: page %d offset %d rows %d more %v", tc.query, p.Page, p.Offset(), len(rows), p.More)
		}
		if (tc.prev == "") == p.HasPrev() || (p.HasPrev() && p.PrevURL() != tc.prev) || p.NextURL() != tc.next {
			t.Errorf("%q: prev %q next %q", tc.query, p.PrevURL(), p.NextURL())
		}
	}
}

func FuzzLocalPath(f *testing.F) {
	for _, s := range []string{"/portal/", "/portal/account?x=1", "//evil", "https://evil/portal/", "/portal/\\x", "/v1/x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := localPath(s)
		u, err := url.Parse(got)
		if !strings.HasPrefix(got, Prefix+"/") || err != nil || u.Host != "" || u.Scheme != "" || strings.HasPrefix(got, "//") {
			t.Fatalf("localPath(%q) = %q: not a local portal path", s, got)
		}
	})
}

func TestSignInRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SignInRate = 3 })
	b := e.browser()
	for i := range 3 {
		if r := b.post("/portal/login", url.Values{"username": {"ghost"}, "password": {"x"}, "code": {"123456"}}); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d = %d, want 401", i, r.status)
		}
	}
	r := b.post("/portal/login", url.Values{"username": {"ghost"}, "password": {"x"}, "code": {"123456"}})
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("fourth attempt = %d, want 429", r.status)
	}
	// Another address is not affected; time refills the bucket.
	other := e.browser()
	other.remote = "198.51.100.20:1"
	other.signIn("a-reviewer")
	e.clock.Add(time.Minute)
	b.signIn("a-admin")
}

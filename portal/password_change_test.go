package portal

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/session"
)

// TestPasswordChangePage: a person changes their own password from the
// account page: only after re-authentication; the form answers its errors
// on the page; the change ends their other sessions, keeps this one and is
// audited; the new password signs in and the old one does not; a wrong
// current password signs the person out.
func TestPasswordChangePage(t *testing.T) {
	e := newEnv(t)
	p := e.people["a-reviewer"]
	b := e.signedIn("a-reviewer")
	other := e.signedIn("a-reviewer") // the same person in another browser
	colleague := e.signedIn("a-admin")

	page := b.get("/portal/account/password")
	if page.status != http.StatusOK || !strings.Contains(page.body, `autocomplete="current-password"`) ||
		strings.Count(page.body, `autocomplete="new-password"`) != 2 || strings.Contains(page.body, `id="reauth-link"`) {
		t.Fatalf("password page = %d, want the form with autofill tokens and no re-authentication link", page.status)
	}
	if acct := b.get("/portal/account"); !strings.Contains(acct.body, `href="/portal/account/password"`) {
		t.Error("the account page does not link to the password change")
	}
	const next = "another correct horse battery"
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"nothing", url.Values{}, "current"},
		{"mismatch", url.Values{"current": {testPassword}, "new": {next}, "confirm": {next + "!"}}, "confirm"},
		{"too short", url.Values{"current": {testPassword}, "new": {"short"}, "confirm": {"short"}}, "new"},
		{"unchanged", url.Values{"current": {testPassword}, "new": {testPassword}, "confirm": {testPassword}}, "new"},
		{"too long", url.Values{"current": {testPassword}, "new": {strings.Repeat("x", 1025)}, "confirm": {strings.Repeat("x", 1025)}}, "new"},
	} {
		r := b.post("/portal/account/password", tc.form)
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="`+tc.field+`-error"`) {
			t.Errorf("%s: status %d, want 422 with an error at %s", tc.name, r.status, tc.field)
		}
	}
	if n := len(e.audit.find("staff.password.change", "")); n != 0 {
		t.Errorf("invalid forms were recorded as %d attempts", n)
	}

	// Re-authentication first once the sign-in is old.
	e.clock.Add(6 * 60e9)
	if r := b.get("/portal/account/password"); !strings.Contains(r.body, `id="reauth-link"`) {
		t.Error("an old sign-in is not offered re-authentication")
	}
	r := b.post("/portal/account/password", url.Values{"current": {testPassword}, "new": {next}, "confirm": {next}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/portal/reauth") {
		t.Fatalf("change without recent sign-in = %d %q, want 303 to re-authentication", r.status, r.header.Get("Location"))
	}
	if r := b.post("/portal/reauth", url.Values{"password": {testPassword}, "code": {e.code(p)}}); r.status != http.StatusSeeOther {
		t.Fatalf("reauth = %d", r.status)
	}
	other.get("/portal/") // keep the other browser's session alive
	colleague.get("/portal/")

	r = b.post("/portal/account/password", url.Values{"current": {testPassword}, "new": {next}, "confirm": {next}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/account" {
		t.Fatalf("change = %d %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if r := b.get("/portal/account"); r.status != http.StatusOK || !strings.Contains(r.body, `id="flash"`) {
		t.Errorf("after the change the account page = %d, without its message", r.status)
	}
	if r := other.get("/portal/"); r.status != http.StatusSeeOther {
		t.Errorf("the person's other session survived the change: %d", r.status)
	}
	if r := colleague.get("/portal/"); r.status != http.StatusOK {
		t.Errorf("a colleague's session ended: %d", r.status)
	}
	ok := e.audit.find("staff.password.change", audit.OutcomeOK)
	if len(ok) != 1 || ok[0].ActorID != p.id || ok[0].Object != p.id || ok[0].TenantID != "tn_a" || ok[0].Details["sessions_ended"] == "" {
		t.Errorf("audit = %+v, want one staff.password.change by and about the person in tn_a", ok)
	}
	// The new password signs in, the old one does not.
	if r := e.browser().post("/portal/login", url.Values{"username": {p.username}, "password": {testPassword}, "code": {e.code(p)}}); r.status != http.StatusUnauthorized {
		t.Errorf("old password = %d, want 401", r.status)
	}
	e.clock.Add(30e9) // the next TOTP step
	if r := e.browser().post("/portal/login", url.Values{"username": {p.username}, "password": {next}, "code": {e.code(p)}}); r.status != http.StatusSeeOther {
		t.Errorf("new password = %d, want 303", r.status)
	}

	// A wrong current password ends this session.
	r = b.post("/portal/account/password", url.Values{"current": {"not my password at all"}, "new": {testPassword}, "confirm": {testPassword}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/login" {
		t.Errorf("wrong current password = %d %q, want 303 to the sign-in page", r.status, r.header.Get("Location"))
	}
	if _, err := e.dir.CheckSession(context.Background(), b.cookies[session.CookieSession]); err == nil {
		t.Error("the session survived a wrong current password")
	}
	if len(e.audit.find("staff.password.change", audit.OutcomeDenied)) != 1 {
		t.Error("the wrong current password is not audited")
	}
}

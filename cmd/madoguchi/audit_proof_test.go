package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
)

// devStaff adds a staff account with role to a development data directory
// after 'dev portal' ran there (its two operator admins approve the role
// grant): in tenantID, or an operator account for "". It returns the
// account with its TOTP secret, like the accounts 'dev portal' records.
func devStaff(t *testing.T, dir, tenantID, username string, role staff.Role) devAccount {
	t.Helper()
	ctx := context.Background()
	a := testApp(t, dir)
	defer a.Close()
	var approvers []staff.Actor
	for _, n := range []string{"dev-operator", "dev-operator2"} {
		acc, err := a.staff.AccountByUsername(ctx, n)
		if err != nil {
			t.Fatalf("%s: %v (run dev portal first)", n, err)
		}
		approvers = append(approvers, staff.Actor{Kind: audit.ActorStaff, ID: acc.ID})
	}
	var (
		en  staff.Enrollment
		err error
	)
	if tenantID == "" {
		en, err = a.staff.CreateAccount(ctx, approvers[0], username, []byte(devPortalPassword))
	} else {
		en, err = a.staff.CreateTenantAccount(ctx, approvers[0], tenantID, username, []byte(devPortalPassword))
	}
	if err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(staff.RoleGrant{StaffID: en.Account.ID, Role: role})
	ap, err := a.staff.Request(ctx, approvers[0], staff.KindRoleGrant, g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.staff.Approve(ctx, ap.ID, approvers[1]); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(en.TOTPURI.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	return devAccount{Username: username, Password: devPortalPassword, Secret: u.Query().Get("secret")}
}

// devTenantID is the id of the tenant 'dev portal' created.
func devTenantID(t *testing.T, dir string) string {
	t.Helper()
	var accs map[string]devPortalAccount
	b, err := os.ReadFile(filepath.Join(dir, devPortalFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &accs); err != nil {
		t.Fatal(err)
	}
	return accs["dev-reviewer"].TenantID
}

var csrfMetaRE = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// portalClient signs acc in to the portal at base (TLS) and returns a
// client holding the session.
func portalClient(t *testing.T, srv *httptest.Server, acc devAccount) *http.Client {
	t.Helper()
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r, err := c.Get(srv.URL + "/portal/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	m := csrfMetaRE.FindSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(acc.Secret)
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"csrf": {html.UnescapeString(string(m[1]))}, "username": {acc.Username}, "password": {acc.Password},
		"code": {staff.TOTPCode(secret, time.Now())}, "next": {"/portal/"}}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/portal/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	r, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/portal/" {
		t.Fatalf("sign in as %s = %d %s", acc.Username, r.StatusCode, r.Header.Get("Location"))
	}
	return c
}

// TestAuditVerifyPortalBundle: a tenant auditor exports an entry's proof
// bundle from the portal; 'madoguchi audit verify --proof' accepts it with
// the log's verifier key alone (from a file and from standard input), and
// refuses it with the entry, the proof or the checkpoint tampered, or
// with another log's key.
func TestAuditVerifyPortalBundle(t *testing.T) {
	dir := t.TempDir()
	testApp(t, dir).Close() // a development data directory
	if code, out, errs := runCLI(t, "dev", "portal", "--data", dir); code != 0 {
		t.Fatalf("dev portal = %d\n%s%s", code, out, errs)
	}
	tenantID := devTenantID(t, dir)
	auditor := devStaff(t, dir, tenantID, "dev-auditor", staff.RoleAuditor)

	a := testApp(t, dir)
	m, err := a.portalMount(portalFlags{enabled: "on", passkeys: "off", adminPasskey: "optional", idle: time.Minute, lifetime: time.Hour, reauth: time.Minute}, "https://localhost")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(m.Handler)
	defer srv.Close()
	c := portalClient(t, srv, auditor)

	ctx := context.Background()
	recs, err := a.audit.Entries(ctx, audit.Query{TenantID: tenantID, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("a tenant entry: %v %v", recs, err)
	}
	idx := recs[0].Index
	if _, err := a.audit.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(fmt.Sprintf("%s/portal/audit/entries/%d/proof?download=1", srv.URL, idx))
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("download = %d %v\n%s", r.StatusCode, r.Header, bundle)
	}
	file := filepath.Join(t.TempDir(), "bundle.tlog-proof")
	if err := os.WriteFile(file, bundle, 0o600); err != nil {
		t.Fatal(err)
	}
	vkey := a.audit.VerifierKey()
	a.Close()

	code, out, errs := runCLI(t, "audit", "verify", "--proof", file, "--key", vkey)
	if code != 0 || !strings.HasPrefix(out, fmt.Sprintf("ok: entry %d is in ", idx)) || !strings.Contains(out, "  tenant     "+tenantID+"\n") ||
		!strings.Contains(out, "  action     "+recs[0].Entry.Action+"\n") {
		t.Fatalf("audit verify --proof (exported bundle) = %d\n%s%s", code, out, errs)
	}
	var sout, serr bytes.Buffer
	e := &env{stdin: bytes.NewReader(bundle), stdout: &sout, stderr: &serr, getenv: func(string) string { return "" }}
	if code := run(ctx, e, []string{"audit", "verify", "--proof", "-", "--key", vkey}); code != 0 || sout.String() != out {
		t.Errorf("audit verify --proof - = %d\n%s%s", code, sout.String(), serr.String())
	}

	lines := strings.Split(string(bundle), "\n")
	edit := func(f func([]string)) []byte {
		l := append([]string(nil), lines...)
		f(l)
		return []byte(strings.Join(l, "\n"))
	}
	flipB64 := func(s string, i int) string {
		b, _ := base64.StdEncoding.DecodeString(s)
		b[i%len(b)] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	cpAt := bytes.Index(bundle, []byte("\n\n")) + 2
	cpLines := strings.Count(string(bundle[:cpAt]), "\n")
	other, _, err := audit.GenerateSigner(nil, "madoguchi.local/audit")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		key  string
		why  string
	}{
		{"entry edited", edit(func(l []string) { l[1] = "extra " + flipB64(l[1][len("extra "):], 30) }), vkey, "proof does not verify"},
		{"proof hash edited", edit(func(l []string) { l[3] = flipB64(l[3], 3) }), vkey, "proof does not verify"},
		{"index edited", edit(func(l []string) { l[2] = fmt.Sprintf("index %d", idx+1) }), vkey, "proof does not verify"},
		{"checkpoint root edited", edit(func(l []string) { l[cpLines+2] = flipB64(l[cpLines+2], 0) }), vkey, "bad checkpoint"},
		{"checkpoint size edited", edit(func(l []string) { l[cpLines+1] += "0" }), vkey, "bad checkpoint"},
		{"another log's key", bundle, other.VerifierKey(), "bad checkpoint"},
		{"not a bundle", []byte("hello\n\nworld"), vkey, "tlog-proof"},
	} {
		f := filepath.Join(t.TempDir(), "tampered")
		if err := os.WriteFile(f, c.b, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := runCLI(t, "audit", "verify", "--proof", f, "--key", c.key)
		if code != 1 || !strings.Contains(errs, "audit verify: FAIL") || !strings.Contains(errs, c.why) || strings.Contains(out, "ok:") {
			t.Errorf("%s: audit verify = %d, %q, %q; want exit 1 and FAIL (%s)", c.name, code, out, errs, c.why)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/portal"
)

// The portal's browser test: e2e/browser/portal.mjs drives Debian's
// headless Chromium (playwright-core) against two real server processes,
// one with the default session limits and one with a 2-second idle
// timeout, with accounts made by 'madoguchi dev portal'. The script asserts
// as it goes and reports each check; this test requires every expected
// check, so a check cannot be skipped silently.
//
// Screenshots of every page are kept in e2e/browser/artifacts/portal (git
// ignores it), or in $MADOGUCHI_E2E_SHOTS. Skipped under -short; under
// CI=true a missing Chromium, node or node_modules is a failure.

// portalShots is the directory the portal's screenshots are kept in.
const portalShots = "../../e2e/browser/artifacts/portal"

type devAccount struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Secret   string `json:"totp_secret"`
}

func (a devAccount) script() map[string]string {
	return map[string]string{"username": a.Username, "password": a.Password, "secret": a.Secret}
}

// devPortalAccounts runs 'dev portal' and returns the accounts with their
// TOTP secrets (from the development data directory's record).
func devPortalAccounts(t *testing.T, dir string, args ...string) map[string]devAccount {
	t.Helper()
	if code, out, errs := runCLI(t, append([]string{"dev", "portal", "--data", dir, "--json"}, args...)...); code != 0 {
		t.Fatalf("dev portal %v = exit %d\n%s%s", args, code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, devPortalFile))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]devAccount
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// crossTenantElsewhere lists the portal routes with an id whose
// cross-tenant 404 another test drives (route → that test): another
// browser test, or the portal's own TestCrossTenant where the object is
// made by a flow this browser harness cannot run (a consent needs a
// partner's PAR and a customer's approval; a credential needs an
// approved eKYC session with a face template).
var crossTenantElsewhere = map[string]string{
	"POST /consents/{id}/revoke":               "TestCrossTenant",
	"POST /credentials/{id}/reissue":           "TestCrossTenant",
	"GET /audit/entries/{id}":                  "TestBrowserPortalAudit",
	"GET /audit/entries/{id}/proof":            "TestBrowserPortalAudit",
	"GET /audit/trail/{id}":                    "TestBrowserPortalAudit",
	"GET /partners/{id}":                       "TestBrowserPortalPartner",
	"POST /partners/{id}/items/{area}":         "TestBrowserPortalPartner",
	"GET /partners/{id}/items/{area}/evidence": "TestBrowserPortalPartner",
	"POST /partners/{id}/signoff":              "TestBrowserPortalPartner",
	"POST /partners/{id}/activate":             "TestBrowserPortalPartner",
}

func TestBrowserPortal(t *testing.T) {
	requireBrowser(t)
	dir, idleDir := t.TempDir(), t.TempDir()
	srv := startServer(t, dir)
	idleSrv := startServer(t, idleDir, "--portal-idle-timeout", "2s")
	devPortalAccounts(t, dir)
	acc := devPortalAccounts(t, dir, "--tenant", "Other Bank", "--prefix", "other")
	idleAcc := devPortalAccounts(t, idleDir)

	// Every portal route that takes an object id is tried across tenants.
	a := testApp(t, dir)
	m, err := a.portalMount(portalFlags{enabled: "on", passkeys: "on", adminPasskey: "optional", idle: time.Minute, lifetime: time.Hour, reauth: time.Minute}, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	var cross []map[string]string
	for _, rt := range m.Handler.(*portal.Server).Routes() {
		if !strings.Contains(strings.ReplaceAll(rt.Path, "{$}", ""), "{") {
			continue
		}
		if crossTenantElsewhere[rt.Method+" "+rt.Path] != "" {
			continue // another browser test tries it across tenants
		}
		if reviewBrowserCovered(rt.Path) {
			continue // TestBrowserReview tries them with real sessions and records
		}
		if strings.HasPrefix(rt.Path, "/admin/") {
			continue // TestBrowserPortalAdmin (e2e_portal_admin_test.go) tries these across tenants
		}
		if rt.Path != "/account/passkeys/{id}/delete" {
			t.Fatalf("route %s %s takes an id: teach portal.mjs which object to try it with across tenants", rt.Method, rt.Path)
		}
		cross = append(cross, map[string]string{"method": rt.Method, "path": portal.Prefix + rt.Path})
	}

	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = portalShots
		_ = os.RemoveAll(shots)
	}
	local := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }
	arg, _ := json.Marshal(map[string]any{
		"url": local(srv.url()), "idleURL": local(idleSrv.url()), "idleMs": 2000, "shots": shots,
		"accounts": map[string]map[string]string{
			"reviewer": acc["dev-reviewer"].script(), "admin": acc["dev-admin"].script(),
			"other": acc["other-reviewer"].script(), "idle": idleAcc["dev-reviewer"].script(),
		},
		"crossTenant": cross,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	run := runBrowserScript(ctx, t, "portal.mjs", arg, srv)
	checks, screens, axeRuns := run.checks, run.screens, run.axe
	for _, want := range []string{
		"redirected to sign-in", "Japanese by default", "autocomplete username", "autocomplete current-password", "autocomplete one-time-code",
		"failure identical for real and unknown accounts", "keyboard sign-in", "cookie __Host-mdg_session", "cookie __Host-mdg_browser",
		"document.cookie empty", "passkey listed", "authenticator holds a resident credential", "new TOTP key shown",
		"forged CSRF token refused", "token-less post refused", "still signed in after refused posts", "passkey sign-in",
		"session opened with a passkey", "passkey re-authentication", "English", "404 page", "idle timeout",
		"no console errors or CSP violations",
		"cross-tenant POST /portal/account/passkeys/{id}/delete",
		"axe login", "axe login-failed", "axe home", "axe account", "axe totp", "axe reauth", "axe error-page", "axe home-en", "axe not-found", "axe home-admin",
	} {
		if !slices.Contains(checks, want) {
			t.Errorf("portal.mjs did not report check %q", want)
		}
	}
	if screens < 15 {
		t.Errorf("%d screenshots, want one of every page", screens)
	}
	t.Logf("portal browser test: %d checks, %d axe runs, %d screenshots in %s, %v", len(checks), axeRuns, screens, shots, time.Since(start).Round(time.Second))
}

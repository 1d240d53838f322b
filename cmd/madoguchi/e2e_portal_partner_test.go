package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// Partner onboarding in a real browser (e2e/browser/portal-partner.mjs):
// a tenant admin records an area with a PDF (a text file refused), a
// reviewer downloads it and signs off, the admin requests activation, an
// operator admin approves it and the client is active; another tenant's
// admin gets 404 or 403 on every /partners route; axe-core finds no
// serious or critical violation. Screenshots go to
// e2e/browser/artifacts/portal-partner (or $MADOGUCHI_E2E_SHOTS).

// devBankID is the id of the tenant dev portal makes ("Development Bank").
func devBankID(t *testing.T, a *app) string {
	t.Helper()
	ts, err := a.tenants.ListTenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ts, func(x tenant.Tenant) bool { return x.Name == "Development Bank" })
	if i < 0 {
		t.Fatal("dev portal made no Development Bank")
	}
	return ts[i].ID
}

const portalPartnerShots = "../../e2e/browser/artifacts/portal-partner"

func TestBrowserPortalPartner(t *testing.T) {
	requireBrowser(t)
	dir := t.TempDir()
	srv := startServer(t, dir)
	acc := devPortalAccounts(t, dir)
	other := devPortalAccounts(t, dir, "--tenant", "Other Bank", "--prefix", "other")
	ctx := context.Background()
	a := testApp(t, dir)
	tenantID := devBankID(t, a)
	// A pending partner whose areas but the first are recorded (not
	// applicable) by the system: the browser records the first.
	spec, _, _ := ecClient(t, "accounts:read")
	spec.Name = "ブラウザ連携先"
	var cl tenant.Client
	if err := a.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		cl, err = a.tenants.CreateClientTx(ctx, tx, tenant.Actor{Kind: audit.ActorSystem, ID: "e2e"}, tenantID, spec)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	srvO, err := a.oauthServer()
	if err != nil {
		t.Fatal(err)
	}
	sys := oauth.Actor{Kind: audit.ActorSystem, ID: "e2e"}
	if _, err := srvO.RegisterClient(ctx, sys, tenantID, cl.ID, oauth.ProfileSpec{RedirectURIs: []string{"https://partner.example/cb"},
		GrantTypes: []string{oauth.GrantAuthorizationCode}}); err != nil {
		t.Fatal(err)
	}
	for _, area := range oauth.CriteriaAreas[1:] {
		if err := srvO.SetAssessmentItem(ctx, sys, a.blobs, tenantID, cl.ID, area, oauth.ItemNotApplicable, "対象外", "", nil); err != nil {
			t.Fatal(err)
		}
	}

	// Every onboarding route that takes an object, with the status another
	// tenant's admin must get: 404, or 403 where admins may not use it.
	m, err := a.portalMount(portalFlags{enabled: "on", passkeys: "off", adminPasskey: "optional", idle: time.Minute, lifetime: time.Hour, reauth: time.Minute}, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	var cross []map[string]any
	for _, rt := range m.Handler.(*portal.Server).Routes() {
		if !strings.HasPrefix(rt.Path, "/partners/{id}") {
			continue
		}
		want := 404
		if !slices.Contains(rt.Roles, portal.TenantAdmin) {
			want = 403
		}
		cross = append(cross, map[string]any{"method": rt.Method, "path": portal.Prefix + rt.Path, "want": want})
	}
	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = portalPartnerShots
		_ = os.RemoveAll(shots)
	}
	arg, _ := json.Marshal(map[string]any{
		"url": strings.Replace(srv.url(), "127.0.0.1", "localhost", 1), "shots": shots, "client": cl.ID, "area": oauth.CriteriaAreas[0],
		"accounts": map[string]map[string]string{
			"admin": acc["dev-admin"].script(), "reviewer": acc["dev-reviewer"].script(), "operator": acc["dev-operator"].script(),
			"other": other["other-admin"].script(),
		},
		"crossTenant": cross,
	})
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	start := time.Now()
	run := runBrowserScript(cctx, t, "portal-partner.mjs", arg, srv)
	want := []string{"a text file is refused on its form", "the area is recorded with its evidence", "the reviewer downloads the evidence",
		"the reviewer signs off", "activation filed for approval", "the requester cannot approve", "a second admin approves the activation",
		"the partner is active", "no console errors or CSP violations"}
	for _, p := range []string{"list", "page", "refused-file", "signed-off", "approval", "active"} {
		want = append(want, "axe "+p)
	}
	for _, c := range cross {
		want = append(want, "cross-tenant "+c["method"].(string)+" "+c["path"].(string))
	}
	for _, w := range want {
		if !slices.Contains(run.checks, w) {
			t.Errorf("portal-partner.mjs did not report check %q", w)
		}
	}
	// The server's own record: active, activated by the operator admin.
	if p, err := srvO.Profile(ctx, tenantID, cl.ID); err != nil || p.Status != oauth.ProfileActive {
		t.Errorf("profile after the browser test: %+v, %v; want active", p, err)
	}
	t.Logf("portal partner browser test: %d checks, %d axe runs, %d screenshots in %s, %v", len(run.checks), run.axe, run.screens, shots, time.Since(start).Round(time.Second))
}

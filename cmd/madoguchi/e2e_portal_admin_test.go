package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// The administration pages in a real browser (e2e/browser/portal-admin.mjs):
// a tenant admin creates an API client from a JWKS file and proposes a
// policy change that lowers the face-match threshold; both wait for a
// second admin, who approves them in the inbox; another tenant's admin gets
// 404 on every administration route that takes an object; axe-core finds no
// serious or critical violation on any administration page. Screenshots go
// to e2e/browser/artifacts/portal-admin (or $MADOGUCHI_E2E_SHOTS).

const portalAdminShots = "../../e2e/browser/artifacts/portal-admin"

func TestBrowserPortalAdmin(t *testing.T) {
	requireBrowser(t)
	dir := t.TempDir()
	srv := startServer(t, dir)
	acc := devPortalAccounts(t, dir)
	other := devPortalAccounts(t, dir, "--tenant", "Other Bank", "--prefix", "other")
	ctx := context.Background()
	a := testApp(t, dir)
	tenantID := devBankID(t, a)
	// The tenant's current policy (threshold 0.6), and a failing webhook to
	// try across tenants.
	if _, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: audit.ActorSystem, ID: "e2e"}, tenantID, ekyc.ExamplePolicy(0.6), time.Now()); err != nil {
		t.Fatal(err)
	}
	n, err := a.newNotifier()
	if err != nil {
		t.Fatal(err)
	}
	var event string
	if err := a.db.InTx(ctx, func(tx *store.Tx) error {
		event, err = n.Enqueue(ctx, tx, notify.Event{Kind: "ekyc.webhook", Tenant: tenantID, URL: "https://receiver.example/hook",
			ContentType: "application/json", Body: []byte(`{}`), Subject: vault.SubjectRef{Tenant: tenantID, Subject: "e2e"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := publicJWKS("browser-key-1", key)
	if err != nil {
		t.Fatal(err)
	}

	// Every administration route that takes an object, with the status
	// another tenant's admin must get: 404, or 403 where the route is the
	// operator's only.
	m, err := a.portalMount(portalFlags{enabled: "on", passkeys: "off", adminPasskey: "optional", idle: time.Minute, lifetime: time.Hour, reauth: time.Minute}, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	var cross []map[string]any
	kinds := map[string]string{"tenants": "tenant", "clients": "client", "staff": "account", "approvals": "approval", "webhooks": "webhook"}
	for _, rt := range m.Handler.(*portal.Server).Routes() {
		if !strings.HasPrefix(rt.Path, "/admin/") || !strings.Contains(rt.Path, "{id}") {
			continue
		}
		kind := kinds[strings.Split(rt.Path, "/")[2]]
		if kind == "" {
			t.Fatalf("route %s %s takes an id: teach this test and portal-admin.mjs which object to try", rt.Method, rt.Path)
		}
		want := 404
		if !slices.Contains(rt.Roles, portal.TenantAdmin) {
			want = 403
		}
		cross = append(cross, map[string]any{"method": rt.Method, "path": portal.Prefix + rt.Path, "kind": kind, "want": want})
	}

	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = portalAdminShots
		_ = os.RemoveAll(shots)
	}
	arg, _ := json.Marshal(map[string]any{
		"url": strings.Replace(srv.url(), "127.0.0.1", "localhost", 1), "shots": shots, "tenantID": tenantID, "webhook": event,
		"jwks": jwks, "accounts": map[string]map[string]string{
			"admin": acc["dev-admin"].script(), "operator": acc["dev-operator"].script(), "other": other["other-admin"].script(),
		},
		"crossTenant": cross,
	})
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	start := time.Now()
	run := runBrowserScript(cctx, t, "portal-admin.mjs", arg, srv)
	checks, screens := run.checks, run.screens
	want := []string{
		"client request filed", "requester cannot approve", "operator approves the client", "client created from the JWKS",
		"policy diff marks the weakening", "weakening change filed for approval", "policy unchanged before approval",
		"second admin approves the policy", "policy version 2 with the lower threshold",
		"no console errors or CSP violations",
	}
	for _, p := range []string{"admin", "clients", "approval-mine", "policy-diff", "staff", "account", "webhooks", "inbox", "approval-other", "client",
		"tenants", "tenant", "trust", "keys", "policy-en"} {
		want = append(want, "axe "+p)
	}
	for _, c := range cross {
		want = append(want, "cross-tenant "+c["method"].(string)+" "+c["path"].(string))
	}
	for _, w := range want {
		if !slices.Contains(checks, w) {
			t.Errorf("portal-admin.mjs did not report check %q", w)
		}
	}
	// The server's own record: the client and the policy, each performed by
	// the approving admin, the request by the other.
	pol, ver, err := ekyc.LoadPolicy(ctx, a.db, tenantID)
	if err != nil || ver != 2 || pol.FaceMatch.Threshold != 0.4 {
		t.Errorf("policy after the browser test: version %d threshold %v, %v; want version 2 threshold 0.4", ver, pol.FaceMatch.Threshold, err)
	}
	clients, _ := a.tenants.ListClients(ctx, tenantID)
	if len(clients) != 1 || clients[0].Keys == nil || clients[0].Keys.Keys()[0].Kid != "browser-key-1" {
		t.Errorf("clients after the browser test: %+v", clients)
	}
	if screens < 15 {
		t.Errorf("%d screenshots, want one of every administration page", screens)
	}
	t.Logf("portal admin browser test: %d checks, %d screenshots in %s, %v", len(checks), screens, shots, time.Since(start).Round(time.Second))
}

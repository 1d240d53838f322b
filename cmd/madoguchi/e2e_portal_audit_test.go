package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/portal"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// The audit pages and the dashboard in real Chromium (e2e/browser/
// portal-audit.mjs) against a real server process: a tenant auditor
// verifies an entry's inclusion proof in the browser (WebCrypto SHA-256
// and Ed25519), sees FAILED for a tampered entry, proof, checkpoint and
// signature (the proof response rewritten in flight), for another log's
// key, and for an entry edited in the database; downloads the proof bundle,
// which 'madoguchi audit verify' then accepts (and refuses once edited);
// opens an object's trail and the dashboard (server-drawn SVG); and every
// audit route with an id answers 404 to another tenant's auditor. axe-core
// on every page, no CSP violation; screenshots in
// e2e/browser/artifacts/portal-audit (or $MADOGUCHI_E2E_SHOTS).

const portalAuditShots = "../../e2e/browser/artifacts/portal-audit"

// seedDashboardRows gives the dashboard something to draw: sessions of the
// last days with every result, and failing webhook events (rows as ekyc and
// notify write them).
func seedDashboardRows(t *testing.T, db *store.DB, tenantID string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	day := func(back int, h int) time.Time {
		return now.Add(-time.Duration(back)*24*time.Hour - time.Duration(h)*time.Minute)
	}
	rnd := func(p string) string { b := make([]byte, 10); _, _ = rand.Read(b); return p + hex.EncodeToString(b) }
	type row struct {
		method, state, outcome string
		created, referred, dec time.Time
	}
	var rows []row
	for d := range 10 {
		rows = append(rows,
			row{ekyc.CodeHe, "decided", "approved", day(d, 30), time.Time{}, day(d, 29)},
			row{ekyc.CodeHo, "decided", "approved", day(d, 50), day(d, 49), day(d, 20)},
			row{ekyc.CodeHo, "decided", "rejected", day(d, 60), day(d, 59), day(d, 10)},
			row{ekyc.CodeWa, "expired", "", day(d, 70), time.Time{}, time.Time{}})
	}
	rows = append(rows, row{ekyc.CodeHo, "decided", "review", day(0, 5), day(0, 4), day(0, 4)}, row{ekyc.CodeHe, "created", "", day(0, 1), time.Time{}, time.Time{}})
	us := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return store.Micros(t)
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, r := range rows {
			dec := ""
			if !r.dec.IsZero() {
				dec = fmt.Sprintf(`{"outcome":%q,"decided_at":%q}`, r.outcome, r.dec.UTC().Format(time.RFC3339Nano))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale, subject, state, outcome,
				version, policy_version, nonce, challenge, token_hash, token_expires, token_used, frame_nonce_at, frame_seq, created_at, expires_at,
				updated_at, submitted_at, decided_at, decision, reviewer, claim_expires, referred_at)
				VALUES (?, ?, 'cl_seed', ?, 'ref', '', 'ja', ?, ?, ?, 1, 1, ?, '[]', ?, 0, 1, 0, 0, ?, ?, ?, ?, ?, ?, '', 0, ?)`,
				rnd("ses_"), tenantID, r.method, rnd("sub_"), r.state, r.outcome, []byte("n"), []byte(rnd("tok")),
				us(r.created), us(r.created.Add(time.Hour)), us(r.created), us(r.created), us(r.dec), dec, us(r.referred)); err != nil {
				return err
			}
		}
		for i, st := range []string{"dead", "dead", "pending", "delivered"} {
			if _, err := tx.Exec(ctx, `INSERT INTO notify_outbox (event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type,
				payload, state, attempts, next_at, claimed_by, claim_until, last_status, last_error, created_at, delivered_at)
				VALUES (?, 'ekyc.webhook', ?, ?, 'sub_x', 'notify.outbox', 'https://hooks.bank.example/kyc', 'application/jwt', ?, ?, ?, 0, '', 0, 503, 'status 503', ?, 0)`,
				rnd("ev_"), tenantID, tenantID, []byte("sealed"), st, 3+i, us(day(i, 3))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tamperEntry rewrites entry idx's leaf (and its leaf hash, as someone
// covering their tracks would) without touching the tree's hashes.
func tamperEntry(t *testing.T, db *store.DB, idx uint64) {
	t.Helper()
	ctx := context.Background()
	var leaf []byte
	if err := db.QueryRow(ctx, `SELECT leaf FROM audit_entries WHERE idx = ?`, int64(idx)).Scan(&leaf); err != nil {
		t.Fatal(err)
	}
	e, err := audit.ParseLeaf(leaf)
	if err != nil {
		t.Fatal(err)
	}
	if e.Outcome == audit.OutcomeOK {
		e.Outcome = audit.OutcomeDenied
	} else {
		e.Outcome = audit.OutcomeOK
	}
	forged, err := audit.MarshalLeaf(e)
	if err != nil {
		t.Fatal(err)
	}
	h := audit.LeafHash(forged)
	if _, err := db.Exec(ctx, `UPDATE audit_entries SET leaf = ?, leaf_hash = ? WHERE idx = ?`, forged, h[:], int64(idx)); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserPortalAudit(t *testing.T) {
	requireBrowser(t)
	start := time.Now()
	dir := t.TempDir()
	srv := startServer(t, dir, "--checkpoint-interval", "1s")
	devPortalAccounts(t, dir)
	devPortalAccounts(t, dir, "--tenant", "Other Bank", "--prefix", "other")
	tenantID := devTenantID(t, dir)
	auditor := devStaff(t, dir, tenantID, "dev-auditor", staff.RoleAuditor)
	opAuditor := devStaff(t, dir, "", "dev-op-auditor", staff.RoleAuditor)
	a := testApp(t, dir)
	ctx := context.Background()
	ts, err := a.tenants.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var otherID string
	for _, tn := range ts {
		if tn.Name == "Other Bank" {
			otherID = tn.ID
		}
	}
	otherAuditor := devStaff(t, dir, otherID, "other-auditor", staff.RoleAuditor)
	seedDashboardRows(t, a.db, tenantID)

	// Two entries of the tenant: one to verify, one edited in the database.
	recs, err := a.audit.Entries(ctx, audit.Query{TenantID: tenantID, Limit: 2})
	if err != nil || len(recs) != 2 {
		t.Fatalf("tenant entries: %v %v", recs, err)
	}
	good, forged := recs[1], recs[0]
	tamperEntry(t, a.db, forged.Index)
	other, _, err := audit.GenerateSigner(nil, "madoguchi.local/audit")
	if err != nil {
		t.Fatal(err)
	}

	// Every audit route with an id, tried across tenants.
	m, err := a.portalMount(portalFlags{enabled: "on", passkeys: "off", adminPasskey: "optional", idle: time.Minute, lifetime: time.Hour, reauth: time.Minute}, "http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]string{
		"/audit/entries/{id}":       fmt.Sprint(good.Index),
		"/audit/entries/{id}/proof": fmt.Sprint(good.Index),
		"/audit/trail/{id}":         audit.TrailKey(good.Entry.Object),
	}
	var cross []map[string]string
	for _, rt := range m.Handler.(*portal.Server).Routes() {
		k := rt.Method + " " + rt.Path
		if crossTenantElsewhere[k] != "TestBrowserPortalAudit" {
			continue
		}
		id, ok := objects[rt.Path]
		if !ok {
			t.Fatalf("route %s: no object to try across tenants", k)
		}
		cross = append(cross, map[string]string{"route": k, "path": portal.Prefix + strings.Replace(rt.Path, "{id}", id, 1)})
	}
	cross = append(cross, map[string]string{"route": "GET /dashboard", "path": "/portal/dashboard?tenant=" + tenantID})
	a.Close()

	shots := os.Getenv("MADOGUCHI_E2E_SHOTS")
	if shots == "" {
		shots = portalAuditShots
		_ = os.RemoveAll(shots)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.tlog-proof")
	local := func(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }
	arg, _ := json.Marshal(map[string]any{
		"url": local(srv.url()), "shots": shots, "bundle": bundle,
		"accounts": map[string]map[string]string{
			"auditor": auditor.script(), "opAuditor": opAuditor.script(), "otherAuditor": otherAuditor.script(),
		},
		"entry": fmt.Sprint(good.Index), "forged": fmt.Sprint(forged.Index), "otherKey": other.VerifierKey(), "crossTenant": cross,
	})
	cctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := runBrowserScript(cctx, t, "portal-audit.mjs", arg, srv)
	checks, screens := run.checks, run.screens
	want := []string{
		"audit page lists the tenant's entries", "verifier key fetched from /v1/audit/key", "entry verified in the browser", "every step held",
		"FAILED: entry tampered in flight", "FAILED: proof tampered in flight", "FAILED: checkpoint tampered in flight",
		"FAILED: signature tampered in flight", "FAILED: another log's key", "FAILED: entry edited in the database",
		"bundle downloaded", "trail of the entry's object", "dashboard chart drawn", "dashboard figures",
		"operator chooses a tenant", "no console errors or CSP violations",
		"axe audit", "axe entry-verified", "axe entry-failed", "axe trail", "axe dashboard", "axe audit-operator", "axe dashboard-en",
	}
	for _, c := range cross {
		want = append(want, "cross-tenant "+c["route"])
	}
	for _, w := range want {
		if !slices.Contains(checks, w) {
			t.Errorf("portal-audit.mjs did not report check %q", w)
		}
	}
	if screens < 8 {
		t.Errorf("%d screenshots, want one of every page", screens)
	}

	// The bundle the browser downloaded is what the offline verifier takes.
	vkey := ""
	if code, out, errs := runCLI(t, "audit", "key", "--data", dir); code != 0 {
		t.Fatalf("audit key = %d %s", code, errs)
	} else {
		vkey = strings.TrimSpace(out)
	}
	if code, out, errs := runCLI(t, "audit", "verify", "--proof", bundle, "--key", vkey); code != 0 || !strings.HasPrefix(out, "ok: entry "+fmt.Sprint(good.Index)+" ") {
		t.Errorf("audit verify on the downloaded bundle = %d\n%s%s", code, out, errs)
	}
	b, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte("index "+fmt.Sprint(good.Index)), []byte("index "+fmt.Sprint(good.Index+1)), 1)
	if err := os.WriteFile(bundle, edited, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "audit", "verify", "--proof", bundle, "--key", vkey); code != 1 || !strings.Contains(errs, "FAIL") {
		t.Errorf("audit verify on an edited bundle = %d %s", code, errs)
	}
	t.Logf("portal audit browser test: %d checks, %d screenshots in %s, %v", len(checks), screens, shots, time.Since(start).Round(time.Second))
}

package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
)

// TestOAuthPartnerCommand takes a partner through onboarding with the CLI:
// register (an admin), assess (an admin; a text file as evidence refused
// before anyone signs in), sign-off (a reviewer who recorded nothing; an
// admin is refused), request-activation (an admin) and "admin approve" by
// a second admin, whose approval activates the client; then the evidence
// is read back and every step is in the audit log.
func TestOAuthPartnerCommand(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id sign-ins at production cost: skipped under -short")
	}
	dir := t.TempDir()
	alice, bob, _ := twoAdmins(t, dir) // alice: 1 sign-in
	out, err := adminRun(t, "correct horse battery staple\n"+alice.creds(t), "staff", "create", "--username", "carol", "--role", "reviewer", "--as", "alice", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	carol := &user{uri: lines[1]}
	if _, err := adminRun(t, bob.creds(t), "approve", lines[2], "--as", "bob", "--data", dir); err != nil {
		t.Fatal(err)
	}

	// The tenant and its API client, as "admin client create" would leave them.
	ctx := context.Background()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := a.tenants.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, "Bank")
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := ecClient(t, "accounts:read")
	spec.Name = "partner"
	var cl tenant.Client
	if err := a.db.InTx(ctx, func(tx *store.Tx) error {
		cl, err = a.tenants.CreateClientTx(ctx, tx, tenant.Actor{Kind: audit.ActorSystem, ID: "test"}, tn.ID, spec)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	a.Close()

	run := func(stdin string, args ...string) (string, error) {
		t.Helper()
		out, errb, err := cliRun(runOAuth, stdin, append(append([]string{"partner"}, args...), "--tenant", tn.ID, "--data", dir)...)
		if err != nil {
			t.Logf("oauth partner %s: %v (stderr %q)", strings.Join(args, " "), err, errb)
		}
		return out, err
	}
	pdf := filepath.Join(t.TempDir(), "policy.pdf")
	txt := filepath.Join(t.TempDir(), "policy.txt")
	pdfBytes := []byte("%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n")
	if err := os.WriteFile(pdf, pdfBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(txt, []byte("just text"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Refused before anyone signs in (no credentials on stdin).
	for _, args := range [][]string{
		{"assess", cl.ID, "--area", "api_security", "--status", "met", "--evidence", txt, "--as", "alice"},
		{"assess", cl.ID, "--area", "api_security,other", "--status", "met", "--evidence", pdf, "--as", "alice"},
		{"assess", cl.ID, "--area", "nope", "--status", "met", "--as", "alice"},
		{"signoff", cl.ID},
		{"frobnicate", cl.ID},
	} {
		if _, err := run("", args...); err == nil {
			t.Errorf("oauth partner %s succeeded", strings.Join(args, " "))
		}
	}
	if _, err := run(bob.creds(t), "register", cl.ID, "--redirect-uri", "https://partner.example/cb", "--grant", "authorization_code",
		"--rate-per-second", "5", "--rate-per-customer-minute", "30", "--as", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(alice.creds(t), "assess", cl.ID, "--area", oauth.CriteriaAreas[0], "--status", "met", "--note", "ISMS certificate", "--evidence", pdf, "--as", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(alice.creds(t), "assess", cl.ID, "--area", strings.Join(oauth.CriteriaAreas[1:], ","), "--status", "not_applicable", "--as", "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(bob.creds(t), "signoff", cl.ID, "--as", "bob"); err == nil || !strings.Contains(err.Error(), "not an active reviewer") {
		t.Errorf("an admin signed off: %v", err)
	}
	if out, err := run(carol.creds(t), "signoff", cl.ID, "--as", "carol"); err != nil || !strings.HasPrefix(out, "signed off ") {
		t.Fatalf("signoff = %q, %v", out, err)
	}
	out, err = run(bob.creds(t), "request-activation", cl.ID, "--as", "bob")
	apID := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(apID, "ap_") {
		t.Fatalf("request-activation = %q, %v", out, err)
	}
	if out, err := run("", "show", cl.ID); err != nil || !strings.Contains(out, "status\tpending\n") || !strings.Contains(out, "rates\t5/s\t30/min per customer\n") {
		t.Fatalf("show before approval = %q, %v", out, err)
	}
	if out, err := adminRun(t, alice.creds(t), "approve", apID, "--as", "alice", "--data", dir); err != nil || !strings.Contains(out, oauth.KindActivate+" approved") {
		t.Fatalf("admin approve = %q, %v", out, err)
	}
	out, err = run("", "show", cl.ID)
	if err != nil || !strings.Contains(out, "status\tactive\n") || !strings.Contains(out, oauth.CriteriaAreas[0]+"\tmet\t"+oauth.EvidencePDF) {
		t.Fatalf("show after approval = %q, %v", out, err)
	}
	dst := filepath.Join(t.TempDir(), "out.pdf")
	if _, err := run(carol.creds(t), "evidence", cl.ID, "--area", oauth.CriteriaAreas[0], "--out", dst, "--as", "carol"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, pdfBytes) {
		t.Fatalf("evidence written = %q, %v", got, err)
	}

	a, err = openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	seen := map[string]int{}
	size, _ := a.audit.Size(ctx)
	for i := range size {
		_, leaf, _ := a.audit.Entry(ctx, i)
		if en, err := audit.ParseLeaf(leaf); err == nil && en.Object == cl.ID && en.ActorKind == audit.ActorStaff {
			seen[en.Action]++
		}
	}
	for action, n := range map[string]int{"oauth.client.register": 1, "oauth.assessment.item": len(oauth.CriteriaAreas),
		"oauth.assessment.signoff": 1, "oauth.client.activate": 1, "oauth.assessment.evidence.read": 1} {
		if seen[action] != n {
			t.Errorf("audit: %d %s by staff, want %d (all: %v)", seen[action], action, n, seen)
		}
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
)

// TestPolicySetDualControl: "ekyc policy set" files a weakening change (the
// first policy enables a method) as an approval instead of storing it; a
// second admin's "admin approve" stores it; the requester cannot approve it
// alone; an approval made against an older version is refused.
func TestPolicySetDualControl(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id at production cost")
	}
	dir := t.TempDir()
	alice, bob, _ := twoAdmins(t, dir)
	out, err := adminRun(t, "", "tenant", "create", "--name", "Bank A", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	tenantID := strings.TrimSpace(out)
	file := filepath.Join(dir, "policy.json")
	b, _ := json.Marshal(ekyc.ExamplePolicy(0.6))
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	e := &env{stdin: strings.NewReader(alice.creds(t)), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	if err := runEKYC(context.Background(), e, []string{"policy", "set", "--tenant", tenantID, "--file", file, "--as", "alice", "--data", dir}); err != nil {
		t.Fatalf("policy set = %v (%s)", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "WEAKENS") || !strings.Contains(stdout.String(), "methods.he") {
		t.Errorf("policy set printed %q, want the weakening change listed", stdout.String())
	}
	a := testApp(t, dir)
	ctx := context.Background()
	if _, _, err := ekyc.LoadPolicy(ctx, a.db, tenantID); !errors.Is(err, ekyc.ErrNoPolicy) {
		t.Fatalf("policy stored before approval: %v", err)
	}
	aps, err := a.staff.Approvals(ctx, staff.StatusPending)
	if err != nil || len(aps) != 1 || aps[0].Kind != kindEKYCPolicySet {
		t.Fatalf("pending approvals = %+v, %v", aps, err)
	}
	out, err = adminRun(t, bob.creds(t), "approve", aps[0].ID, "--as", "bob", "--data", dir)
	if err != nil || !strings.Contains(out, "ekyc.policy.set approved") {
		t.Fatalf("approve = %q, %v", out, err)
	}
	if _, ver, err := ekyc.LoadPolicy(ctx, a.db, tenantID); err != nil || ver != 1 {
		t.Fatalf("after approval: version %d, %v", ver, err)
	}

	// The same flow without the CLI's logins: own approval refused, a
	// stale request refused.
	d, err := newStaffDirectory(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	aliceAct := staff.Actor{Kind: audit.ActorStaff, ID: testAppAccountID(t, a, "alice")}
	bobAct := staff.Actor{Kind: audit.ActorStaff, ID: testAppAccountID(t, a, "bob")}
	weaker := ekyc.ExamplePolicy(0.5)
	payload, _ := json.Marshal(ekycPolicySet{TenantID: tenantID, BaseVersion: 1, Policy: weaker})
	ap, err := d.Request(ctx, aliceAct, kindEKYCPolicySet, payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Approve(ctx, ap.ID, aliceAct); !errors.Is(err, staff.ErrSameApprover) {
		t.Errorf("requester approving = %v, want ErrSameApprover", err)
	}
	stronger := ekyc.ExamplePolicy(0.65)
	if _, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: audit.ActorStaff, ID: bobAct.ID}, tenantID, stronger, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Approve(ctx, ap.ID, bobAct); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("approving a request made against version 1 at version 2 = %v, want refused", err)
	}
	if p, ver, _ := ekyc.LoadPolicy(ctx, a.db, tenantID); ver != 2 || p.FaceMatch.Threshold != 0.65 {
		t.Errorf("policy = v%d threshold %v, want v2 0.65 (the stale weakening not applied)", ver, p.FaceMatch.Threshold)
	}
	if _, err := d.Request(ctx, aliceAct, kindEKYCPolicySet, []byte(`{"tenant_id":"x","base_version":1,"policy":{}}`)); !errors.Is(err, staff.ErrInvalidInput) {
		t.Errorf("Request(invalid policy) = %v, want ErrInvalidInput", err)
	}

	// admin client disable from the CLI (bob's second sign-in).
	cl := newTenantClient(t, a, "http://unused", "Bank C", "audit:read")
	out, err = adminRun(t, bob.creds(t), "client", "disable", "--tenant", cl.tenantID, "--client", cl.clientID, "--as", "bob", "--data", dir)
	if err != nil || strings.TrimSpace(out) != cl.clientID+" disabled" {
		t.Fatalf("admin client disable = %q, %v", out, err)
	}
	if c, err := a.tenants.Client(ctx, cl.tenantID, cl.clientID); err != nil || c.Status != "disabled" {
		t.Errorf("client after CLI disable = %+v, %v", c, err)
	}
}

func FuzzParseEKYCPolicySet(f *testing.F) {
	b, _ := json.Marshal(ekycPolicySet{TenantID: "tn_x", BaseVersion: 1, Policy: ekyc.ExamplePolicy(0.6)})
	f.Add(b)
	f.Add([]byte(`{"tenant_id":"","base_version":-1}`))
	f.Add([]byte(`{}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseEKYCPolicySet(b)
		if err == nil && (p.TenantID == "" || p.Policy.Validate() != nil) {
			t.Fatalf("parseEKYCPolicySet accepted %q", b)
		}
	})
}

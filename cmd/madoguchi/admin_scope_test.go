package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/staff"
)

// TestCLIAdminTenantScope: the commands that need an admin (ekyc policy
// set, fraud policy set, admin client disable|enable) refuse a tenant's
// admin acting on another tenant; operator admins act on every tenant and
// a tenant admin on its own (requireAdmin, checked directly: each CLI
// sign-in spends a TOTP step).
func TestCLIAdminTenantScope(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id at production cost")
	}
	ctx := context.Background()
	dir := t.TempDir()
	data := []string{"--data", dir}
	twoAdmins(t, dir)
	mkTenant := func(name string) string {
		out, err := adminRun(t, "", append([]string{"tenant", "create", "--name", name}, data...)...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	tenantA, tenantB := mkTenant("Bank A"), mkTenant("Bank B")

	// A tenant admin of A: created by alice, its role granted by bob.
	a := testApp(t, dir)
	actor := func(name string) staff.Actor {
		acc, err := a.staff.AccountByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return staff.Actor{Kind: audit.ActorStaff, ID: acc.ID}
	}
	en, err := a.staff.CreateTenantAccount(ctx, actor("alice"), tenantA, "carol", []byte("correct horse battery staple"))
	if err != nil {
		t.Fatal(err)
	}
	grant, _ := json.Marshal(staff.RoleGrant{StaffID: en.Account.ID, Role: staff.RoleAdmin})
	ap, err := a.staff.Request(ctx, actor("alice"), staff.KindRoleGrant, grant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.staff.Approve(ctx, ap.ID, actor("bob")); err != nil {
		t.Fatal(err)
	}
	carol := &user{uri: en.TOTPURI.Reveal()}

	// The rule itself, for every kind of account.
	dir2, err := newStaffDirectory(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who, tenant string
		ok          bool
	}{
		{"alice", tenantA, true}, {"alice", tenantB, true}, // operator admin: every tenant
		{"carol", tenantA, true}, {"carol", tenantB, false}, // tenant admin: its own only
	} {
		err := requireAdmin(ctx, dir2, actor(c.who), c.who, c.tenant)
		if (err == nil) != c.ok {
			t.Errorf("requireAdmin(%s, %s) = %v, want ok %v", c.who, c.tenant, err, c.ok)
		}
	}

	ekycPol := filepath.Join(dir, "ekyc-policy.json")
	b, _ := json.Marshal(ekyc.ExamplePolicy(0.6))
	if err := os.WriteFile(ekycPol, b, 0o600); err != nil {
		t.Fatal(err)
	}
	fraudPol := filepath.Join(dir, "fraud-policy.json")
	b, _ = json.Marshal(fraud.Policy{DocumentReuse: true})
	if err := os.WriteFile(fraudPol, b, 0o600); err != nil {
		t.Fatal(err)
	}
	runs := []struct {
		name string
		run  func(tenantID string) error
	}{
		{"ekyc policy set", func(tn string) error {
			_, _, err := cliRun(runEKYC, carol.creds(t), append([]string{"policy", "set", "--tenant", tn, "--file", ekycPol, "--as", "carol"}, data...)...)
			return err
		}},
		{"fraud policy set", func(tn string) error {
			_, _, err := fraudRun(t, carol.creds(t), append([]string{"policy", "set", "--tenant", tn, "--file", fraudPol, "--as", "carol"}, data...)...)
			return err
		}},
		{"admin client disable", func(tn string) error {
			_, err := adminRun(t, carol.creds(t), append([]string{"client", "disable", "--tenant", tn, "--client", "cl_none", "--as", "carol"}, data...)...)
			return err
		}},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			if err := r.run(tenantB); err == nil || !strings.Contains(err.Error(), "admin of another tenant") {
				t.Errorf("carol (tenant A admin) on tenant B = %v, want refused as another tenant's admin", err)
			}
		})
	}
}

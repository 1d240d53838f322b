package staff

import (
	"context"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestEntriesNameTheStaffTenant: sign-ins (and failed ones) and role grants
// of a tenant's staff name the tenant, so its auditors see them; an
// operator's stay installation-wide, and so does a failure for an unknown
// username.
func TestEntriesNameTheStaffTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		insertTenant(t, db, "tn_a")
		ta := f.tenantAccount(t, a, b, "tn_a", "tenant-reviewer", RoleReviewer)
		if _, err := f.dir.Authenticate(ctx, "tenant-reviewer", testPassword, f.code(t, ta, 0), "req-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Authenticate(ctx, "tenant-reviewer", "wrong password", "000000", "req-2"); err == nil {
			t.Fatal("a wrong password signed in")
		}
		if _, err := f.dir.Authenticate(ctx, "no-such-user", "wrong password", "000000", "req-3"); err == nil {
			t.Fatal("an unknown user signed in")
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.Authenticate(ctx, a.Account.Username, testPassword, f.code(t, a, 0), "req-4"); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"staff.role.grant " + ta.Account.ID + " ok": "tn_a",
			"staff.login " + ta.Account.ID + " ok":      "tn_a",
			"staff.login " + ta.Account.ID + " denied":  "tn_a",
			"staff.login staff/unknown denied":          "",
			"staff.login " + a.Account.ID + " ok":       "",
		}
		got := map[string]string{}
		f.rec.mu.Lock()
		for _, e := range f.rec.entries {
			if e.Action == "staff.login" || e.Action == "staff.role.grant" {
				got[e.Action+" "+e.Object+" "+e.Outcome] = e.TenantID
			}
		}
		f.rec.mu.Unlock()
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				t.Errorf("%s: tenant %q (recorded %v), want %q", k, g, ok, v)
			}
		}
	})
}

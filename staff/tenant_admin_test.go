package staff

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// tenantNote is a test kind scoped to the tenant named in its payload.
type tenantNote struct {
	TenantID string `json:"tenant_id"`
}

// scopedDirectory is f's directory again with a tenant-scoped kind.
func scopedDirectory(t *testing.T, f *fixture) *Directory {
	t.Helper()
	d, err := New(f.db, f.rec, vaulttest.Vault(t, f.db, f.rec), Config{Argon2: fastArgon2, Now: f.clock.Now, Executors: map[string]Executor{
		"test.tenant": {
			Tenant: func(p []byte) (string, error) {
				var n tenantNote
				if err := json.Unmarshal(p, &n); err != nil || n.TenantID == "" {
					return "", errors.New("tenant_id missing")
				}
				return n.TenantID, nil
			},
			Run: func(ctx context.Context, tx *store.Tx, a Approval, by Actor) error { return nil },
		},
		"test.global": {Run: func(ctx context.Context, tx *store.Tx, a Approval, by Actor) error { return nil }},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTenantScopedApprovals: a tenant's admins file and decide their
// tenant's requests; another tenant's admins and installation-wide kinds are
// out of their reach; operator admins reach everything; the requester never
// approves their own.
func TestTenantScopedApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		insertTenant(t, db, "tn_a")
		insertTenant(t, db, "tn_b")
		ta1 := f.tenantAccount(t, a, b, "tn_a", "a-admin1", RoleAdmin)
		ta2 := f.tenantAccount(t, a, b, "tn_a", "a-admin2", RoleAdmin)
		tb := f.tenantAccount(t, a, b, "tn_b", "b-admin", RoleAdmin)
		tr := f.tenantAccount(t, a, b, "tn_a", "a-reviewer", RoleReviewer)
		d := scopedDirectory(t, f)
		op, a1, a2, bb, rev := staffActor(a.Account.ID), staffActor(ta1.Account.ID), staffActor(ta2.Account.ID), staffActor(tb.Account.ID), staffActor(tr.Account.ID)
		noteA := mustJSON(tenantNote{TenantID: "tn_a"})

		for _, tc := range []struct {
			name    string
			by      Actor
			kind    string
			payload []byte
			want    error
		}{
			{"tenant admin, own tenant", a1, "test.tenant", noteA, nil},
			{"tenant admin, other tenant", bb, "test.tenant", noteA, ErrForbidden},
			{"tenant reviewer", rev, "test.tenant", noteA, ErrForbidden},
			{"tenant admin, installation-wide kind", a1, "test.global", []byte(`{}`), ErrForbidden},
			{"tenant admin, role for own tenant's account", a1, KindRoleGrant, mustJSON(RoleGrant{StaffID: tr.Account.ID, Role: RoleAuditor}), nil},
			{"tenant admin, role for another tenant's account", a1, KindRoleGrant, mustJSON(RoleGrant{StaffID: tb.Account.ID, Role: RoleAuditor}), ErrForbidden},
			{"tenant admin, role for an operator account", a1, KindRoleGrant, mustJSON(RoleGrant{StaffID: a.Account.ID, Role: RoleAuditor}), ErrForbidden},
			{"operator admin, tenant kind", op, "test.tenant", noteA, nil},
			{"bad payload", a1, "test.tenant", []byte(`{}`), ErrInvalidInput},
		} {
			_, err := d.Request(ctx, tc.by, tc.kind, tc.payload)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("%s: Request = %v, want %v", tc.name, err, tc.want)
			}
		}

		ap, err := d.Request(ctx, a1, "test.tenant", noteA)
		if err != nil || ap.TenantID != "tn_a" {
			t.Fatalf("Request = %+v, %v; want tenant tn_a", ap, err)
		}
		if _, err := d.Approve(ctx, ap.ID, a1); !errors.Is(err, ErrSameApprover) {
			t.Errorf("requester approves = %v, want ErrSameApprover", err)
		}
		if _, err := d.Approve(ctx, ap.ID, bb); !errors.Is(err, ErrForbidden) {
			t.Errorf("other tenant's admin approves = %v, want ErrForbidden", err)
		}
		if _, err := d.Reject(ctx, ap.ID, bb, ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("other tenant's admin rejects = %v, want ErrForbidden", err)
		}
		if got, err := d.Approve(ctx, ap.ID, a2); err != nil || got.Status != StatusApproved {
			t.Errorf("second tenant admin approves = %+v, %v", got, err)
		}
		ap2, _ := d.Request(ctx, a1, "test.tenant", noteA)
		if _, err := d.Approve(ctx, ap2.ID, op); err != nil {
			t.Errorf("operator admin approves a tenant request = %v", err)
		}
		g, _ := d.Request(ctx, op, "test.global", []byte(`{}`))
		if _, err := d.Approve(ctx, g.ID, a1); !errors.Is(err, ErrForbidden) {
			t.Errorf("tenant admin approves an installation request = %v, want ErrForbidden", err)
		}

		// The inbox: a tenant sees its own, the operator everything.
		mine, err := d.ApprovalsIn(ctx, "tn_a", false, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range mine {
			if x.TenantID != "tn_a" {
				t.Errorf("tn_a's inbox has %+v", x)
			}
		}
		all, _ := d.ApprovalsIn(ctx, "", true, StatusPending)
		if len(all) == 0 || len(mine) == 0 {
			t.Errorf("inboxes: tenant %d, operator pending %d", len(mine), len(all))
		}
		// Audit entries of a tenant request carry the tenant.
		var seen bool
		f.rec.mu.Lock()
		for _, e := range f.rec.entries {
			if e.Action == "approval.approve" && e.Object == ap.ID {
				seen = e.TenantID == "tn_a"
			}
		}
		f.rec.mu.Unlock()
		if !seen {
			t.Error("approval.approve of a tenant request is not in the tenant's trail")
		}
	})
}

// TestInviteAndReset: a tenant admin invites and resets their tenant's
// staff only; resets end the sessions and replace the factor.
func TestInviteAndReset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		insertTenant(t, db, "tn_a")
		insertTenant(t, db, "tn_b")
		ta := f.tenantAccount(t, a, b, "tn_a", "a-admin", RoleAdmin)
		tb := f.tenantAccount(t, a, b, "tn_b", "b-admin", RoleAdmin)
		aa, bb := staffActor(ta.Account.ID), staffActor(tb.Account.ID)

		if _, err := f.dir.Invite(ctx, aa, "tn_b", "intruder", []byte(testPassword)); !errors.Is(err, ErrForbidden) {
			t.Errorf("invite into another tenant = %v, want ErrForbidden", err)
		}
		if _, err := f.dir.Invite(ctx, aa, "", "intruder", []byte(testPassword)); !errors.Is(err, ErrForbidden) {
			t.Errorf("tenant admin invites an operator account = %v, want ErrForbidden", err)
		}
		en, err := f.dir.Invite(ctx, aa, "tn_a", "new-person", []byte(testPassword))
		if err != nil || en.Account.TenantID != "tn_a" || en.TOTPURI.Reveal() == "" {
			t.Fatalf("Invite = %+v, %v", en.Account, err)
		}
		if _, err := f.dir.Invite(ctx, staffActor(a.Account.ID), "tn_nope", "x-person", []byte(testPassword)); !errors.Is(err, ErrNotFound) {
			t.Errorf("invite into a missing tenant = %v, want ErrNotFound", err)
		}
		list, err := f.dir.AccountsIn(ctx, "tn_a")
		if err != nil || len(list) != 2 {
			t.Errorf("AccountsIn(tn_a) = %d accounts, %v; want 2", len(list), err)
		}

		sess, err := f.dir.Authenticate(ctx, "new-person", testPassword, f.code(t, en, 0), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.ResetTOTP(ctx, bb, en.Account.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("other tenant's admin resets = %v, want ErrNotFound", err)
		}
		if _, err := f.dir.ResetTOTP(ctx, aa, ta.Account.ID); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("admin resets own TOTP = %v, want ErrInvalidInput", err)
		}
		uri, err := f.dir.ResetTOTP(ctx, aa, en.Account.ID)
		if err != nil || uri.Reveal() == en.TOTPURI.Reveal() {
			t.Fatalf("ResetTOTP = %v (same URI: %v)", err, uri.Reveal() == en.TOTPURI.Reveal())
		}
		if _, err := f.dir.CheckSession(ctx, sess.Token.Reveal()); err == nil {
			t.Error("a session survived the TOTP reset")
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.Authenticate(ctx, "new-person", testPassword, f.code(t, en, 0), ""); err == nil {
			t.Error("the old TOTP secret still signs in")
		}
		if n, err := f.dir.ResetPasskeys(ctx, staffActor(a.Account.ID), en.Account.ID); err != nil || n != 0 {
			t.Errorf("ResetPasskeys = %d, %v", n, err)
		}
		// Disable and enable: a tenant's admin for their own tenant only.
		if err := f.dir.DisableAccount(ctx, bb, en.Account.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("other tenant's admin disables = %v, want ErrForbidden", err)
		}
		if err := f.dir.DisableAccount(ctx, aa, a.Account.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("tenant admin disables an operator admin = %v, want ErrForbidden", err)
		}
		if err := f.dir.DisableAccount(ctx, aa, en.Account.ID); err != nil {
			t.Errorf("tenant admin disables own tenant's account = %v", err)
		}
		if err := f.dir.EnableAccount(ctx, aa, en.Account.ID); err != nil {
			t.Errorf("tenant admin enables own tenant's account = %v", err)
		}
	})
}

package staff

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// tenantFixture adds a tenant and grants role to a new account of it.
func (f *fixture) tenantAccount(t *testing.T, a, b Enrollment, tenantID, username string, role Role) Enrollment {
	t.Helper()
	ctx := context.Background()
	en, err := f.dir.CreateTenantAccount(ctx, staffActor(a.Account.ID), tenantID, username, []byte(testPassword))
	if err != nil {
		t.Fatalf("CreateTenantAccount(%s) = %v", username, err)
	}
	if role != "" {
		ap, err := f.dir.Request(ctx, staffActor(a.Account.ID), KindRoleGrant, mustJSON(RoleGrant{StaffID: en.Account.ID, Role: role}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Approve(ctx, ap.ID, staffActor(b.Account.ID)); err != nil {
			t.Fatal(err)
		}
	}
	return en
}

func insertTenant(t *testing.T, db *store.DB, id string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO tenants (id, name, status, created_at) VALUES (?, ?, 'active', 0)`, id, "Tenant "+id); err != nil {
		t.Fatal(err)
	}
}

func TestTenantAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		insertTenant(t, db, "tn_a")

		// An account inserted as before migration 0020 (no tenant_id) is an
		// operator account.
		if _, err := db.Exec(ctx, `INSERT INTO staff_accounts (id, username, password_hash, totp_secret, totp_last_step, failed_count, locked_until, status, created_at)
			VALUES ('st_legacy', 'legacy', 'x', ?, 0, 0, 0, 'active', 0)`, []byte{0}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"st_legacy", a.Account.ID} {
			if acc, err := f.dir.Account(ctx, id); err != nil || !acc.Operator() {
				t.Errorf("Account(%s) = %+v, %v; want an operator account", id, acc, err)
			}
		}

		ta := f.tenantAccount(t, a, b, "tn_a", "tenant-admin", RoleAdmin)
		if acc, _ := f.dir.Account(ctx, ta.Account.ID); acc.TenantID != "tn_a" || acc.Operator() {
			t.Errorf("tenant account = %+v, want TenantID tn_a", acc)
		}
		// A tenant admin is no operator admin: no installation-wide
		// operation is open to it.
		tActor := staffActor(ta.Account.ID)
		if _, err := f.dir.CreateAccount(ctx, tActor, "someone", []byte(testPassword)); !errors.Is(err, ErrForbidden) {
			t.Errorf("CreateAccount by tenant admin = %v, want ErrForbidden", err)
		}
		if _, err := f.dir.CreateTenantAccount(ctx, tActor, "tn_a", "someone", []byte(testPassword)); !errors.Is(err, ErrForbidden) {
			t.Errorf("CreateTenantAccount by tenant admin = %v, want ErrForbidden", err)
		}
		if _, err := f.dir.Request(ctx, tActor, "test.note", []byte(`{}`)); !errors.Is(err, ErrForbidden) {
			t.Errorf("Request by tenant admin = %v, want ErrForbidden", err)
		}
		ap, err := f.dir.Request(ctx, staffActor(a.Account.ID), "test.note", []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Approve(ctx, ap.ID, tActor); !errors.Is(err, ErrForbidden) {
			t.Errorf("Approve by tenant admin = %v, want ErrForbidden", err)
		}
		if err := f.dir.SetTenantAccess(ctx, tActor, "tn_a", nil); !errors.Is(err, ErrForbidden) {
			t.Errorf("SetTenantAccess by tenant admin = %v, want ErrForbidden", err)
		}

		for _, tc := range []struct {
			name, tenant, user string
			by                 Actor
			want               error
		}{
			{"unknown tenant", "tn_nope", "x-user", staffActor(a.Account.ID), ErrNotFound},
			{"no tenant", "", "x-user", staffActor(a.Account.ID), ErrInvalidInput},
			{"not an admin", "tn_a", "x-user", Actor{Kind: audit.ActorSystem}, ErrForbidden},
			{"taken username", "tn_a", "tenant-admin", staffActor(a.Account.ID), ErrConflict},
		} {
			if _, err := f.dir.CreateTenantAccount(ctx, tc.by, tc.tenant, tc.user, []byte(testPassword)); !errors.Is(err, tc.want) {
				t.Errorf("%s: CreateTenantAccount = %v, want %v", tc.name, err, tc.want)
			}
		}

		// The session says whose it is and how it was opened.
		sess, err := f.dir.Authenticate(ctx, "tenant-admin", testPassword, f.code(t, ta, 0), "req-1")
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.dir.CheckSession(ctx, sess.Token.Reveal())
		if err != nil {
			t.Fatal(err)
		}
		if p.TenantID != "tn_a" || p.Method != MethodPassword || !p.Since.Equal(f.clock.Now()) || !p.Has(RoleAdmin) {
			t.Errorf("CheckSession = %+v, want tenant tn_a, method password, since now, admin", p)
		}
	})
}

func TestTOTPReenrol(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		me := staffActor(a.Account.ID)
		if err := f.dir.ConfirmTOTPReenrol(ctx, me, "123456"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Confirm without a pending key = %v, want ErrNotFound", err)
		}
		uri, err := f.dir.BeginTOTPReenrol(ctx, me)
		if err != nil {
			t.Fatal(err)
		}
		next := Enrollment{Account: a.Account, TOTPURI: uri}
		// A wrong code leaves everything as it was; the old key still works.
		if err := f.dir.ConfirmTOTPReenrol(ctx, me, "000000"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("Confirm(wrong code) = %v, want ErrInvalidCredentials", err)
		}
		if f.rec.count("staff.totp.reenrol", audit.OutcomeDenied) != 1 {
			t.Error("a wrong confirmation code is not audited as denied")
		}
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), ""); err != nil {
			t.Fatalf("old key before the swap: %v", err)
		}
		f.clock.Add(TOTPPeriod)
		if err := f.dir.ConfirmTOTPReenrol(ctx, me, f.code(t, next, 0)); err != nil {
			t.Fatalf("Confirm = %v", err)
		}
		if f.rec.count("staff.totp.reenrol", audit.OutcomeOK) != 1 || f.rec.count("staff.totp.begin", audit.OutcomeOK) != 1 {
			t.Error("re-enrolment not audited")
		}
		// The confirming code cannot be replayed; the old key is gone.
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, next, 0), ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("replayed confirmation code = %v, want ErrInvalidCredentials", err)
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("old key after the swap = %v, want ErrInvalidCredentials", err)
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, next, 0), ""); err != nil {
			t.Errorf("new key = %v", err)
		}
		if err := f.dir.ConfirmTOTPReenrol(ctx, me, f.code(t, next, 0)); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Confirm = %v, want ErrNotFound (nothing pending)", err)
		}
		if _, err := f.dir.BeginTOTPReenrol(ctx, Actor{Kind: audit.ActorSystem}); !errors.Is(err, ErrForbidden) {
			t.Errorf("Begin by the system = %v, want ErrForbidden", err)
		}
	})
}

func TestTenantAccess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		insertTenant(t, db, "tn_a")
		acc, err := f.dir.TenantAccess(ctx, "tn_a")
		if err != nil || !acc.Allows(netip.MustParseAddr("203.0.113.9")) {
			t.Fatalf("no rule: TenantAccess = %+v, %v; want everything allowed", acc, err)
		}
		allow, err := ParseIPAllow("192.0.2.0/24, 2001:db8::/32 198.51.100.7")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.dir.SetTenantAccess(ctx, staffActor(a.Account.ID), "tn_a", allow); err != nil {
			t.Fatal(err)
		}
		if err := f.dir.SetTenantAccess(ctx, staffActor(a.Account.ID), "tn_nope", allow); !errors.Is(err, ErrNotFound) {
			t.Errorf("SetTenantAccess(unknown tenant) = %v, want ErrNotFound", err)
		}
		acc, err = f.dir.TenantAccess(ctx, "tn_a")
		if err != nil {
			t.Fatal(err)
		}
		for ip, want := range map[string]bool{
			"192.0.2.200": true, "::ffff:192.0.2.1": true, "2001:db8::1": true, "198.51.100.7": true,
			"198.51.100.8": false, "203.0.113.9": false, "127.0.0.1": false,
		} {
			if got := acc.Allows(netip.MustParseAddr(ip)); got != want {
				t.Errorf("Allows(%s) = %v, want %v", ip, got, want)
			}
		}
		if acc.Allows(netip.Addr{}) {
			t.Error("an unknown client address passes an allow-list")
		}
		if f.rec.count("staff.access.set", audit.OutcomeOK) != 1 {
			t.Error("allow-list change not audited")
		}
	})
}

func TestParseIPAllow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", 0, true},
		{"10.0.0.0/8", 1, true},
		{"10.1.2.3/8", 1, true}, // masked
		{"10.0.0.1 , 10.0.0.2\n::1", 3, true},
		{"10.0.0.0/33", 0, false},
		{"example.com", 0, false},
		{"10.0.0.0/8;", 0, false},
	} {
		got, err := ParseIPAllow(tc.in)
		if (err == nil) != tc.ok || len(got) != tc.want {
			t.Errorf("ParseIPAllow(%q) = %v, %v; want %d prefixes, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	many := ""
	for i := range MaxIPAllow + 1 {
		many += netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String() + " "
	}
	if _, err := ParseIPAllow(many); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("ParseIPAllow(%d addresses) = %v, want ErrInvalidInput", MaxIPAllow+1, err)
	}
}

func FuzzParseIPAllow(f *testing.F) {
	for _, s := range []string{"", "10.0.0.0/8", "::1 2001:db8::/32", "1.2.3.4,5.6.7.8", "x/y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParseIPAllow(s)
		if err != nil {
			return
		}
		// What is accepted round-trips through the stored form.
		back, err := ParseIPAllow(formatIPAllow(ps))
		if err != nil || len(back) != len(ps) {
			t.Fatalf("round trip of %q: %v, %v", s, back, err)
		}
	})
}

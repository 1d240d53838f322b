package staff

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

// recorder is a test Auditor: it validates entries with the audit package's
// rules and records them; with fail set, Append fails.
type recorder struct {
	mu      sync.Mutex
	entries []audit.Entry
	fail    bool
}

var errAuditDown = errors.New("audit unavailable")

func (r *recorder) Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return 0, errAuditDown
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if _, err := audit.MarshalLeaf(e); err != nil {
		return 0, err
	}
	r.entries = append(r.entries, e)
	return uint64(len(r.entries) - 1), nil
}

func (r *recorder) count(action, outcome string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if e.Action == action && e.Outcome == outcome {
			n++
		}
	}
	return n
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	db    *store.DB
	rec   *recorder
	clock *clock
	dir   *Directory
	ran   []string // payloads executed by the test executor
}

const testPassword = "correct horse battery staple"

func newFixture(t testing.TB, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, rec: &recorder{}, clock: &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}}
	var err error
	f.dir, err = New(db, f.rec, vaulttest.Vault(t, db, f.rec), Config{
		Argon2: fastArgon2,
		Now:    f.clock.Now,
		Executors: map[string]Executor{
			"test.note": {
				Validate: func(p []byte) error {
					if !json.Valid(p) {
						return errors.New("not JSON")
					}
					return nil
				},
				Run: func(ctx context.Context, tx *store.Tx, a Approval, by Actor) error {
					if bytes.Contains(a.Payload, []byte("boom")) {
						return errors.New("executor failed")
					}
					f.ran = append(f.ran, string(a.Payload))
					_, err := f.rec.Append(ctx, tx, by.entry("test.note", a.ID, audit.OutcomeOK, nil))
					return err
				},
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// code returns the TOTP code for the enrolment's secret at the clock's time
// plus offset steps.
func (f *fixture) code(t *testing.T, en Enrollment, offset int64) string {
	t.Helper()
	u, err := url.Parse(en.TOTPURI.Reveal())
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatal(err)
	}
	return hotp(secret, uint64(totpStep(f.clock.Now())+offset), TOTPDigits)
}

func staffActor(id string) Actor { return Actor{Kind: audit.ActorStaff, ID: id, OSUser: "operator"} }

// admins bootstraps the two admins dual control needs.
func (f *fixture) admins(t *testing.T) (Enrollment, Enrollment) {
	t.Helper()
	ctx := context.Background()
	op := Actor{Kind: audit.ActorSystem, OSUser: "root"}
	a, err := f.dir.Bootstrap(ctx, op, "alice", []byte(testPassword))
	if err != nil {
		t.Fatalf("Bootstrap = %v", err)
	}
	// The second admin cannot be bootstrapped by the local operator alone.
	if _, err := f.dir.Bootstrap(ctx, op, "mallory", []byte(testPassword)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Bootstrap(second, by operator) = %v, want ErrForbidden", err)
	}
	b, err := f.dir.Bootstrap(ctx, staffActor(a.Account.ID), "bob", []byte(testPassword))
	if err != nil {
		t.Fatalf("Bootstrap(second, by first admin) = %v", err)
	}
	if _, err := f.dir.Bootstrap(ctx, staffActor(a.Account.ID), "mallory", []byte(testPassword)); !errors.Is(err, ErrBootstrapDone) {
		t.Fatalf("third Bootstrap = %v, want ErrBootstrapDone", err)
	}
	if f.rec.count("staff.bootstrap", audit.OutcomeOK) != 2 {
		t.Fatalf("bootstrap entries = %d, want 2", f.rec.count("staff.bootstrap", audit.OutcomeOK))
	}
	// Requesters cannot approve their own requests; non-admins cannot approve.
	c, err := f.dir.CreateAccount(ctx, staffActor(a.Account.ID), "carl", []byte(testPassword))
	if err != nil {
		t.Fatalf("CreateAccount = %v", err)
	}
	req, err := f.dir.Request(ctx, staffActor(a.Account.ID), KindRoleGrant, mustJSON(RoleGrant{StaffID: c.Account.ID, Role: RoleAdmin}))
	if err != nil {
		t.Fatalf("Request(role.grant) = %v", err)
	}
	if _, err := f.dir.Approve(ctx, req.ID, staffActor(a.Account.ID)); !errors.Is(err, ErrSameApprover) {
		t.Fatalf("Approve(own request) = %v, want ErrSameApprover", err)
	}
	if f.rec.count("approval.approve", audit.OutcomeDenied) != 1 {
		t.Fatalf("same-admin approval not audited as denied")
	}
	if _, err := f.dir.Approve(ctx, req.ID, staffActor(c.Account.ID)); !errors.Is(err, ErrForbidden) {
		t.Fatalf("Approve(by non-admin) = %v, want ErrForbidden", err)
	}
	if _, err := f.dir.Reject(ctx, req.ID, staffActor(a.Account.ID), "test setup"); err != nil {
		t.Fatalf("Reject = %v", err)
	}
	return a, b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		sess, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "req-1")
		if err != nil {
			t.Fatalf("Authenticate = %v", err)
		}
		if sess.StaffID != a.Account.ID || !slices.Equal(sess.Roles, []Role{RoleAdmin}) {
			t.Errorf("Authenticate session = %+v", sess)
		}
		p, err := f.dir.CheckSession(ctx, sess.Token.Reveal())
		if err != nil || p.StaffID != a.Account.ID || !p.Has(RoleAdmin) {
			t.Errorf("CheckSession = %+v, %v", p, err)
		}
		// The same code again (same step) is a replay.
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Authenticate(replayed code) = %v, want ErrInvalidCredentials", err)
		}
		// So is the previous step's code, though inside the window.
		if _, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, -1), ""); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("Authenticate(older step) = %v, want ErrInvalidCredentials", err)
		}
		f.clock.Add(TOTPPeriod)
		for name, tc := range map[string][3]string{
			"unknown user":   {"nobody", testPassword, f.code(t, a, 0)},
			"wrong password": {"alice", testPassword + "x", f.code(t, a, 0)},
			"wrong code":     {"alice", testPassword, "000000"},
			"SQL username":   {"alice' OR '1'='1", testPassword, f.code(t, a, 0)},
			"SQL password":   {"alice", "' OR '1'='1' --", f.code(t, a, 0)},
		} {
			if _, err := f.dir.Authenticate(ctx, tc[0], tc[1], tc[2], ""); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("Authenticate(%s) = %v, want ErrInvalidCredentials", name, err)
			}
		}
		if got := f.rec.count("staff.login", audit.OutcomeDenied); got != 7 {
			t.Errorf("denied login entries = %d, want 7 (replay, older step and the five above: unknown users too)", got)
		}
		// Session idle timeout and logout.
		f.clock.Add(16 * time.Minute)
		if _, err := f.dir.CheckSession(ctx, sess.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("CheckSession(idle) = %v, want ErrSession", err)
		}
		f.clock.Add(time.Hour) // let the failure counter matter less: a success resets it
		sess2, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "")
		if err != nil {
			t.Fatalf("Authenticate = %v", err)
		}
		if err := f.dir.Logout(ctx, sess2.Token.Reveal()); err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.CheckSession(ctx, sess2.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("CheckSession(after logout) = %v, want ErrSession", err)
		}
		for _, bad := range []string{"", "mdg_st_x", strings.Repeat("'", 50)} {
			if _, err := f.dir.CheckSession(ctx, bad); !errors.Is(err, ErrSession) {
				t.Errorf("CheckSession(%q) = %v, want ErrSession", bad, err)
			}
		}
	})
}

func TestTOTPSecretSealed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		u, _ := url.Parse(a.TOTPURI.Reveal())
		secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
		var stored []byte
		if err := db.QueryRow(ctx, `SELECT totp_secret FROM staff_accounts WHERE id = ?`, a.Account.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if len(secret) != TOTPSecretLen || bytes.Contains(stored, secret) {
			t.Errorf("stored TOTP secret contains the plaintext secret")
		}
		if fmt.Sprint(a) != "" && strings.Contains(fmt.Sprint(a), u.Query().Get("secret")) {
			t.Errorf("fmt.Sprint(Enrollment) shows the TOTP secret")
		}
		for _, q := range []string{"secret", "issuer", "algorithm", "digits", "period"} {
			if u.Query().Get(q) == "" {
				t.Errorf("provisioning URI lacks %s", q)
			}
		}
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Madoguchi:alice" {
			t.Errorf("provisioning URI = %s://%s%s", u.Scheme, u.Host, u.Path)
		}
	})
}

func TestApprovals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		alice, bob := staffActor(a.Account.ID), staffActor(b.Account.ID)
		carol, err := f.dir.CreateAccount(ctx, alice, "carol", []byte(testPassword))
		if err != nil {
			t.Fatal(err)
		}
		// role.grant approved by a different admin takes effect, audited.
		req, err := f.dir.Request(ctx, alice, KindRoleGrant, mustJSON(RoleGrant{StaffID: carol.Account.ID, Role: RoleReviewer}))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.dir.Approve(ctx, req.ID, bob)
		if err != nil || got.Status != StatusApproved || got.DecidedBy != b.Account.ID {
			t.Fatalf("Approve = %+v, %v", got, err)
		}
		acct, _ := f.dir.Account(ctx, carol.Account.ID)
		if !slices.Equal(acct.Roles, []Role{RoleReviewer}) {
			t.Errorf("carol's roles = %v, want [reviewer]", acct.Roles)
		}
		if f.rec.count("staff.role.grant", audit.OutcomeOK) != 1 || f.rec.count("approval.approve", audit.OutcomeOK) != 1 {
			t.Errorf("audit lacks the grant or the approval")
		}
		if _, err := f.dir.Approve(ctx, req.ID, bob); !errors.Is(err, ErrDecided) {
			t.Errorf("Approve(twice) = %v, want ErrDecided", err)
		}
		// A reviewer can neither request nor approve.
		if _, err := f.dir.Request(ctx, staffActor(carol.Account.ID), "test.note", []byte(`{}`)); !errors.Is(err, ErrForbidden) {
			t.Errorf("Request(by reviewer) = %v, want ErrForbidden", err)
		}
		// The executor runs inside the approval's transaction: if it fails,
		// the approval stays pending and nothing is recorded.
		boom, err := f.dir.Request(ctx, alice, "test.note", []byte(`{"x":"boom"}`))
		if err != nil {
			t.Fatal(err)
		}
		before := len(f.rec.entries)
		if _, err := f.dir.Approve(ctx, boom.ID, bob); err == nil {
			t.Errorf("Approve(failing executor) = nil, want an error")
		}
		if st, _ := f.dir.Approval(ctx, boom.ID); st.Status != StatusPending {
			t.Errorf("status after failed executor = %s, want pending", st.Status)
		}
		if len(f.rec.entries) != before {
			t.Errorf("failed executor left %d audit entries, want 0", len(f.rec.entries)-before)
		}
		// Expiry.
		old, err := f.dir.Request(ctx, alice, "test.note", []byte(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(25 * time.Hour)
		if _, err := f.dir.Approve(ctx, old.ID, bob); !errors.Is(err, ErrExpired) {
			t.Errorf("Approve(expired) = %v, want ErrExpired", err)
		}
		if st, _ := f.dir.Approval(ctx, old.ID); st.Status != StatusExpired {
			t.Errorf("status after expiry = %s, want expired", st.Status)
		}
		// SQL metacharacters in payload and reason are data.
		sqlPayload := []byte(`{"note":"'; DROP TABLE approvals; --"}`)
		r1, err := f.dir.Request(ctx, bob, "test.note", sqlPayload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Approve(ctx, r1.ID, alice); err != nil {
			t.Fatal(err)
		}
		if len(f.ran) != 1 || f.ran[0] != string(sqlPayload) {
			t.Errorf("executor ran %q, want the SQL payload verbatim", f.ran)
		}
		r2, _ := f.dir.Request(ctx, bob, "test.note", []byte(`{}`))
		rej, err := f.dir.Reject(ctx, r2.ID, alice, "x' OR 1=1 --")
		if err != nil || rej.Status != StatusRejected {
			t.Errorf("Reject = %+v, %v", rej, err)
		}
		if back, _ := f.dir.Approval(ctx, r2.ID); back.Reason != "x' OR 1=1 --" {
			t.Errorf("stored reason = %q", back.Reason)
		}
		for name, tc := range map[string]struct {
			kind    string
			payload []byte
		}{
			"unknown kind":     {"nope", []byte(`{}`)},
			"invalid payload":  {"test.note", []byte(`not json`)},
			"bad role":         {KindRoleGrant, mustJSON(map[string]string{"staff_id": "x", "role": "god"})},
			"extra field":      {KindRoleGrant, []byte(`{"staff_id":"x","role":"admin","also":1}`)},
			"oversize payload": {"test.note", bytes.Repeat([]byte(" "), MaxPayloadLen+1)},
		} {
			if _, err := f.dir.Request(ctx, alice, tc.kind, tc.payload); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Request(%s) = %v, want ErrInvalidInput", name, err)
			}
		}
		if _, err := f.dir.Approve(ctx, "' OR '1'='1", bob); !errors.Is(err, ErrNotFound) {
			t.Errorf("Approve(SQL id) = %v, want ErrNotFound", err)
		}
		pend, err := f.dir.Approvals(ctx, StatusPending)
		if err != nil || len(pend) != 1 || pend[0].ID != boom.ID {
			t.Errorf("Approvals(pending) = %v, %v, want only %s", pend, err, boom.ID)
		}
	})
}

func TestAfterCommit(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	f := newFixture(t, db)
	rotations := 0
	fail := true
	f.dir.exec[KindKEKRotate] = Executor{AfterCommit: func(ctx context.Context, a Approval, by Actor) error {
		// Runs after commit: a new transaction must not deadlock.
		if err := f.db.InTx(ctx, func(tx *store.Tx) error { return nil }); err != nil {
			return err
		}
		if fail {
			return errors.New("keyring unavailable")
		}
		rotations++
		return nil
	}}
	a, b := f.admins(t)
	r, _ := f.dir.Request(ctx, staffActor(a.Account.ID), KindKEKRotate, nil)
	got, err := f.dir.Approve(ctx, r.ID, staffActor(b.Account.ID))
	if err == nil || got.Status != StatusFailed {
		t.Errorf("Approve(failing rotation) = %+v, %v, want failed", got, err)
	}
	if f.rec.count("approval.execute", audit.OutcomeFailed) != 1 {
		t.Errorf("failed execution not audited")
	}
	fail = false
	r, _ = f.dir.Request(ctx, staffActor(a.Account.ID), KindKEKRotate, nil)
	if got, err := f.dir.Approve(ctx, r.ID, staffActor(b.Account.ID)); err != nil || got.Status != StatusApproved || rotations != 1 {
		t.Errorf("Approve(rotation) = %+v, %v, rotations %d", got, err, rotations)
	}
}

func TestAccountInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		for name, tc := range map[string]struct {
			user, pw string
			want     error
		}{
			"SQL username":    {"x'; DROP TABLE staff_accounts; --", testPassword, ErrInvalidInput},
			"upper case":      {"Alice2", testPassword, ErrInvalidInput},
			"weak password":   {"dave", "short", ErrWeakPassword},
			"taken":           {"alice", testPassword, ErrConflict},
			"SQL password ok": {"erin", "p'; DROP TABLE x; --", nil},
		} {
			_, err := f.dir.CreateAccount(ctx, staffActor(a.Account.ID), tc.user, []byte(tc.pw))
			if !errors.Is(err, tc.want) {
				t.Errorf("CreateAccount(%s) = %v, want %v", name, err, tc.want)
			}
		}
		f.rec.fail = true
		if _, err := f.dir.CreateAccount(ctx, staffActor(a.Account.ID), "frank", []byte(testPassword)); !errors.Is(err, errAuditDown) {
			t.Errorf("CreateAccount(audit down) = %v, want errAuditDown", err)
		}
		f.rec.fail = false
		if _, err := f.dir.AccountByUsername(ctx, "frank"); !errors.Is(err, ErrNotFound) {
			t.Errorf("account created although its audit entry failed: %v", err)
		}
	})
}

// One TOTP code presented by concurrent logins opens exactly one session:
// the last-step check and update happen under the row lock.
func TestConcurrentTOTPReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		code := f.code(t, a, 0)
		const n = 6
		errs := make(chan error, n)
		for range n {
			go func() {
				_, err := f.dir.Authenticate(ctx, "alice", testPassword, code, "")
				errs <- err
			}()
		}
		ok := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				ok++
			case errors.Is(err, ErrInvalidCredentials):
			default:
				t.Errorf("Authenticate(concurrent) = %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("concurrent logins with one code: %d sessions, want 1", ok)
		}
	})
}

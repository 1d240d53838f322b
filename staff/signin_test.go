package staff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// attempt is what a caller can observe of one sign-in: the error class and
// the backoff it announces.
type attempt struct {
	class      string
	retryAfter time.Duration
}

func observe2(_ Session, err error) attempt { return observe(err) }

func observe(err error) attempt {
	var be *BackoffError
	switch {
	case err == nil:
		return attempt{class: "ok"}
	case errors.As(err, &be):
		return attempt{class: "backoff", retryAfter: be.RetryAfter}
	case errors.Is(err, ErrInvalidCredentials):
		return attempt{class: "invalid"}
	}
	return attempt{class: "error: " + err.Error()}
}

// TestSignInRealAndUnknownAlike: a real account and an unknown username,
// attacked with wrong passwords from one address, answer the same sequence
// (invalid x MaxFailures, then backoff with the same Retry-After), after
// the same argon2id work and the same number of audit entries per attempt.
func TestSignInRealAndUnknownAlike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		run := func(username string) ([]attempt, []int64, []int) {
			var seq []attempt
			var hashes []int64
			var entries []int
			for range 8 {
				h0, e0 := f.dir.hashes.Load(), len(f.rec.entries)
				_, err := f.dir.AuthenticateFrom(ctx, username, "wrong password!!", f.code(t, a, 0), "", "203.0.113.7")
				seq = append(seq, observe(err))
				hashes = append(hashes, f.dir.hashes.Load()-h0)
				entries = append(entries, len(f.rec.entries)-e0)
			}
			return seq, hashes, entries
		}
		realSeq, realHashes, realEntries := run("alice")
		unkSeq, unkHashes, unkEntries := run("nobody")
		if fmt.Sprint(realSeq) != fmt.Sprint(unkSeq) {
			t.Errorf("answers differ:\nreal    %v\nunknown %v", realSeq, unkSeq)
		}
		if fmt.Sprint(realHashes) != fmt.Sprint(unkHashes) || fmt.Sprint(realEntries) != fmt.Sprint(unkEntries) {
			t.Errorf("work differs: argon2id %v vs %v, audit entries %v vs %v", realHashes, unkHashes, realEntries, unkEntries)
		}
		want := []string{"invalid", "invalid", "invalid", "invalid", "invalid", "backoff", "backoff", "backoff"}
		for i, w := range want {
			if realSeq[i].class != w {
				t.Fatalf("attempt %d = %v, want %s (sequence %v)", i+1, realSeq[i], w, realSeq)
			}
		}
		if realHashes[0] != 1 || realHashes[6] != 0 {
			t.Errorf("argon2id per attempt = %v: want 1 while evaluated, 0 in backoff", realHashes)
		}
		if realSeq[5].retryAfter != 30*time.Second {
			t.Errorf("first backoff = %v, want 30s", realSeq[5].retryAfter)
		}
	})
}

// TestSignInBackoffIsPerSource: an attacker's failures from one address do
// not stop the account holder signing in from theirs; the attacker's
// backoff doubles, and a success clears only its own source.
func TestSignInBackoffIsPerSource(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		const attacker, reviewer = "198.51.100.9", "192.0.2.10"
		var last attempt
		for range 5 {
			_, err := f.dir.AuthenticateFrom(ctx, "alice", "wrong password!!", "000000", "", attacker)
			last = observe(err)
		}
		if last.class != "invalid" {
			t.Fatalf("5th failure = %v, want invalid", last)
		}
		if got := observe2(f.dir.AuthenticateFrom(ctx, "alice", testPassword, f.code(t, a, 0), "", attacker)); got.class != "backoff" {
			t.Fatalf("attacker with the right credentials during backoff = %v, want backoff", got)
		}
		// The holder, from their own address, is not affected.
		if _, err := f.dir.AuthenticateFrom(ctx, "alice", testPassword, f.code(t, a, 0), "", reviewer); err != nil {
			t.Fatalf("holder from own address = %v, want a session", err)
		}
		// The backoff doubles per further failure: 30s, 60s, 120s ...
		for i, want := range []time.Duration{60 * time.Second, 120 * time.Second, 240 * time.Second} {
			f.clock.Add(time.Hour)
			if got := observe2(f.dir.AuthenticateFrom(ctx, "alice", "wrong password!!", "000000", "", attacker)); got.class != "invalid" {
				t.Fatalf("after backoff, attempt %d = %v, want invalid", i, got)
			}
			if got := observe2(f.dir.AuthenticateFrom(ctx, "alice", "wrong password!!", "000000", "", attacker)); got.retryAfter != want {
				t.Fatalf("backoff %d = %v, want %v", i, got, want)
			}
		}
		// An IPv6 attacker cannot escape by rotating addresses inside a /64.
		for i := range 5 {
			_, _ = f.dir.AuthenticateFrom(ctx, "bob", "wrong password!!", "000000", "", fmt.Sprintf("2001:db8:1:2::%x", i+1))
		}
		if got := observe2(f.dir.AuthenticateFrom(ctx, "bob", "wrong password!!", "000000", "", "2001:db8:1:2:ffff::1")); got.class != "backoff" {
			t.Errorf("sixth failure from the same /64 = %v, want backoff", got)
		}
		// After a day without failures the count is forgotten.
		f.clock.Add(25 * time.Hour)
		if got := observe2(f.dir.AuthenticateFrom(ctx, "alice", "wrong password!!", "000000", "", attacker)); got.class != "invalid" {
			t.Errorf("a day later = %v, want invalid (count forgotten)", got)
		}
	})
}

// TestSignInAlerts: entering backoff, one account failing from many
// sources, and one source failing on many usernames each raise one audited
// alert (not one per attempt); only admins list them, and listing and
// acknowledging are audited.
func TestSignInAlerts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		var hooked []string
		f.dir.cfg.OnAlert = func(a Alert) { hooked = append(hooked, a.Kind) }
		a, b := f.admins(t)
		fail := func(user, src string) {
			t.Helper()
			if _, err := f.dir.AuthenticateFrom(ctx, user, "wrong password!!", "000000", "", src); err == nil {
				t.Fatal("wrong password accepted")
			}
		}
		for range 7 {
			fail("alice", "198.51.100.1") // 5 failures, then backoff refusals
		}
		for i := range 5 {
			fail("bob", fmt.Sprintf("198.51.100.%d", 10+i))
		}
		for i := range 10 {
			fail(fmt.Sprintf("user%d", i), "198.51.100.99")
		}
		if got := f.rec.count("staff.alert.raise", audit.OutcomeOK); got != 3 {
			t.Errorf("alert entries = %d, want 3", got)
		}
		if got := fmt.Sprint(hooked); got != "[signin.backoff signin.distributed signin.spray]" {
			t.Errorf("OnAlert saw %s", got)
		}
		if c := f.dir.Counters(); c.Alerts != 3 || c.Failures != 20 || c.Backoffs != 2 {
			t.Errorf("Counters = %+v, want 3 alerts, 20 failures, 2 backoff refusals", c)
		}
		carl, err := f.dir.CreateAccount(ctx, staffActor(a.Account.ID), "dave", []byte(testPassword))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.Alerts(ctx, staffActor(carl.Account.ID), false, 0); !errors.Is(err, ErrForbidden) {
			t.Errorf("Alerts by a non-admin = %v, want ErrForbidden", err)
		}
		list, err := f.dir.Alerts(ctx, staffActor(b.Account.ID), false, 0)
		if err != nil || len(list) != 3 {
			t.Fatalf("Alerts = %d, %v; want 3", len(list), err)
		}
		byKind := map[string]Alert{}
		for _, al := range list {
			byKind[al.Kind] = al
		}
		if al := byKind[AlertBackoff]; al.StaffID != a.Account.ID || al.Source != "198.51.100.1" || al.Count != 5 {
			t.Errorf("backoff alert = %+v", al)
		}
		if al := byKind[AlertDistributed]; al.StaffID != b.Account.ID || al.Count != 5 {
			t.Errorf("distributed alert = %+v", al)
		}
		if al := byKind[AlertSpray]; al.StaffID != "" || al.Source != "198.51.100.99" || al.Count != 10 {
			t.Errorf("spray alert = %+v (unknown usernames carry no account)", al)
		}
		if err := f.dir.AcknowledgeAlert(ctx, staffActor(b.Account.ID), byKind[AlertSpray].ID); err != nil {
			t.Fatal(err)
		}
		if err := f.dir.AcknowledgeAlert(ctx, staffActor(b.Account.ID), byKind[AlertSpray].ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second ack = %v, want ErrNotFound", err)
		}
		if open, _ := f.dir.Alerts(ctx, staffActor(b.Account.ID), false, 0); len(open) != 2 {
			t.Errorf("open alerts after ack = %d, want 2", len(open))
		}
		if all, _ := f.dir.Alerts(ctx, staffActor(b.Account.ID), true, 0); len(all) != 3 || all[0].AckedBy == "" && all[1].AckedBy == "" && all[2].AckedBy == "" {
			t.Errorf("all alerts = %+v", all)
		}
		if f.rec.count("staff.alert.list", audit.OutcomeOK) != 3 || f.rec.count("staff.alert.ack", audit.OutcomeOK) != 1 {
			t.Errorf("listing/ack not audited")
		}
	})
}

// TestHashGate: slots run, the queue waits, beyond it is ErrBusy at once,
// and a waiter gives up after the wait or with its context.
func TestHashGate(t *testing.T) {
	g := newHashGate(1, 1, 50*time.Millisecond)
	rel, err := g.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		r, err := g.acquire(context.Background())
		if err == nil {
			r()
		}
		got <- err
	}()
	for g.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := g.acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("acquire beyond the queue = %v, want ErrBusy", err)
	}
	rel()
	if err := <-got; err != nil {
		t.Errorf("queued acquire = %v, want a slot", err)
	}
	rel, _ = g.acquire(context.Background())
	if _, err := g.acquire(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("acquire after the wait = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("acquire with a cancelled context = %v", err)
	}
	rel()
}

// TestSignInBusy: with every slot and queue place taken, a sign-in is
// ErrBusy before any database or hash work.
func TestSignInBusy(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	f.dir.gate = newHashGate(1, 0, time.Millisecond)
	rel, _ := f.dir.gate.acquire(context.Background())
	defer rel()
	if _, err := f.dir.AuthenticateFrom(context.Background(), "alice", testPassword, "000000", "", "192.0.2.1"); !errors.Is(err, ErrBusy) {
		t.Errorf("AuthenticateFrom with the gate full = %v, want ErrBusy", err)
	}
	if f.dir.hashes.Load() != 0 || f.dir.Counters().Busy != 1 {
		t.Errorf("hashes = %d, busy = %d", f.dir.hashes.Load(), f.dir.Counters().Busy)
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":            "192.0.2.1",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"":                     SourceLocal,
		"not an address":       SourceLocal,
		" 198.51.100.7 ":       "198.51.100.7",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
	} {
		if got := SourceKey(in); got != want {
			t.Errorf("SourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDisableAccount: disabling ends the account's sessions at once and its
// sign-ins answer like wrong credentials; admins only, never oneself;
// enabling lets it sign in again. Both are audited.
func TestDisableAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, b := f.admins(t)
		sess, err := f.dir.AuthenticateFrom(ctx, "bob", testPassword, f.code(t, b, 0), "", "192.0.2.2")
		if err != nil {
			t.Fatal(err)
		}
		carl, err := f.dir.CreateAccount(ctx, staffActor(a.Account.ID), "dave", []byte(testPassword))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.dir.DisableAccount(ctx, staffActor(carl.Account.ID), b.Account.ID); !errors.Is(err, ErrForbidden) {
			t.Errorf("DisableAccount by a non-admin = %v, want ErrForbidden", err)
		}
		if err := f.dir.DisableAccount(ctx, staffActor(a.Account.ID), a.Account.ID); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("DisableAccount(self) = %v, want ErrInvalidInput", err)
		}
		if err := f.dir.DisableAccount(ctx, staffActor(a.Account.ID), b.Account.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.dir.CheckSession(ctx, sess.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("CheckSession after disable = %v, want ErrSession", err)
		}
		if err := f.dir.DisableAccount(ctx, staffActor(a.Account.ID), b.Account.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second DisableAccount = %v, want ErrNotFound", err)
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.AuthenticateFrom(ctx, "bob", testPassword, f.code(t, b, 0), "", "192.0.2.2"); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("sign-in of a disabled account = %v, want ErrInvalidCredentials", err)
		}
		// A disabled admin cannot act, nor approve.
		if _, err := f.dir.Request(ctx, staffActor(b.Account.ID), KindRoleGrant, mustJSON(RoleGrant{StaffID: carl.Account.ID, Role: RoleReviewer})); !errors.Is(err, ErrForbidden) {
			t.Errorf("Request by a disabled admin = %v, want ErrForbidden", err)
		}
		if err := f.dir.EnableAccount(ctx, staffActor(a.Account.ID), b.Account.ID); err != nil {
			t.Fatal(err)
		}
		f.clock.Add(TOTPPeriod)
		if _, err := f.dir.AuthenticateFrom(ctx, "bob", testPassword, f.code(t, b, 0), "", "192.0.2.2"); err != nil {
			t.Errorf("sign-in after enable = %v", err)
		}
		if f.rec.count("staff.disable", audit.OutcomeOK) != 1 || f.rec.count("staff.enable", audit.OutcomeOK) != 1 {
			t.Errorf("disable/enable not audited once each")
		}
	})
}

// TestLogoutUnknownSession: only a live session can be ended; an unknown,
// malformed, already ended or expired token is ErrSession.
func TestLogoutUnknownSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db)
		a, _ := f.admins(t)
		for _, bad := range []string{"", "anything", sessionPrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
			if err := f.dir.Logout(ctx, bad); !errors.Is(err, ErrSession) {
				t.Errorf("Logout(%q) = %v, want ErrSession", bad, err)
			}
		}
		sess, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.dir.Logout(ctx, sess.Token.Reveal()); err != nil {
			t.Fatalf("Logout(live) = %v", err)
		}
		if err := f.dir.Logout(ctx, sess.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("Logout(ended) = %v, want ErrSession", err)
		}
		f.clock.Add(TOTPPeriod)
		sess, err = f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "")
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(16 * time.Minute)
		if err := f.dir.Logout(ctx, sess.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("Logout(idle) = %v, want ErrSession", err)
		}
	})
}

// BenchmarkSignInTiming compares the time of failed sign-ins for a real
// account and for an unknown username, interleaved so load affects both
// alike, with the production argon2id cost. It reports the medians and
// their ratio (1.00 = indistinguishable) and the Kolmogorov-Smirnov
// distance between the two distributions; docs/benchmarks.md has figures.
// No assertion: timing belongs to benchmarks, not to tests.
func BenchmarkSignInTiming(b *testing.B) {
	db := storetest.SQLite(b)
	f := newFixture(b, db)
	f.dir.gate = newHashGate(4, 16, time.Minute)
	var err error
	f.dir.dummy, err = HashPassword([]byte("dummy password for timing"), DefaultArgon2)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	op := Actor{Kind: audit.ActorSystem}
	en, err := f.dir.Bootstrap(ctx, op, "alice", []byte(testPassword))
	if err != nil {
		b.Fatal(err)
	}
	// Store alice's password at the production cost, like the dummy.
	h, _ := HashPassword([]byte(testPassword), DefaultArgon2)
	if _, err := db.Exec(ctx, `UPDATE staff_accounts SET password_hash = ? WHERE id = ?`, h, en.Account.ID); err != nil {
		b.Fatal(err)
	}
	var realD, unkD []time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		src := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255) // a fresh source: never in backoff
		user, dst := "alice", &realD
		if i%2 == 1 {
			user, dst = "nobody", &unkD
		}
		t0 := time.Now()
		_, _ = f.dir.AuthenticateFrom(ctx, user, "wrong password!!", "000000", "", src)
		*dst = append(*dst, time.Since(t0))
	}
	b.StopTimer()
	if len(realD) < 2 || len(unkD) < 2 {
		return
	}
	mr, mu := median(realD), median(unkD)
	b.ReportMetric(float64(mr.Microseconds()), "real-median-µs")
	b.ReportMetric(float64(mu.Microseconds()), "unknown-median-µs")
	b.ReportMetric(float64(mr)/float64(mu), "median-ratio")
	b.ReportMetric(ksDistance(realD, unkD), "KS-D")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// ksDistance is the two-sample Kolmogorov-Smirnov statistic: the largest
// gap between the two empirical distribution functions (0 = identical).
func ksDistance(a, b []time.Duration) float64 {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	var i, j int
	var d float64
	for i < len(x) && j < len(y) {
		v := min(x[i], y[j])
		for i < len(x) && x[i] <= v {
			i++
		}
		for j < len(y) && y[j] <= v {
			j++
		}
		d = max(d, math.Abs(float64(i)/float64(len(x))-float64(j)/float64(len(y))))
	}
	return d
}

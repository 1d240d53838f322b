package staff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// BackoffError is returned while a (username, source address) pair is in
// backoff after repeated failures. It matches ErrBackoff with errors.Is and
// says when the next attempt from that address will be evaluated. It is
// returned for unknown usernames exactly as for real accounts.
type BackoffError struct{ RetryAfter time.Duration }

func (e *BackoffError) Error() string {
	return fmt.Sprintf("%v: retry after %v", ErrBackoff, e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrBackoff) true.
func (e *BackoffError) Is(target error) bool { return target == ErrBackoff }

// SourceLocal is the source of sign-ins from the local CLI (Authenticate).
const SourceLocal = "local"

// SourceKey reduces a source address to the unit backoff is counted per: an
// IPv4 address, an IPv6 /64 (one customer network), or SourceLocal for an
// empty or unparsable source.
func SourceKey(addr string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(addr))
	if err != nil {
		return SourceLocal
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func userHash(username string) [32]byte {
	return sha256.Sum256([]byte("madoguchi/staff/signin/user\x00" + username))
}

func pairHash(user [32]byte, source string) [32]byte {
	return sha256.Sum256(append(append([]byte("madoguchi/staff/signin/pair\x00"), user[:]...), source...))
}

// hashGate bounds the concurrent argon2id verifications (each holds
// Argon2.MemoryKiB of memory): slots run at once, at most queue wait for a
// slot, each at most wait; anything beyond is ErrBusy at once.
type hashGate struct {
	slots   chan struct{}
	queue   int64
	wait    time.Duration
	waiting atomic.Int64
}

func newHashGate(slots, queue int, wait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), queue: int64(queue), wait: wait}
}

func (g *hashGate) acquire(ctx context.Context) (func(), error) {
	release := func() { <-g.slots }
	select {
	case g.slots <- struct{}{}:
		return release, nil
	default:
	}
	if g.waiting.Add(1) > g.queue {
		g.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer g.waiting.Add(-1)
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SignInCounters are running totals since the Directory was built (this
// instance only), for metrics.
type SignInCounters struct {
	Failures uint64 // failed sign-ins (wrong or unknown credentials)
	Backoffs uint64 // attempts refused because the pair was in backoff
	Busy     uint64 // attempts refused because the hash queue was full
	Alerts   uint64 // alerts raised
}

type signInCounters struct{ failures, backoffs, busy, alerts atomic.Uint64 }

// Counters returns the sign-in counters.
func (d *Directory) Counters() SignInCounters {
	return SignInCounters{Failures: d.counters.failures.Load(), Backoffs: d.counters.backoffs.Load(),
		Busy: d.counters.busy.Load(), Alerts: d.counters.alerts.Load()}
}

// Authenticate is AuthenticateFrom with the local CLI as source.
func (d *Directory) Authenticate(ctx context.Context, username, password, code, requestID string) (Session, error) {
	return d.AuthenticateFrom(ctx, username, password, code, requestID, SourceLocal)
}

// AuthenticateFrom checks username, password and TOTP code, presented from
// source (the client's IP address; see SourceKey), and opens a session.
//
// Any mismatch is ErrInvalidCredentials: the same answer, after the same
// work (one argon2id verification under the bounded hash gate, one
// transaction recording the failure and its audit entry), for an unknown
// user, a wrong password, a wrong or replayed code or a disabled account.
// After MaxFailures consecutive failures for the same (username, source)
// pair, attempts from that source for that username are refused with a
// *BackoffError (ErrBackoff) until the backoff ends, whether or not the
// account exists; other sources are not affected, so nobody can lock a
// person out from their own address. When the hash gate's queue is full the
// answer is ErrBusy, before any work.
func (d *Directory) AuthenticateFrom(ctx context.Context, username, password, code, requestID, source string) (Session, error) {
	now := d.now()
	src := SourceKey(source)
	uh := userHash(username)
	key := pairHash(uh, src)
	var (
		failures        int
		nextAt, updated int64
	)
	err := d.db.QueryRow(ctx, `SELECT failures, next_at, updated_at FROM staff_signin_failures WHERE key_hash = ?`, key[:]).
		Scan(&failures, &nextAt, &updated)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return Session{}, err
	case nextAt > store.Micros(now) && now.Sub(store.FromMicros(updated)) < d.cfg.FailureWindow:
		d.counters.backoffs.Add(1)
		return Session{}, &BackoffError{RetryAfter: store.FromMicros(nextAt).Sub(now)}
	}

	release, err := d.gate.acquire(ctx)
	if err != nil {
		if errors.Is(err, ErrBusy) {
			d.counters.busy.Add(1)
		}
		return Session{}, err
	}
	var (
		id, hash, status string
		sealed           []byte
	)
	err = d.db.QueryRow(ctx, `SELECT id, password_hash, totp_secret, status FROM staff_accounts WHERE username = ?`, username).
		Scan(&id, &hash, &sealed, &status)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		release()
		return Session{}, err
	}
	var pwErr error
	if found && len(password) <= MaxPasswordLen {
		pwErr = VerifyPassword([]byte(password), hash)
	} else {
		_ = VerifyPassword([]byte(password), d.dummy)
		pwErr = ErrInvalidCredentials
	}
	d.hashes.Add(1)
	release()
	if pwErr != nil && !errors.Is(pwErr, ErrInvalidCredentials) {
		return Session{}, pwErr // a malformed stored hash: a server fault
	}
	// The TOTP secret is opened only after the right password, so a wrong
	// password costs the same whether or not the account exists.
	var secret []byte
	if found && pwErr == nil {
		if secret, err = d.sealer.Open(ctx, d.db, subject(id), aad(id), sealed); err != nil {
			return Session{}, fmt.Errorf("staff: open TOTP secret: %w", err)
		}
	}
	f := failure{userHash: uh, key: key, source: src, requestID: requestID, reason: "unknown_user"}
	if found {
		f.staffID, f.reason = id, "password"
	}
	var (
		sess    Session
		outcome error
		raised  []Alert
	)
	err = d.db.InTx(ctx, func(tx *store.Tx) error {
		raised = nil
		if found && pwErr == nil {
			lock := ""
			if tx.Dialect() == store.Postgres {
				lock = " FOR UPDATE"
			}
			var lastStep int64
			if err := tx.QueryRow(ctx, `SELECT totp_last_step FROM staff_accounts WHERE id = ?`+lock, id).Scan(&lastStep); err != nil {
				return mapErr(err)
			}
			step, totpOK := verifyTOTP(secret, code, now, lastStep)
			if totpOK && status == "active" {
				var err error
				sess, err = d.openSession(ctx, tx, id, step, key, requestID)
				return err
			}
			f.reason = "totp"
			if totpOK {
				f.reason = "disabled"
			}
		}
		outcome = ErrInvalidCredentials
		var err error
		raised, err = d.recordFailure(ctx, tx, f, now)
		return err
	})
	if err != nil {
		return Session{}, err
	}
	if outcome != nil {
		d.counters.failures.Add(1)
		d.announce(raised)
		return Session{}, outcome
	}
	sess.Roles, err = d.roles(ctx, d.db, id)
	return sess, err
}

// openSession records a successful sign-in: the TOTP step, the source's
// failures cleared, a fresh session and its audit entry (openSessionTx).
func (d *Directory) openSession(ctx context.Context, tx *store.Tx, id string, step int64, key [32]byte, requestID string) (Session, error) {
	if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET totp_last_step = ? WHERE id = ?`, step, id); err != nil {
		return Session{}, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM staff_signin_failures WHERE key_hash = ?`, key[:]); err != nil {
		return Session{}, err
	}
	return d.openSessionTx(ctx, tx, id, MethodPassword, Actor{Kind: audit.ActorStaff, ID: id, RequestID: requestID}, nil)
}

type failure struct {
	userHash, key [32]byte
	source        string
	staffID       string // "" for an unknown username
	requestID     string
	reason        string // unknown_user, password, totp, disabled
}

// recordFailure counts a failure for the (username, source) pair, starts or
// lengthens its backoff, audits it and raises alerts. It does the same
// statements for unknown usernames as for real accounts.
func (d *Directory) recordFailure(ctx context.Context, tx *store.Tx, f failure, now time.Time) ([]Alert, error) {
	nowM := store.Micros(now)
	stale := store.Micros(now.Add(-d.cfg.FailureWindow))
	if _, err := tx.Exec(ctx, `DELETE FROM staff_signin_failures WHERE updated_at < ?`, stale); err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRow(ctx, `INSERT INTO staff_signin_failures (key_hash, user_hash, source, staff_id, failures, next_at, updated_at)
		VALUES (?, ?, ?, ?, 1, 0, ?)
		ON CONFLICT (key_hash) DO UPDATE SET failures = staff_signin_failures.failures + 1, staff_id = excluded.staff_id, updated_at = excluded.updated_at
		RETURNING failures`, f.key[:], f.userHash[:], f.source, f.staffID, nowM).Scan(&n); err != nil {
		return nil, err
	}
	var next int64
	if n >= d.cfg.MaxFailures {
		next = store.Micros(now.Add(d.backoff(n)))
	}
	if _, err := tx.Exec(ctx, `UPDATE staff_signin_failures SET next_at = ? WHERE key_hash = ?`, next, f.key[:]); err != nil {
		return nil, err
	}
	actor, object := Actor{Kind: audit.ActorSystem, RequestID: f.requestID}, "staff/unknown"
	if f.staffID != "" {
		actor, object = Actor{Kind: audit.ActorStaff, ID: f.staffID, RequestID: f.requestID}, f.staffID
	}
	details := map[string]string{"reason": f.reason, "failures": fmt.Sprint(n)}
	if next != 0 {
		details["backoff_until"] = store.FromMicros(next).Format(time.RFC3339)
	}
	if _, err := d.audit.Append(ctx, tx, actor.entry("staff.login", object, audit.OutcomeDenied, details)); err != nil {
		return nil, err
	}

	// Detection. Every query runs whether or not the account exists.
	since := store.Micros(now.Add(-d.cfg.AlertWindow))
	var sources, users int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_signin_failures WHERE user_hash = ? AND updated_at >= ?`, f.userHash[:], since).Scan(&sources); err != nil {
		return nil, err
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_signin_failures WHERE source = ? AND updated_at >= ?`, f.source, since).Scan(&users); err != nil {
		return nil, err
	}
	var out []Alert
	for _, c := range []struct {
		hit     bool
		kind    string
		subject string
		count   int
	}{
		{n == d.cfg.MaxFailures, AlertBackoff, hex.EncodeToString(f.key[:]), n},
		{sources >= d.cfg.AlertSources, AlertDistributed, hex.EncodeToString(f.userHash[:]), sources},
		{users >= d.cfg.AlertUsernames, AlertSpray, f.source, users},
	} {
		if !c.hit {
			continue
		}
		a, ok, err := d.raise(ctx, tx, Alert{Kind: c.kind, StaffID: f.staffID, Source: f.source, Count: c.count, CreatedAt: now}, c.subject, since)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// backoff is the wait after the n-th consecutive failure (n >= MaxFailures):
// BackoffBase doubling per further failure, at most BackoffMax.
func (d *Directory) backoff(n int) time.Duration {
	w := d.cfg.BackoffBase
	for i := d.cfg.MaxFailures; i < n && w < d.cfg.BackoffMax; i++ {
		w *= 2
	}
	return min(w, d.cfg.BackoffMax)
}

// Alert kinds.
const (
	// AlertBackoff: a source reached MaxFailures on one username and is in
	// backoff for it.
	AlertBackoff = "signin.backoff"
	// AlertDistributed: one username failed from AlertSources or more
	// sources within AlertWindow (guessing spread over many addresses).
	AlertDistributed = "signin.distributed"
	// AlertSpray: one source failed on AlertUsernames or more usernames
	// within AlertWindow (password spraying, username enumeration).
	AlertSpray = "signin.spray"
)

// Alert is a detection for administrators. StaffID is the targeted account,
// "" when the username does not exist (the username itself is not stored).
type Alert struct {
	ID        string
	Kind      string
	StaffID   string
	Source    string
	Count     int
	CreatedAt time.Time
	AckedBy   string
	AckedAt   time.Time
}

// raise records an alert unless one of the same kind and subject was raised
// since; it is audited in the same transaction.
func (d *Directory) raise(ctx context.Context, tx *store.Tx, a Alert, subject string, since int64) (Alert, bool, error) {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_alerts WHERE kind = ? AND subject = ? AND created_at >= ?`, a.Kind, subject, since).Scan(&n); err != nil {
		return a, false, err
	}
	if n > 0 {
		return a, false, nil
	}
	a.ID = newID("al_")
	if _, err := tx.Exec(ctx, `INSERT INTO staff_alerts (id, kind, subject, staff_id, source, count, created_at, acked_by, acked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, '', 0)`, a.ID, a.Kind, subject, a.StaffID, a.Source, a.Count, store.Micros(a.CreatedAt)); err != nil {
		return a, false, err
	}
	details := map[string]string{"kind": a.Kind, "count": fmt.Sprint(a.Count)}
	if a.StaffID != "" {
		details["staff_id"] = a.StaffID
	}
	_, err := d.audit.Append(ctx, tx, Actor{Kind: audit.ActorSystem}.entry("staff.alert.raise", a.ID, audit.OutcomeOK, details))
	return a, true, err
}

// announce counts raised alerts and hands them to Config.OnAlert.
func (d *Directory) announce(as []Alert) {
	for _, a := range as {
		d.counters.alerts.Add(1)
		if d.cfg.OnAlert != nil {
			d.cfg.OnAlert(a)
		}
	}
}

// MaxAlerts bounds one Alerts listing.
const MaxAlerts = 500

// Alerts lists alerts, newest first (at most limit, default and cap
// MaxAlerts); acknowledged ones only with all set. The actor must be an
// admin; the listing is audited (alerts carry source addresses).
func (d *Directory) Alerts(ctx context.Context, by Actor, all bool, limit int) ([]Alert, error) {
	if limit <= 0 || limit > MaxAlerts {
		limit = MaxAlerts
	}
	var out []Alert
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		out = nil
		if err := d.requireRole(ctx, tx, by, RoleAdmin); err != nil {
			return err
		}
		q := `SELECT id, kind, staff_id, source, count, created_at, acked_by, acked_at FROM staff_alerts`
		if !all {
			q += ` WHERE acked_at = 0`
		}
		rows, err := tx.Query(ctx, q+` ORDER BY created_at DESC, id LIMIT ?`, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a Alert
			var created, acked int64
			if err := rows.Scan(&a.ID, &a.Kind, &a.StaffID, &a.Source, &a.Count, &created, &a.AckedBy, &acked); err != nil {
				return err
			}
			a.CreatedAt = store.FromMicros(created)
			if acked != 0 {
				a.AckedAt = store.FromMicros(acked)
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = d.audit.Append(ctx, tx, by.entry("staff.alert.list", "staff/alerts", audit.OutcomeOK, map[string]string{"count": fmt.Sprint(len(out))}))
		return err
	})
	return out, err
}

// AcknowledgeAlert marks an alert as handled by an admin (audited). An
// unknown or already acknowledged alert is ErrNotFound.
func (d *Directory) AcknowledgeAlert(ctx context.Context, by Actor, id string) error {
	return d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireRole(ctx, tx, by, RoleAdmin); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE staff_alerts SET acked_by = ?, acked_at = ? WHERE id = ? AND acked_at = 0`, by.ID, store.Micros(d.now()), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		_, err = d.audit.Append(ctx, tx, by.entry("staff.alert.ack", id, audit.OutcomeOK, nil))
		return err
	})
}

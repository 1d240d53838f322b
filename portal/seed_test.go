package portal

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Seeding for the dashboard and audit tests and the page benchmark: rows
// as package ekyc and notify write them, without running sessions through
// the face engine (ekyc's and notify's own tests do that and check the
// statistics those rows give).

// seedSession is one ekyc_sessions row.
type seedSession struct {
	Tenant, Method  string // method code (ekyc.CodeHe …)
	State, Outcome  string
	Created         time.Time
	Referred        time.Time // zero: never referred
	Decided         time.Time // zero: not decided
	ReviewedByStaff bool
}

func randomID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s%x", prefix, b)
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return store.Micros(t)
}

// insertSessions writes rows in one transaction and returns their ids.
func insertSessions(t testing.TB, db *store.DB, rows []seedSession) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, len(rows))
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for i, s := range rows {
			ids[i] = randomID("ses_")
			decision := ""
			if !s.Decided.IsZero() {
				decision = fmt.Sprintf(`{"outcome":%q,"reasons":[],"scores":{},"thresholds":{},"models":{},"policy_version":1,"decided_at":%q,"decided_by":"system"}`,
					s.Outcome, s.Decided.UTC().Format(time.RFC3339Nano))
			}
			tok := make([]byte, 32)
			_, _ = rand.Read(tok)
			if _, err := tx.Exec(ctx, `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale, subject, state, outcome,
				version, policy_version, nonce, challenge, token_hash, token_expires, token_used, frame_nonce_at, frame_seq, created_at, expires_at,
				updated_at, submitted_at, decided_at, decision, reviewer, claim_expires, referred_at)
				VALUES (?, ?, 'cl_seed', ?, 'ref', '', 'ja', ?, ?, ?, 1, 1, ?, '[]', ?, 0, 1, 0, 0, ?, ?, ?, ?, ?, ?, '', 0, ?)`,
				ids[i], s.Tenant, s.Method, randomID("sub_"), s.State, s.Outcome, []byte("nonce"), tok,
				micros(s.Created), micros(s.Created.Add(time.Hour)), micros(s.Created), micros(s.Created), micros(s.Decided), decision, micros(s.Referred)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed sessions: %v", err)
	}
	return ids
}

// seedEvent is one notify_outbox row.
type seedEvent struct {
	Tenant, State string
	Attempts      int
	Created       time.Time
	URL           string
}

func insertEvents(t testing.TB, db *store.DB, rows []seedEvent) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, ev := range rows {
			if _, err := tx.Exec(ctx, `INSERT INTO notify_outbox (event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type,
				payload, state, attempts, next_at, claimed_by, claim_until, last_status, last_error, created_at, delivered_at)
				VALUES (?, 'ekyc.webhook', ?, ?, 'sub_x', 'notify.outbox', ?, 'application/jwt', ?, ?, ?, 0, '', 0, 503, 'status 503', ?, 0)`,
				randomID("ev_"), ev.Tenant, ev.Tenant, ev.URL, []byte("sealed"), ev.State, ev.Attempts, micros(ev.Created)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed events: %v", err)
	}
}

// appendEntries appends entries through the real log, batch to a
// transaction, and returns the index of the first.
func appendEntries(t testing.TB, e *env, batch int, entries []audit.Entry) uint64 {
	t.Helper()
	ctx := context.Background()
	var first uint64
	for lo := 0; lo < len(entries); lo += batch {
		hi := min(lo+batch, len(entries))
		err := e.db.InTx(ctx, func(tx *store.Tx) error {
			for i := lo; i < hi; i++ {
				idx, err := e.audit.log.Append(ctx, tx, entries[i])
				if err != nil {
					return err
				}
				if i == 0 {
					first = idx
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("append entries: %v", err)
		}
	}
	return first
}

// entry is an audit entry by a staff member of tenant about object.
func entry(tenant, staffID, action, object string, at time.Time) audit.Entry {
	return audit.Entry{Time: at, ActorKind: audit.ActorStaff, ActorID: staffID, TenantID: tenant, Action: action, Object: object,
		RequestID: "req-seed", Outcome: audit.OutcomeOK, Details: map[string]string{"ip": "198.51.100.7", "route": "/seed"}}
}

// checkpoint signs a checkpoint of the log as it is now.
func (e *env) checkpoint() {
	e.t.Helper()
	if _, err := e.audit.log.Checkpoint(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// entryPath appends an entry of b's tenant (about a fresh session id),
// signs a checkpoint over it and returns its entry page (+ suffix).
func entryPath(e *env, b *browser, suffix string) string {
	p := e.people[b.whoami()]
	idx := appendEntries(e.t, e, 1, []audit.Entry{entry(p.tenant, p.id, "ekyc.session.create", randomID("ses_"), e.clock.Now())})
	e.checkpoint()
	return fmt.Sprintf("/audit/entries/%d%s", idx, suffix)
}

// trailPathFor appends two entries about a fresh object of b's tenant
// and returns its trail page.
func trailPathFor(e *env, b *browser) string {
	p := e.people[b.whoami()]
	obj := randomID("ses_")
	appendEntries(e.t, e, 2, []audit.Entry{
		entry(p.tenant, p.id, "ekyc.session.create", obj, e.clock.Now()),
		entry(p.tenant, p.id, "portal.view", "ekyc.session:"+obj, e.clock.Now()),
	})
	return "/audit/trail/" + obj
}

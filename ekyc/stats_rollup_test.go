package ekyc

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// The roll-up ekyc_session_days (migration 0105) against a recount of the
// sessions: after every kind of write the service makes (create, capture,
// decide, refer, review, cancel, expire, close) and a deletion, on both
// stores, and after the migration's backfill.

// rollupRows reads the roll-up's non-empty rows.
func rollupRows(t *testing.T, db *store.DB) map[[5]string][2]int64 {
	t.Helper()
	return dayRows(t, db, `SELECT tenant_id, CAST(day AS TEXT), method, state, outcome, sessions, referred FROM ekyc_session_days WHERE sessions <> 0 OR referred <> 0`)
}

// recountRows counts the sessions the way the roll-up does.
func recountRows(t *testing.T, db *store.DB) map[[5]string][2]int64 {
	t.Helper()
	return dayRows(t, db, `SELECT tenant_id, CAST(`+store.DayExpr("created_at", RollupOffset)+` AS TEXT), method, state, outcome,
		COUNT(*), SUM(CASE WHEN referred_at > 0 THEN 1 ELSE 0 END) FROM ekyc_sessions GROUP BY 1, 2, 3, 4, 5`)
}

func dayRows(t *testing.T, db *store.DB, q string) map[[5]string][2]int64 {
	t.Helper()
	rows, err := db.Query(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[[5]string][2]int64{}
	for rows.Next() {
		var k [5]string
		var v [2]int64
		if err := rows.Scan(&k[0], &k[1], &k[2], &k[3], &k[4], &v[0], &v[1]); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkRollup(t *testing.T, db *store.DB, when string) {
	t.Helper()
	got, want := rollupRows(t, db), recountRows(t, db)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: roll-up differs from a recount (-recount +roll-up):\n%s", when, diff)
	}
}

func TestStatsRollupEqualsRecount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		jst := time.FixedZone("JST", 9*3600)
		e.clock.t = time.Date(2026, 5, 1, 23, 30, 0, 0, jst)
		day1 := time.Date(2026, 5, 1, 0, 0, 0, 0, jst)
		checkRollup(t, db, "empty")

		he := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) }) // approved
		ho := e.runHo(e.tenantA)                                                     // referred
		open := e.create(e.tenantA, "he")
		cancelled := e.create(e.tenantA, "ho")
		e.create(e.tenantB, "he") // will expire
		e.runHe(e.tenantB, e.licence(8), func(p *page) { p.selfies(8, 0.95) })
		checkRollup(t, db, "created and decided")

		if _, err := e.svc.Cancel(e.ctx, client, e.tenantA, cancelled.Session.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(40 * time.Minute) // past midnight in Tokyo
		r := Staff{ID: "st_1", Roles: []string{RoleReviewer}, TenantID: e.tenantA}
		if _, err := e.svc.Claim(e.ctx, r, ho.ID); err != nil {
			t.Fatal(err)
		}
		checkRollup(t, db, "claimed") // a claim changes no counted column
		if _, err := e.svc.Decide(e.ctx, r, ho.ID, ReviewDecision{Note: "portrait unclear", Reasons: []string{ReviewImageQuality}}); err != nil {
			t.Fatal(err)
		}
		e.runHo(e.tenantA)
		if _, err := e.svc.Close(e.ctx, client, e.tenantA, he.ID); err != nil {
			t.Fatal(err)
		}
		checkRollup(t, db, "cancelled, reviewed, closed")

		e.clock.Add(24 * time.Hour)
		if n, err := e.svc.ExpireDue(e.ctx); err != nil || n < 2 {
			t.Fatalf("ExpireDue = %d, %v; want the open sessions expired", n, err)
		}
		checkRollup(t, db, "expired")
		if _, err := db.Exec(e.ctx, `DELETE FROM ekyc_sessions WHERE id = ?`, open.Session.ID); err != nil {
			t.Fatal(err)
		}
		checkRollup(t, db, "deleted")

		// Stats from the roll-up equals Stats counting the sessions.
		for _, tn := range []string{e.tenantA, e.tenantB} {
			fromRollup, err := stats(e.ctx, db, tn, day1, 7, true)
			if err != nil {
				t.Fatal(err)
			}
			counted, err := stats(e.ctx, db, tn, day1, 7, false)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(counted, fromRollup, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("tenant %s: Stats from the roll-up (-counted +roll-up):\n%s", tn, diff)
			}
			if len(counted.Days) == 0 {
				t.Errorf("tenant %s: no days counted", tn)
			}
		}

		// The migration's backfill: the table dropped with its triggers and
		// the migration run again over the sessions there are.
		drop := []string{`DROP TRIGGER ekyc_session_days_insert`, `DROP TRIGGER ekyc_session_days_update`, `DROP TRIGGER ekyc_session_days_delete`, `DROP TABLE ekyc_session_days`}
		if db.Dialect() == store.Postgres {
			drop = []string{`DROP TRIGGER ekyc_session_days ON ekyc_sessions`, `DROP FUNCTION madoguchi_session_days()`,
				`DROP FUNCTION madoguchi_session_day(TEXT, BIGINT, TEXT, TEXT, TEXT, BIGINT, BIGINT)`, `DROP TABLE ekyc_session_days`}
		}
		for _, q := range drop {
			if _, err := db.Exec(e.ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		ms, err := store.Migrations(db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Version == 105 {
				if _, err := db.Exec(e.ctx, m.SQL); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(rollupRows(t, db)) == 0 {
			t.Fatal("the backfill wrote nothing")
		}
		checkRollup(t, db, "backfilled")
		e.runHo(e.tenantA)
		checkRollup(t, db, "after the backfill, a new session")
	})
}

// TestPortalQueriesUseTheirIndexes: the queries migrations 0106 and 0160 serve
// read its indexes (SQLite's plan; the expressions and conditions in the
// queries must match the indexes' word for word).
func TestPortalQueriesUseTheirIndexes(t *testing.T) {
	db := storetest.SQLite(t)
	day := store.DayExpr("created_at", RollupOffset)
	for _, c := range []struct {
		name, query, index string
		uses               int // how many times the plan reads the index
	}{
		{"review times", reviewTimesQuery(day), "COVERING INDEX ekyc_sessions_reviewed", 2},
		{"queue page", `SELECT id FROM ekyc_sessions WHERE state = 'decided' AND outcome = 'review' AND tenant_id = 'tn_a' ORDER BY decided_at, id LIMIT 51 OFFSET 9950`,
			"COVERING INDEX ekyc_sessions_queue", 1},
		{"records by reference", `SELECT r.id FROM ekyc_records r JOIN ekyc_sessions s ON s.id = r.session_id WHERE s.reference = 'cust-1'`,
			"INDEX ekyc_sessions_reference_any", 1},
		// Migration 0160: the capture page's redemption poll.
		{"hand-off redeemed", `SELECT MAX(redeemed_at) FROM ekyc_handoffs WHERE session_id = 'ses_1' AND tenant_id = 'tn_a' AND state = 'redeemed'`,
			"INDEX ekyc_handoffs_session", 1},
	} {
		var args []any
		if strings.Contains(c.query, "?") {
			args = []any{"tn_a", 1, 9, "tn_a", 1, 9}
		}
		rows, err := db.Query(t.Context(), `EXPLAIN QUERY PLAN `+c.query, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "\n"); strings.Count(p, c.index) != c.uses || strings.Contains(p, "TEMP B-TREE") || strings.Contains(p, "SCAN") {
			t.Errorf("%s: plan\n%s\nwant %s without a sort", c.name, p, c.index)
		}
	}
}

package ekyc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestStats runs real sessions through the service and reads the
// dashboard's statistics back: per-day counts by method and result, the
// referral rate and the review time from referral to the reviewer's
// decision, on both stores, scoped to one tenant.
func TestStats(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		jst := time.FixedZone("JST", 9*3600)
		// Day 1 (JST): a ヘ approved, a ホ referred and then approved by a
		// reviewer 40 minutes later, a ヘ left open.
		e.clock.t = time.Date(2026, 5, 1, 23, 30, 0, 0, jst) // 14:30 UTC
		day1 := time.Date(2026, 5, 1, 0, 0, 0, 0, jst)
		he := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if he.Outcome != OutcomeApproved {
			t.Fatalf("he = %s", he.Outcome)
		}
		ho := e.runHo(e.tenantA)
		e.create(e.tenantA, "he")
		e.runHe(e.tenantB, e.licence(8), func(p *page) { p.selfies(8, 0.95) }) // another tenant
		// Day 2 (it is past midnight in Tokyo): the reviewer decides the ホ
		// session, a second ホ waits for review.
		e.clock.Add(40 * time.Minute)
		r := Staff{ID: "st_1", Roles: []string{"reviewer"}, TenantID: e.tenantA}
		if _, err := e.svc.Claim(e.ctx, r, ho.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(e.ctx, r, ho.ID, ReviewDecision{Approve: false, Note: "portrait unclear", Reasons: []string{ReviewImageQuality}}); err != nil {
			t.Fatal(err)
		}
		e.runHo(e.tenantA)

		st, err := Stats(e.ctx, db, e.tenantA, day1, 7)
		if err != nil {
			t.Fatal(err)
		}
		day2 := day1.AddDate(0, 0, 1)
		want := []DayCount{
			{Day: day1, Method: "he", Result: ResultApproved, Count: 1},
			{Day: day1, Method: "he", Result: ResultOpen, Count: 1},
			{Day: day1, Method: "ho", Result: ResultRejected, Count: 1},
			{Day: day2, Method: "ho", Result: ResultReview, Count: 1},
		}
		if diff := cmp.Diff(want, st.Days, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("Stats days (-want +got):\n%s", diff)
		}
		if st.Days[0].Day.Location() != jst {
			t.Errorf("day location = %v, want the period's", st.Days[0].Day.Location())
		}
		if st.Decided != 3 || st.Referred != 2 {
			t.Errorf("decided, referred = %d, %d; want 3, 2", st.Decided, st.Referred)
		}
		if rate, ok := st.ReferralRate(); !ok || rate != 2.0/3 {
			t.Errorf("ReferralRate = %v, %v; want 2/3", rate, ok)
		}
		if len(st.ReviewTimes) != 1 || st.ReviewTimes[0] != 40*time.Minute {
			t.Errorf("ReviewTimes = %v, want [40m]", st.ReviewTimes)
		}
		// Only the days asked for.
		if st, err := Stats(e.ctx, db, e.tenantA, day2, 1); err != nil || len(st.Days) != 1 || st.Referred != 1 || len(st.ReviewTimes) != 0 {
			t.Errorf("Stats(day 2) = %+v, %v", st, err)
		}
		if st, err := Stats(e.ctx, db, "tn_nobody", day1, 1); err != nil || len(st.Days) != 0 || st.Decided != 0 {
			t.Errorf("Stats(unknown tenant) = %+v, %v", st, err)
		}
		for _, n := range []int{0, -1, MaxStatsDays + 1} {
			if _, err := Stats(e.ctx, db, e.tenantA, day1, n); !errors.Is(err, ErrInvalidInput) {
				t.Errorf("Stats(%d days) = %v, want ErrInvalidInput", n, err)
			}
		}
		// Days in another zone come from a sort instead of the index, and
		// are days of that zone: in UTC everything happened on May 1st.
		utc, err := Stats(e.ctx, db, e.tenantA, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), 7)
		if err != nil || len(utc.Days) != 4 || !utc.Days[3].Day.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) ||
			utc.Days[0].Day.Location() != time.UTC || utc.Decided != 3 {
			t.Errorf("Stats in UTC = %+v, %v", utc.Days, err)
		}
	})
}

// runHo submits a ホ session, which the policy refers to a reviewer for the
// document inspection.
func (e *env) runHo(tenant string) *Session {
	e.t.Helper()
	p := e.open(e.create(tenant, "ho"))
	for _, k := range []FrameKind{FrameDocFront, FrameDocBack, FrameDocTilt} {
		p.frame(k, specPNG(e.t, faceSpec{ID: 5, EAR: .3, PAD: 1, Faces: 1}))
	}
	p.selfies(5, 0.95)
	ss, err := e.svc.Submit(e.ctx, p.start.Key)
	if err != nil || ss.Outcome != OutcomeReview {
		e.t.Fatalf("Submit(ho) = %v, %v; want referred", ss, err)
	}
	return ss
}

// TestStatsMigrationBackfill: sessions decided before migration 0029 get
// their referral time from the decision they kept (the backfill statements
// of the migration, run again on rows reset to referred_at = 0).
func TestStatsMigrationBackfill(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		ho := e.runHo(e.tenantA)
		referred := e.clock.Now()
		e.clock.Add(25 * time.Minute)
		r := Staff{ID: "st_1", Roles: []string{"reviewer"}, TenantID: e.tenantA}
		if _, err := e.svc.Claim(e.ctx, r, ho.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Decide(e.ctx, r, ho.ID, ReviewDecision{Approve: false, Note: "no", Reasons: []string{ReviewFaceMismatch}}); err != nil {
			t.Fatal(err)
		}
		waiting := e.runHo(e.tenantA)
		he := e.runHe(e.tenantA, e.licence(7), func(p *page) { p.selfies(7, 0.95) })
		if _, err := db.Exec(e.ctx, `UPDATE ekyc_sessions SET referred_at = 0`); err != nil {
			t.Fatal(err)
		}
		ms, err := store.Migrations(db.Dialect())
		if err != nil {
			t.Fatal(err)
		}
		var sql string
		for _, m := range ms {
			if m.Version == 29 {
				sql = m.SQL
			}
		}
		n := 0
		for _, stmt := range strings.Split(sql, ";") {
			if s := strings.TrimSpace(stripComments(stmt)); strings.HasPrefix(s, "UPDATE ekyc_sessions") {
				if _, err := db.Exec(e.ctx, s); err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				n++
			}
		}
		if n != 2 {
			t.Fatalf("found %d backfill statements in migration 0029, want 2", n)
		}
		for _, c := range []struct {
			id   string
			want int64
		}{{ho.ID, store.Micros(referred)}, {waiting.ID, store.Micros(waiting.DecidedAt)}, {he.ID, 0}} {
			var got int64
			if err := db.QueryRow(e.ctx, `SELECT referred_at FROM ekyc_sessions WHERE id = ?`, c.id).Scan(&got); err != nil {
				t.Fatal(err)
			}
			// julianday arithmetic on SQLite is exact to well under a millisecond.
			if d := got - c.want; d < -1000 || d > 1000 {
				t.Errorf("referred_at of %s = %d, want %d", c.id, got, c.want)
			}
		}
	})
}

// TestStatsReadsTheDayIndex: with a UTC+9 day zone the statistics come
// from the dashboard index of migration 0029 alone, in day order, without a
// sort (the expression in the query must match the index's exactly).
func TestStatsReadsTheDayIndex(t *testing.T) {
	db := storetest.SQLite(t)
	rows, err := db.Query(context.Background(), `EXPLAIN QUERY PLAN SELECT `+store.DayExpr("created_at", 9*3600*1e6)+
		`, method, state, outcome, COUNT(*) FROM ekyc_sessions WHERE tenant_id = ? AND `+store.DayExpr("created_at", 9*3600*1e6)+
		` >= ? AND `+store.DayExpr("created_at", 9*3600*1e6)+` < ? GROUP BY 1, 2, 3, 4`, "tn_a", 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "COVERING INDEX ekyc_sessions_dashboard") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("dashboard query plan:\n%s", p)
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

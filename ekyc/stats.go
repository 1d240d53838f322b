package ekyc

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Statistics for the portal's dashboard: counts and durations over one
// tenant's sessions, never personal data. The per-day counts come from the
// roll-up ekyc_session_days (migration 0105, kept by triggers in every
// transaction that writes a session) for Japan Standard Time days, and
// from counting the sessions (index ekyc_sessions_dashboard, migration
// 0029) for another day zone; review times from the referral time ekyc
// records when an automated decision refers a session (referred_at) and
// the reviewed sessions' index (migration 0106).

// Results a day's sessions are counted under: a decided session's outcome,
// or what became of an undecided one.
const (
	ResultApproved  = "approved"
	ResultRejected  = "rejected"
	ResultReview    = "review" // waiting for a reviewer
	ResultExpired   = "expired"
	ResultCancelled = "cancelled"
	ResultOpen      = "open" // created, capturing or submitted
)

// Results lists the results in display order.
func Results() []string {
	return []string{ResultApproved, ResultRejected, ResultReview, ResultOpen, ResultExpired, ResultCancelled}
}

// DayCount is how many sessions of one method created on one day have one
// result.
type DayCount struct {
	// Day is the day's first instant in the location of SessionStats.From.
	Day time.Time
	// Method is the method's API name ("he", "ho", "wa").
	Method string
	Result string
	Count  int
}

// SessionStats summarises a tenant's sessions created in [From, To), whole
// days.
type SessionStats struct {
	From, To time.Time
	// Days counts sessions by creation day, method and result, ascending by
	// day, then method, then result; combinations without sessions are
	// absent.
	Days []DayCount
	// Decided is how many sessions received an automated decision (decided
	// or closed); Referred is how many of those it referred to review.
	Decided, Referred int
	// ReviewTimes are, for the referred sessions a reviewer has decided,
	// the time from the referral to the reviewer's decision, ascending.
	ReviewTimes []time.Duration
}

// ReferralRate is Referred/Decided; ok is false when nothing was decided.
func (s SessionStats) ReferralRate() (rate float64, ok bool) {
	if s.Decided == 0 {
		return 0, false
	}
	return float64(s.Referred) / float64(s.Decided), true
}

// MedianReviewTime is the median of ReviewTimes (the mean of the two middle
// ones for an even count); ok is false when no referred session has been
// decided.
func (s SessionStats) MedianReviewTime() (d time.Duration, ok bool) {
	n := len(s.ReviewTimes)
	if n == 0 {
		return 0, false
	}
	if n%2 == 1 {
		return s.ReviewTimes[n/2], true
	}
	return (s.ReviewTimes[n/2-1] + s.ReviewTimes[n/2]) / 2, true
}

// StatsQuerier reads from the store (*store.DB or *store.Tx).
type StatsQuerier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ StatsQuerier = (*store.DB)(nil)
	_ StatsQuerier = (*store.Tx)(nil)
)

// RollupOffset is the UTC offset (µs) of the days the roll-up
// ekyc_session_days counts by (migration 0105): Japan Standard Time. Stats
// for days at another offset count the sessions instead.
const RollupOffset = 9 * 3600 * 1_000_000

// countDays counts tenantID's sessions per day at offset offUS, method,
// state and outcome, as the roll-up does for Japan Standard Time days: the
// rows Stats reads (day, method, state, outcome, sessions, referred).
func countDays(ctx context.Context, q StatsQuerier, tenantID string, offUS, d0, d1 int64) (*sql.Rows, error) {
	day := store.DayExpr("created_at", offUS)
	return q.Query(ctx, `SELECT `+day+`, method, state, outcome, COUNT(*), SUM(CASE WHEN referred_at > 0 THEN 1 ELSE 0 END)
		FROM ekyc_sessions WHERE tenant_id = ? AND `+day+` >= ? AND `+day+` < ?
		GROUP BY 1, 2, 3, 4`, tenantID, d0, d1)
}

// reviewTimesQuery selects the referral and decision times of the reviewed
// sessions (approved or rejected after a referral) of a tenant created on
// days [?, ?) by the day expression day; its arguments are tenant, first
// day and end day, twice. Each outcome is its own branch, an equality the
// index ekyc_sessions_reviewed (migration 0106) answers without reading
// the tenant's other sessions.
func reviewTimesQuery(day string) string {
	branch := func(outcome string) string {
		return `SELECT referred_at, decided_at FROM ekyc_sessions WHERE tenant_id = ? AND outcome = '` + outcome + `' AND ` +
			day + ` >= ? AND ` + day + ` < ? AND referred_at > 0`
	}
	return branch(string(OutcomeApproved)) + ` UNION ALL ` + branch(string(OutcomeRejected))
}

// MaxStatsDays bounds the period of Stats.
const MaxStatsDays = 400

// Stats reads the statistics of tenantID's sessions created on the days
// calendar days from from's day on. Days are calendar days in from's
// location, taken at from's UTC offset: exact for fixed-offset zones such
// as Asia/Tokyo; across a daylight-saving change, days after it are
// shifted by the change.
func Stats(ctx context.Context, q StatsQuerier, tenantID string, from time.Time, days int) (SessionStats, error) {
	return stats(ctx, q, tenantID, from, days, true)
}

// stats is Stats; without rollup it counts the sessions whatever the day
// zone (the tests compare both).
func stats(ctx context.Context, q StatsQuerier, tenantID string, from time.Time, days int, rollup bool) (SessionStats, error) {
	if days < 1 || days > MaxStatsDays {
		return SessionStats{}, fmt.Errorf("%w: statistics period must be 1 to %d days", ErrInvalidInput, MaxStatsDays)
	}
	offUS, d0, d1, start, end := store.DayRange(from, days)
	st := SessionStats{From: start, To: end}
	day := store.DayExpr("created_at", offUS)
	var (
		rows *sql.Rows
		err  error
	)
	if rollup && offUS == RollupOffset {
		rows, err = q.Query(ctx, `SELECT day, method, state, outcome, sessions, referred
			FROM ekyc_session_days WHERE tenant_id = ? AND day >= ? AND day < ? AND sessions > 0`, tenantID, d0, d1)
	} else {
		rows, err = countDays(ctx, q, tenantID, offUS, d0, d1)
	}
	if err != nil {
		return st, fmt.Errorf("ekyc: session statistics: %w", err)
	}
	byKey := map[DayCount]int{}
	for rows.Next() {
		var (
			dn                    int64
			method, state, result string
			n, referred           int
		)
		if err := rows.Scan(&dn, &method, &state, &result, &n, &referred); err != nil {
			rows.Close()
			return st, fmt.Errorf("ekyc: session statistics: %w", err)
		}
		switch State(state) {
		case StateDecided, StateClosed:
			st.Decided += n
			st.Referred += referred
			if result == "" {
				result = ResultOpen
			}
		case StateExpired:
			result = ResultExpired
		case StateCancelled:
			result = ResultCancelled
		default:
			result = ResultOpen
		}
		if m, err := MethodByCode(method); err == nil {
			method = m.API
		}
		t := store.DayStart(dn, offUS, from.Location())
		byKey[DayCount{Day: t, Method: method, Result: result}] += n
	}
	if err := rows.Close(); err != nil {
		return st, err
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("ekyc: session statistics: %w", err)
	}
	for k, n := range byKey {
		k.Count = n
		st.Days = append(st.Days, k)
	}
	order := map[string]int{}
	for i, r := range Results() {
		order[r] = i
	}
	slices.SortFunc(st.Days, func(a, b DayCount) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if a.Method != b.Method {
			if a.Method < b.Method {
				return -1
			}
			return 1
		}
		return order[a.Result] - order[b.Result]
	})

	rows, err = q.Query(ctx, reviewTimesQuery(day), tenantID, d0, d1, tenantID, d0, d1)
	if err != nil {
		return st, fmt.Errorf("ekyc: review times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ref, dec int64
		if err := rows.Scan(&ref, &dec); err != nil {
			return st, fmt.Errorf("ekyc: review times: %w", err)
		}
		if dec >= ref {
			st.ReviewTimes = append(st.ReviewTimes, time.Duration(dec-ref)*time.Microsecond)
		}
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("ekyc: review times: %w", err)
	}
	slices.Sort(st.ReviewTimes)
	return st, nil
}

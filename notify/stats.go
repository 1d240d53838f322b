package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Webhook failure statistics for the portal's dashboard: counts over one
// tenant's events (no bodies) and the latest failing ones.

// DayFailures counts one day's events of a tenant by what became of them.
type DayFailures struct {
	// Day is the day's first instant in the location of Failures.From.
	Day time.Time
	// Events were created that day; Dead of them were given up (every
	// attempt failed, or the data was shredded); Retrying are still pending
	// after at least one failed attempt; Retried were delivered, but not at
	// the first attempt.
	Events, Dead, Retrying, Retried int
}

// Failures summarises a tenant's events created in [From, To).
type Failures struct {
	From, To time.Time
	// Days lists the days with events, ascending.
	Days []DayFailures
	// Totals over the period.
	Events, Dead, Retrying, Retried int
	// Latest are the newest dead or retrying events, newest first.
	Latest []Delivery
}

// Querier reads from the store (*store.DB or *store.Tx).
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

var (
	_ Querier = (*store.DB)(nil)
	_ Querier = (*store.Tx)(nil)
)

// Limits of TenantFailures.
const (
	MaxFailureDays   = 400
	MaxLatestFailing = 100
)

// ErrPeriod reports a statistics period or list size outside the limits.
var ErrPeriod = errors.New("notify: bad statistics period")

// TenantFailures reads the delivery statistics of tenantID's events
// created on the days calendar days from from's day on (in from's
// location, at its UTC offset: exact for fixed-offset zones such as
// Asia/Tokyo), with up to latest failing events.
func TenantFailures(ctx context.Context, q Querier, tenantID string, from time.Time, days, latest int) (Failures, error) {
	if days < 1 || days > MaxFailureDays || latest < 0 || latest > MaxLatestFailing {
		return Failures{}, fmt.Errorf("%w: 1 to %d days and at most %d events listed", ErrPeriod, MaxFailureDays, MaxLatestFailing)
	}
	offUS, _, _, start, stop := store.DayRange(from, days)
	f := Failures{From: start, To: stop}
	lo, hi := store.Micros(start), store.Micros(stop)
	day := store.DayExpr("created_at", offUS)
	rows, err := q.Query(ctx, `SELECT `+day+`, COUNT(*),
		SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'pending' AND attempts > 0 THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'delivered' AND attempts > 1 THEN 1 ELSE 0 END)
		FROM notify_outbox WHERE tenant_id = ? AND created_at >= ? AND created_at < ?
		GROUP BY 1`, tenantID, lo, hi)
	if err != nil {
		return f, fmt.Errorf("notify: failure statistics: %w", err)
	}
	for rows.Next() {
		var dn int64
		var d DayFailures
		if err := rows.Scan(&dn, &d.Events, &d.Dead, &d.Retrying, &d.Retried); err != nil {
			rows.Close()
			return f, fmt.Errorf("notify: failure statistics: %w", err)
		}
		d.Day = store.DayStart(dn, offUS, from.Location())
		f.Days = append(f.Days, d)
		f.Events, f.Dead, f.Retrying, f.Retried = f.Events+d.Events, f.Dead+d.Dead, f.Retrying+d.Retrying, f.Retried+d.Retried
	}
	if err := rows.Close(); err != nil {
		return f, err
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("notify: failure statistics: %w", err)
	}
	slices.SortFunc(f.Days, func(a, b DayFailures) int { return a.Day.Compare(b.Day) })
	if latest == 0 {
		return f, nil
	}
	rows, err = q.Query(ctx, `SELECT `+deliveryCols+` FROM notify_outbox
		WHERE tenant_id = ? AND created_at >= ? AND created_at < ? AND (state = 'dead' OR (state = 'pending' AND attempts > 0))
		ORDER BY created_at DESC, event_id LIMIT ?`, tenantID, lo, hi, latest)
	if err != nil {
		return f, fmt.Errorf("notify: failing events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return f, fmt.Errorf("notify: failing events: %w", err)
		}
		f.Latest = append(f.Latest, d)
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("notify: failing events: %w", err)
	}
	return f, nil
}

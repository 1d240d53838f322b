package notify_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestTenantFailures delivers real events to a receiver that fails, and
// reads the dashboard's statistics back per day, per tenant.
func TestTenantFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		jst := time.FixedZone("JST", 9*3600)
		e.clock.t = time.Date(2026, 5, 1, 23, 50, 0, 0, jst)
		day1 := time.Date(2026, 5, 1, 0, 0, 0, 0, jst)
		n := e.notifier() // three attempts
		rc := &receiver{now: e.clock.Now, fail: 1 << 30}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ctx := context.Background()

		// Day 1: ev_dead fails three times (dead); another tenant's failing
		// event does not count. Day 2: ev_late fails once and is then
		// delivered, ev_ok is delivered at once, ev_retrying keeps failing.
		dead := e.enqueue(n, event(srv.URL+"/hook", "ev_dead"))
		other := event(srv.URL+"/hook", "ev_other")
		other.Tenant = "tn_b"
		e.enqueue(n, other)
		for range 3 {
			if _, err := n.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(2 * time.Minute)
		}
		e.clock.Add(10 * time.Minute) // 00:06 the next day
		e.enqueue(n, event(srv.URL+"/hook", "ev_late"))
		n.DeliverDue(ctx)
		rc.fail = 0
		keys, _ := notify.ParseJWKS(n.JWKS())
		rc.keys = keys
		e.clock.Add(2 * time.Minute)
		e.enqueue(n, event(srv.URL+"/hook", "ev_ok"))
		if k, err := n.DeliverDue(ctx); k != 2 || err != nil {
			t.Fatalf("DeliverDue = %d, %v; want ev_late and ev_ok delivered (%v, %d calls)", k, err, rc.errs, rc.calls)
		}
		rc.fail = 1 << 30
		retrying := e.enqueue(n, event(srv.URL+"/hook", "ev_retrying"))
		n.DeliverDue(ctx)

		f, err := notify.TenantFailures(ctx, db, "tn_a", day1, 7, 10)
		if err != nil {
			t.Fatal(err)
		}
		day2 := day1.AddDate(0, 0, 1)
		want := []notify.DayFailures{
			{Day: day1, Events: 1, Dead: 1},                 // ev_dead (23:50)
			{Day: day2, Events: 3, Retried: 1, Retrying: 1}, // ev_late, ev_ok, ev_retrying
		}
		if diff := cmp.Diff(want, f.Days, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
			t.Errorf("days (-want +got):\n%s", diff)
		}
		if f.Events != 4 || f.Dead != 1 || f.Retrying != 1 || f.Retried != 1 {
			t.Errorf("totals = %+v", f)
		}
		if len(f.Latest) != 2 || f.Latest[0].ID != retrying || f.Latest[1].ID != dead || f.Latest[1].LastError != "status 503" {
			t.Errorf("latest = %+v, want %s then %s", f.Latest, retrying, dead)
		}
		if f, err := notify.TenantFailures(ctx, db, "tn_a", day1, 7, 0); err != nil || f.Latest != nil || f.Events != 4 {
			t.Errorf("without the list: %+v, %v", f, err)
		}
		if f, err := notify.TenantFailures(ctx, db, "tn_c", day1, 1, 5); err != nil || f.Events != 0 || len(f.Latest) != 0 {
			t.Errorf("unknown tenant: %+v, %v", f, err)
		}
		for _, c := range []struct{ days, latest int }{{0, 1}, {-1, 1}, {notify.MaxFailureDays + 1, 1}, {1, -1}, {1, notify.MaxLatestFailing + 1}} {
			if _, err := notify.TenantFailures(ctx, db, "tn_a", day1, c.days, c.latest); !errors.Is(err, notify.ErrPeriod) {
				t.Errorf("TenantFailures(%d days, %d) = %v, want ErrPeriod", c.days, c.latest, err)
			}
		}
		// Any instant of the first day names that day.
		if f2, err := notify.TenantFailures(ctx, db, "tn_a", day1.Add(23*time.Hour), 7, 0); err != nil || !f2.From.Equal(day1) || f2.Events != f.Events {
			t.Errorf("from late on day 1: %v..%v %d events, %v", f2.From, f2.To, f2.Events, err)
		}
	})
}

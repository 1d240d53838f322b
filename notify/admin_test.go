package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestRetryAndListTenant: a failing event is made due now by Retry
// (audited, attempts kept); a delivered or dead one is ErrNotPending;
// ListTenant keeps to one tenant unless asked for all.
func TestRetryAndListTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		n := e.notifier(func(c *notify.Config) { c.MaxAttempts = 2; c.BaseDelay = time.Hour })
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
		defer down.Close()
		a := e.enqueue(n, event(down.URL, "ev_a"))
		evB := event(down.URL, "ev_b")
		evB.Tenant = "tn_b"
		b := e.enqueue(n, evB)
		if _, err := n.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		d, _ := n.Get(ctx, a)
		if d.State != notify.StatePending || d.Attempts != 1 || !d.NextAt.After(e.clock.Now().Add(30*time.Minute)) {
			t.Fatalf("after one failure: %+v", d)
		}
		by := notify.Actor{Kind: "staff", ID: "st_1"}
		if err := n.Retry(ctx, by, a); err != nil {
			t.Fatal(err)
		}
		d, _ = n.Get(ctx, a)
		if d.NextAt.After(e.clock.Now()) || d.Attempts != 1 {
			t.Errorf("after Retry: %+v, want due now with its attempt kept", d)
		}
		if acts := e.auditActions(a); acts[len(acts)-1] != "test.webhook.retry" {
			t.Errorf("audit = %v", acts)
		}
		if err := n.Retry(ctx, by, "ev_nope"); !errors.Is(err, notify.ErrNotFound) {
			t.Errorf("Retry(missing) = %v", err)
		}
		if _, err := n.DeliverDue(ctx); err != nil { // second failure: dead
			t.Fatal(err)
		}
		if err := n.Retry(ctx, by, a); !errors.Is(err, notify.ErrNotPending) {
			t.Errorf("Retry(dead) = %v, want ErrNotPending", err)
		}
		for _, tc := range []struct {
			tenant string
			all    bool
			state  string
			want   []string
		}{
			{"tn_a", false, "", []string{a}},
			{"tn_b", false, "", []string{b}},
			{"tn_a", false, notify.StateDead, []string{a}},
			{"tn_b", false, notify.StateDead, nil},
			{"", true, "", []string{a, b}},
			{"tn_c", false, "", nil},
		} {
			got, err := n.ListTenant(ctx, tc.tenant, tc.all, tc.state, 10, 0)
			if err != nil {
				t.Fatal(err)
			}
			ids := map[string]bool{}
			for _, d := range got {
				ids[d.ID] = true
			}
			if len(got) != len(tc.want) {
				t.Errorf("ListTenant(%q, %v, %q) = %d events, want %d", tc.tenant, tc.all, tc.state, len(got), len(tc.want))
			}
			for _, w := range tc.want {
				if !ids[w] {
					t.Errorf("ListTenant(%q, %v, %q) misses %s", tc.tenant, tc.all, tc.state, w)
				}
			}
		}
		// Pages of one event: the whole list's order, then nothing.
		whole, err := n.ListTenant(ctx, "", true, "", 10, 0)
		if err != nil || len(whole) != 2 {
			t.Fatalf("ListTenant(all) = %d events, %v", len(whole), err)
		}
		var paged []string
		for off := range 3 {
			got, err := n.ListTenant(ctx, "", true, "", 1, off)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range got {
				paged = append(paged, d.ID)
			}
		}
		if len(paged) != 2 || paged[0] != whole[0].ID || paged[1] != whole[1].ID {
			t.Errorf("ListTenant one per page = %v, want [%s %s]", paged, whole[0].ID, whole[1].ID)
		}
	})
}

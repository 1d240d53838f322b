package notify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestDestinations: events are grouped by receiver origin (scheme and
// host, whatever the path), counted by state, busiest first, and events
// before since are left out.
func TestDestinations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		n := e.notifier(func(c *notify.Config) { c.MaxAttempts = 1 })
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
		defer down.Close()
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer up.Close()
		e.enqueue(n, event(down.URL+"/a", "ev_1"))
		e.enqueue(n, event(down.URL+"/b?x=1", "ev_2"))
		e.enqueue(n, event(up.URL+"/hook", "ev_3"))
		if _, err := n.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		e.enqueue(n, event(down.URL+"/c", "ev_4")) // pending
		got, err := notify.Destinations(ctx, db, e.clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := []notify.Destination{{Origin: down.URL, Pending: 1, Dead: 2}, {Origin: up.URL, Delivered: 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Destinations (-want +got):\n%s", diff)
		}
		if got, _ := notify.Destinations(ctx, db, e.clock.Now().Add(time.Hour)); len(got) != 0 {
			t.Errorf("Destinations(since the future) = %v, want none", got)
		}
	})
}

// TestProbe: a listening receiver is reachable; a closed port is not; a
// loopback receiver is refused outside development as deliveries are; an
// https receiver must present a certificate that verifies.
func TestProbe(t *testing.T) {
	ctx := context.Background()
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tlsUp := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsUp.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	if err := notify.Probe(ctx, up.URL, true); err != nil {
		t.Errorf("Probe(listening, development) = %v", err)
	}
	if err := notify.Probe(ctx, closed, true); err == nil {
		t.Errorf("Probe(closed port) = nil")
	}
	if err := notify.Probe(ctx, up.URL, false); err == nil {
		t.Errorf("Probe(http, production) = nil, want the URL refused")
	}
	if err := notify.Probe(ctx, "https://"+up.Listener.Addr().String(), false); !errors.Is(err, notify.ErrAddress) {
		t.Errorf("Probe(loopback, production) = %v, want ErrAddress", err)
	}
	if err := notify.Probe(ctx, tlsUp.URL, true); err == nil {
		t.Errorf("Probe(https with an untrusted certificate) = nil, want a TLS error")
	}
}

package notify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
	"github.com/madoguchi/madoguchi/vault"
	"github.com/madoguchi/madoguchi/vault/vaulttest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t      *testing.T
	db     *store.DB
	log    *audit.Log
	vault  *vault.Vault
	signer *notify.Signer
	clock  *clock
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	stack := vaulttest.New(t, db)
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, err := notify.NewSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, db: db, log: stack.Audit, vault: stack.Vault, signer: s, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}}
}

func (e *env) notifier(mut ...func(*notify.Config)) *notify.Notifier {
	e.t.Helper()
	c := notify.Config{DB: e.db, Audit: e.log, Vault: e.vault, Signer: e.signer, AllowInsecure: true, Now: e.clock.Now, MaxAttempts: 3}
	for _, m := range mut {
		m(&c)
	}
	n, err := notify.New(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) enqueue(n *notify.Notifier, ev notify.Event) string {
	e.t.Helper()
	var id string
	err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = n.Enqueue(context.Background(), tx, ev)
		return err
	})
	if err != nil {
		e.t.Fatalf("Enqueue = %v", err)
	}
	return id
}

func (e *env) auditActions(object string) []string {
	e.t.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT action FROM audit_entries WHERE object = ? ORDER BY idx`, object)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

// receiver records requests and verifies each with notify.Verify.
type receiver struct {
	mu     sync.Mutex
	keys   notify.KeySet
	now    func() time.Time
	fail   int // answer 503 to this many requests first
	calls  int
	ids    []string
	bodies []string
	errs   []error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls++
	if rc.calls <= rc.fail {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	if _, err := notify.Verify(r, b, rc.keys, notify.VerifyOptions{Now: rc.now()}); err != nil {
		rc.errs = append(rc.errs, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.ids = append(rc.ids, r.Header.Get("Webhook-Id"))
	rc.bodies = append(rc.bodies, string(b))
}

func event(url, id string) notify.Event {
	return notify.Event{ID: id, Kind: "test.webhook", Tenant: "tn_a", URL: url, ContentType: "application/json",
		Body: []byte(`{"hello":"` + id + `"}`), Subject: vault.SubjectRef{Tenant: "tn_a", Subject: "sub_" + id}}
}

// TestDeliveryRetriesDeadLetterReplay: a signed delivery, retries with
// backoff, a dead letter after MaxAttempts, staff replay, all audited; the
// receiver verifies every request with the published keys.
func TestDeliveryRetriesDeadLetterReplay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		n := e.notifier()
		keys, err := notify.ParseJWKS(n.JWKS())
		if err != nil {
			t.Fatal(err)
		}
		rc := &receiver{keys: keys, now: e.clock.Now, fail: 1}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		ctx := context.Background()

		// Delivered on the second attempt, after the backoff.
		id := e.enqueue(n, event(srv.URL+"/hook?x=1", "ev_one"))
		if k, err := n.DeliverDue(ctx); k != 0 || err != nil {
			t.Fatalf("DeliverDue #1 = %d, %v; want 0 (receiver down)", k, err)
		}
		if d, _ := n.Get(ctx, id); d.State != notify.StatePending || d.Attempts != 1 || d.LastStatus != 503 {
			t.Fatalf("after a 503: %+v", d)
		}
		if k, _ := n.DeliverDue(ctx); k != 0 || rc.calls != 1 {
			t.Fatalf("DeliverDue before the backoff = %d (calls %d), want nothing sent", k, rc.calls)
		}
		e.clock.Add(notify.Backoff(1, notify.DefaultBaseDelay, notify.DefaultMaxDelay, 1) + time.Second)
		if k, err := n.DeliverDue(ctx); k != 1 || err != nil {
			t.Fatalf("DeliverDue after the backoff = %d, %v; want 1 (%v)", k, err, rc.errs)
		}
		if len(rc.ids) != 1 || rc.ids[0] != id || rc.bodies[0] != `{"hello":"ev_one"}` {
			t.Fatalf("received %v %v", rc.ids, rc.bodies)
		}
		if d, _ := n.Get(ctx, id); d.State != notify.StateDelivered || d.Attempts != 2 {
			t.Errorf("after delivery: %+v", d)
		}
		if got := e.auditActions(id); !slices.Equal(got, []string{"test.webhook.queue", "test.webhook.delivered"}) {
			t.Errorf("audit = %v", got)
		}

		// A receiver that never answers 2xx: dead after MaxAttempts (3).
		rc.fail = 1 << 30
		dead := e.enqueue(n, event(srv.URL+"/hook", "ev_two"))
		for i := 0; i < 3; i++ {
			n.DeliverDue(ctx)
			e.clock.Add(2 * time.Minute)
		}
		d, _ := n.Get(ctx, dead)
		if d.State != notify.StateDead || d.Attempts != 3 || d.LastError != "status 503" {
			t.Fatalf("after 3 failures: %+v", d)
		}
		if l, _ := n.List(ctx, notify.StateDead, 10); len(l) != 1 || l[0].ID != dead {
			t.Errorf("List(dead) = %+v", l)
		}
		if err := n.Replay(ctx, notify.Actor{Kind: audit.ActorStaff, ID: "st_1"}, id); !errors.Is(err, notify.ErrNotDead) {
			t.Errorf("Replay(delivered) = %v, want ErrNotDead", err)
		}
		if err := n.Replay(ctx, notify.Actor{Kind: audit.ActorStaff, ID: "st_1"}, "ev_nope"); !errors.Is(err, notify.ErrNotFound) {
			t.Errorf("Replay(unknown) = %v, want ErrNotFound", err)
		}
		rc.fail = 0
		if err := n.Replay(ctx, notify.Actor{Kind: audit.ActorStaff, ID: "st_1"}, dead); err != nil {
			t.Fatal(err)
		}
		if k, err := n.DeliverDue(ctx); k != 1 || err != nil {
			t.Fatalf("DeliverDue after replay = %d, %v", k, err)
		}
		if got := e.auditActions(dead); !slices.Equal(got, []string{"test.webhook.queue", "test.webhook.dead", "test.webhook.replay", "test.webhook.delivered"}) {
			t.Errorf("audit = %v", got)
		}
		if len(rc.errs) != 0 {
			t.Errorf("receiver refused signatures: %v", rc.errs)
		}
		var m strings.Builder
		n.WriteMetrics(&m)
		if !strings.Contains(m.String(), `madoguchi_notify_delivery_seconds_count{kind="test.webhook"} 2`) ||
			!strings.Contains(m.String(), `madoguchi_notify_failed_attempts_total{kind="test.webhook"} 4`) {
			t.Errorf("metrics:\n%s", m.String())
		}
	})
}

// TestSeveralInstancesDeliverOnce: three notifiers (instances) on one
// database deliver 60 events concurrently; the receiver sees each once.
func TestSeveralInstancesDeliverOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var mu sync.Mutex
		seen := map[string]int{}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			seen[r.Header.Get("Webhook-Id")]++
			mu.Unlock()
		}))
		defer srv.Close()
		var ns []*notify.Notifier
		for i := 0; i < 3; i++ {
			ns = append(ns, e.notifier(func(c *notify.Config) { c.Batch = 7; c.Instance = fmt.Sprintf("in_%d", i) }))
		}
		const events = 60
		for i := 0; i < events; i++ {
			e.enqueue(ns[0], event(srv.URL, fmt.Sprintf("ev_%03d", i)))
		}
		var wg sync.WaitGroup
		for _, n := range ns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := 0; round < 40; round++ {
					if _, err := n.DeliverDue(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if len(seen) != events {
			t.Fatalf("receiver saw %d distinct events, want %d", len(seen), events)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("event %s delivered %d times, want once", id, c)
			}
		}
	})
}

// TestShreddedEventIsDead: shredding the subject makes the event
// undeliverable; nothing is sent.
func TestShreddedEventIsDead(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	n := e.notifier()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ }))
	defer srv.Close()
	ev := event(srv.URL, "ev_shred")
	id := e.enqueue(n, ev)
	ctx := context.Background()
	if err := e.db.InTx(ctx, func(tx *store.Tx) error {
		return e.vault.Shred(ctx, tx, ev.Subject, vault.Actor{Kind: audit.ActorSystem})
	}); err != nil {
		t.Fatal(err)
	}
	n.DeliverDue(ctx)
	if d, _ := n.Get(ctx, id); d.State != notify.StateDead || d.LastError != "shredded" || calls != 0 {
		t.Errorf("after shredding: %+v, receiver calls %d", d, calls)
	}
}

func TestEnqueueRefusals(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	strict := e.notifier(func(c *notify.Config) { c.AllowInsecure = false })
	ok := event("https://receiver.example/hook", "ev_ok")
	tests := []struct {
		name string
		mut  func(*notify.Event)
	}{
		{"http URL", func(ev *notify.Event) { ev.URL = "http://receiver.example/hook" }},
		{"credentials", func(ev *notify.Event) { ev.URL = "https://u:p@receiver.example/hook" }},
		{"fragment", func(ev *notify.Event) { ev.URL = "https://receiver.example/hook#x" }},
		{"relative", func(ev *notify.Event) { ev.URL = "/hook" }},
		{"long URL", func(ev *notify.Event) { ev.URL = "https://receiver.example/" + strings.Repeat("a", notify.MaxURL) }},
		{"bad id", func(ev *notify.Event) { ev.ID = "ev one" }},
		{"bad kind", func(ev *notify.Event) { ev.Kind = "Webhook" }},
		{"no content type", func(ev *notify.Event) { ev.ContentType = "" }},
		{"header injection", func(ev *notify.Event) { ev.ContentType = "text/plain\r\nX-Evil: 1" }},
		{"big body", func(ev *notify.Event) { ev.Body = make([]byte, notify.MaxBody+1) }},
		{"no subject", func(ev *notify.Event) { ev.Subject = vault.SubjectRef{} }},
	}
	for _, tt := range tests {
		ev := ok
		tt.mut(&ev)
		err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
			_, err := strict.Enqueue(context.Background(), tx, ev)
			return err
		})
		if !errors.Is(err, notify.ErrInvalidEvent) {
			t.Errorf("Enqueue(%s) = %v, want ErrInvalidEvent", tt.name, err)
		}
	}
	if l, _ := strict.List(context.Background(), "", 10); len(l) != 0 {
		t.Errorf("refused events were stored: %+v", l)
	}
	// The same id twice is a conflict; the first stays.
	e.enqueue(strict, ok)
	err := e.db.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := strict.Enqueue(context.Background(), tx, ok)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Enqueue(duplicate id) = %v, want store.ErrConflict", err)
	}
}

// TestPrivateAddressRefused: outside development a receiver on a
// non-public address is never contacted, whatever URL was registered.
func TestPrivateAddressRefused(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	calls := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { calls++ }))
	defer srv.Close()
	n := e.notifier(func(c *notify.Config) { c.AllowInsecure = false })
	id := e.enqueue(n, event(srv.URL+"/hook", "ev_private"))
	if k, err := n.DeliverDue(context.Background()); k != 0 || err != nil || calls != 0 {
		t.Fatalf("DeliverDue to 127.0.0.1 = %d, %v, calls %d", k, err, calls)
	}
	if d, _ := n.Get(context.Background(), id); d.LastError != "address not public" {
		t.Errorf("last error = %q, want address not public", d.LastError)
	}
}

func TestPublicOnly(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"203.0.113.7:443", true}, {"[2001:db8::1]:443", true}, {"8.8.8.8:443", true},
		{"127.0.0.1:443", false}, {"10.1.2.3:443", false}, {"192.168.0.1:443", false}, {"172.16.0.1:443", false},
		{"169.254.169.254:80", false}, {"100.64.0.1:443", false}, {"[::1]:443", false}, {"[fd00::1]:443", false},
		{"[fe80::1]:443", false}, {"0.0.0.0:443", false}, {"[::ffff:127.0.0.1]:443", false}, {"224.0.0.1:443", false},
	} {
		err := notify.PublicOnly("tcp", tc.addr, nil)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, notify.ErrAddress)) {
			t.Errorf("PublicOnly(%s) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {10, time.Hour}, {15, time.Hour}} {
		if got := notify.Backoff(tc.n, notify.DefaultBaseDelay, notify.DefaultMaxDelay, 0); got != tc.want {
			t.Errorf("Backoff(%d, 0) = %v, want %v", tc.n, got, tc.want)
		}
	}
	if got := notify.Backoff(1, notify.DefaultBaseDelay, notify.DefaultMaxDelay, 1); got != 12*time.Second {
		t.Errorf("Backoff(1, jitter 1) = %v, want 12s", got)
	}
}

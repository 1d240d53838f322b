package revoke

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/internal/cutproxy"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// testBound is the bound the tests use; waits allow it plus slack for a
// loaded machine, never asserting a timing tighter than the documented
// bound.
const testBound = time.Second

func startWatcher(t *testing.T, db *store.DB, cfg Config) *Watcher {
	t.Helper()
	if cfg.Bound == 0 {
		cfg.Bound = testBound
	}
	w, err := NewWatcher(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the watcher's first epoch check", 5*time.Second, w.Fresh)
	if db.Dialect() == store.Postgres {
		waitFor(t, "the watcher listening", 5*time.Second, w.listening.Load)
	}
	return w
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// counter is a loader that counts its calls.
type counter struct {
	n    atomic.Int64
	exp  time.Time
	tags []string
	err  error
}

func (c *counter) load(ctx context.Context) (string, Entry, error) {
	n := c.n.Add(1)
	return fmt.Sprint("value ", n), Entry{Expires: c.exp, Tags: c.tags}, c.err
}

// cached reports whether Get answers key from the cache (the loader is not
// called).
func cached(c *Cache[string, string], key string, l *counter) bool {
	before := l.n.Load()
	_, _ = c.Get(context.Background(), key, l.load)
	return l.n.Load() == before
}

func publish(t *testing.T, db *store.DB, tags ...string) {
	t.Helper()
	if err := db.InTx(context.Background(), func(tx *store.Tx) error { return Publish(context.Background(), tx, tags...) }); err != nil {
		t.Fatalf("Publish(%v) = %v", tags, err)
	}
}

func TestCacheServesUntilRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := startWatcher(t, db, Config{})
		c := NewCache[string, string](w, 0)
		a := &counter{exp: time.Now().Add(time.Hour), tags: []string{"client:a", "token:1"}}
		b := &counter{exp: time.Now().Add(time.Hour), tags: []string{"client:b"}}
		if cached(c, "a", a) {
			t.Fatal("first Get served from an empty cache")
		}
		cached(c, "b", b)
		for i := range 3 {
			if !cached(c, "a", a) {
				t.Fatalf("Get #%d called the loader again: the cache does not serve", i+2)
			}
		}
		publish(t, db, "token:1")
		d := waitFor(t, "revoked entry dropped", testBound+time.Second, func() bool { return !cached(c, "a", a) })
		t.Logf("revocation reached the cache after %v", d)
		if db.Dialect() == store.Postgres {
			// Notifications are granular: the other client's entry stays.
			if !cached(c, "b", b) {
				t.Error("an unrelated entry was dropped although the notification named its tags")
			}
		}
		// A rolled-back revocation revokes nothing.
		cached(c, "a", a)
		err := db.InTx(context.Background(), func(tx *store.Tx) error {
			if err := Publish(context.Background(), tx, "client:a"); err != nil {
				return err
			}
			return errors.New("roll back")
		})
		if err == nil {
			t.Fatal("InTx did not fail")
		}
		time.Sleep(testBound / 2)
		if st := w.Stats(); db.Dialect() == store.Postgres && !cached(c, "a", a) {
			t.Errorf("a rolled-back Publish dropped the entry (stats %+v)", st)
		}
	})
}

func TestTriggersPublish(t *testing.T) {
	// What revokes access today is published by the tables' triggers,
	// whoever writes it.
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := startWatcher(t, db, Config{})
		c := NewCache[string, string](w, 0)
		now := time.Now()
		exec := func(t *testing.T, q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(t, `INSERT INTO tenants (id, name, status, created_at) VALUES ('tn_1', 'one', 'active', 0)`)
		exec(t, `INSERT INTO api_clients (id, tenant_id, name, auth_method, scopes, status, created_at) VALUES ('cl_1', 'tn_1', 'c', 'private_key_jwt', 's', 'active', 0)`)
		exec(t, `INSERT INTO access_tokens (token_hash, tenant_id, client_id, scopes, issued_at, expires_at) VALUES (?, 'tn_1', 'cl_1', 's', 0, ?)`,
			[]byte{1, 2}, store.Micros(now.Add(time.Hour)))
		exec(t, `INSERT INTO access_tokens (token_hash, tenant_id, client_id, scopes, issued_at, expires_at) VALUES (?, 'tn_1', 'cl_1', 's', 0, ?)`,
			[]byte{3, 4}, store.Micros(now.Add(-time.Hour)))
		l := &counter{exp: now.Add(time.Hour), tags: []string{"token:0102", "client:cl_1", "tenant:tn_1"}}
		epoch := func() int64 {
			var e int64
			if err := db.QueryRow(ctx, `SELECT epoch FROM revocation_epoch WHERE id = 1`).Scan(&e); err != nil {
				t.Fatal(err)
			}
			return e
		}
		for _, tc := range []struct {
			name, q string
			args    []any
			revokes bool
		}{
			{"prune an expired token", `DELETE FROM access_tokens WHERE token_hash = ?`, []any{[]byte{3, 4}}, false},
			{"client renamed", `UPDATE api_clients SET name = 'd' WHERE id = 'cl_1'`, nil, false},
			{"token deleted", `DELETE FROM access_tokens WHERE token_hash = ?`, []any{[]byte{1, 2}}, true},
			{"client disabled", `UPDATE api_clients SET status = 'disabled' WHERE id = 'cl_1'`, nil, true},
			{"client enabled", `UPDATE api_clients SET status = 'active' WHERE id = 'cl_1'`, nil, true},
			{"tenant disabled", `UPDATE tenants SET status = 'disabled' WHERE id = 'tn_1'`, nil, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cached(c, "k", l)
				waitFor(t, "entry cached", 5*time.Second, func() bool { return cached(c, "k", l) })
				before := epoch()
				exec(t, tc.q, tc.args...)
				if got := epoch() > before; got != tc.revokes {
					t.Fatalf("%s: epoch moved = %v, want %v", tc.q, got, tc.revokes)
				}
				if tc.revokes {
					waitFor(t, "entry dropped", testBound+time.Second, func() bool { return !cached(c, "k", l) })
				}
			})
		}
	})
}

func TestFillRacingRevocationIsDiscarded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := startWatcher(t, db, Config{})
		c := NewCache[string, string](w, 0)
		entered, release := make(chan struct{}), make(chan struct{})
		// The loader read the store before the revocation committed and
		// returns after it was applied: its value must not be cached.
		slow := func(ctx context.Context) (string, Entry, error) {
			close(entered)
			<-release
			return "stale", Entry{Expires: time.Now().Add(time.Hour), Tags: []string{"client:x"}}, nil
		}
		done := make(chan error)
		go func() { _, err := c.Get(context.Background(), "k", slow); done <- err }()
		<-entered
		before := w.Stats()
		publish(t, db, "client:x")
		waitFor(t, "revocation applied", testBound+time.Second, func() bool {
			st := w.Stats()
			return st.Notifications+st.Flushes > before.Notifications+before.Flushes
		})
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		l := &counter{exp: time.Now().Add(time.Hour)}
		if cached(c, "k", l) {
			t.Error("a value loaded across a revocation was cached")
		}
	})
}

func TestNotFreshNotServed(t *testing.T) {
	db := storetest.SQLite(t)
	w, err := NewWatcher(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache[string, string](w, 0)
	l := &counter{exp: time.Now().Add(time.Hour)}
	for range 3 {
		if cached(c, "k", l) {
			t.Fatal("a cache whose watcher never ran served an entry")
		}
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d, want 0: nothing may be filled while not fresh", c.Len())
	}
	// Stopping the watcher stops the cache at once.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	waitFor(t, "fresh", 5*time.Second, w.Fresh)
	cached(c, "k", l)
	if !cached(c, "k", l) {
		t.Fatal("not served while fresh")
	}
	cancel()
	<-done
	if cached(c, "k", l) {
		t.Error("served after the watcher stopped")
	}
}

func TestEntryNeverOutlivesExpiry(t *testing.T) {
	db := storetest.SQLite(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	w := startWatcher(t, db, Config{Bound: time.Minute, Now: clock})
	c := NewCache[string, string](w, 0)
	l := &counter{exp: clock().Add(100 * time.Millisecond)}
	cached(c, "k", l)
	if !cached(c, "k", l) {
		t.Fatal("not served before expiry")
	}
	advance(99 * time.Millisecond)
	if !cached(c, "k", l) {
		t.Fatal("not served just before expiry")
	}
	advance(time.Millisecond)
	if !w.Fresh() {
		t.Fatal("the watcher went stale: this test would prove nothing")
	}
	if cached(c, "k", l) {
		t.Error("served at its expiry")
	}
	// A loader answering an already expired entry is not cached.
	l2 := &counter{exp: clock()}
	cached(c, "old", l2)
	if cached(c, "old", l2) {
		t.Error("an entry expiring now was cached")
	}
	// Loader errors are not cached.
	l3 := &counter{exp: clock().Add(time.Hour), err: errors.New("store down")}
	if _, err := c.Get(context.Background(), "err", l3.load); err == nil {
		t.Error("Get did not return the loader's error")
	}
	if cached(c, "err", l3) {
		t.Error("a loader error was cached")
	}
}

func TestCacheBounded(t *testing.T) {
	db := storetest.SQLite(t)
	w := startWatcher(t, db, Config{})
	const max = 100
	c := NewCache[int, string](w, max)
	for i := range 10 * max {
		_, _ = c.Get(context.Background(), i, func(context.Context) (string, Entry, error) {
			return "v", Entry{Expires: time.Now().Add(time.Hour)}, nil
		})
		if n := c.Len(); n > max {
			t.Fatalf("after %d inserts Len = %d, over the limit %d", i+1, n, max)
		}
	}
	if n := c.Len(); n < max/2 {
		t.Errorf("Len = %d: eviction dropped far more than needed", n)
	}
	// Badly tagged entries are refused, not cached.
	for _, tag := range []string{"", "has space", "*", string(make([]byte, MaxTagLen+1))} {
		_, err := c.Get(context.Background(), -1, func(context.Context) (string, Entry, error) {
			return "v", Entry{Expires: time.Now().Add(time.Hour), Tags: []string{tag}}, nil
		})
		if !errors.Is(err, ErrBadTag) {
			t.Errorf("Get with tag %q = %v, want ErrBadTag", tag, err)
		}
	}
}

func TestPublishRefusesBadTags(t *testing.T) {
	db := storetest.SQLite(t)
	for _, tags := range [][]string{nil, {""}, {"a b"}, {"ok", "tab\t"}} {
		err := db.InTx(context.Background(), func(tx *store.Tx) error { return Publish(context.Background(), tx, tags...) })
		if !errors.Is(err, ErrBadTag) {
			t.Errorf("Publish(%q) = %v, want ErrBadTag", tags, err)
		}
	}
}

func TestParseNotification(t *testing.T) {
	for _, tc := range []struct {
		in    string
		epoch int64
		tags  int
		ok    bool
	}{
		{"1 client:a", 1, 1, true},
		{"42 token:ab client:c tenant:t", 42, 3, true},
		{"7 *", 7, 1, true},
		{"", 0, 0, false},
		{"1", 0, 0, false},
		{"1 ", 0, 0, false},
		{"0 client:a", 0, 0, false},
		{"-1 client:a", 0, 0, false},
		{"+1 client:a", 0, 0, false},
		{"x client:a", 0, 0, false},
		{"1 a  b", 0, 0, false},
		{"99999999999999999999 a", 0, 0, false},
		{"1 caf\u00e9", 0, 0, false},
	} {
		epoch, tags, ok := parseNotification(tc.in)
		if ok != tc.ok || epoch != tc.epoch || len(tags) != tc.tags {
			t.Errorf("parseNotification(%q) = %d, %d tags, %v; want %d, %d, %v", tc.in, epoch, len(tags), ok, tc.epoch, tc.tags, tc.ok)
		}
	}
}

func FuzzParseNotification(f *testing.F) {
	for _, s := range []string{"1 client:a", "42 token:ab client:c", "7 *", "", "0 a", "1  a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		epoch, tags, ok := parseNotification(s)
		if !ok {
			return
		}
		if epoch <= 0 || len(tags) == 0 {
			t.Fatalf("parseNotification(%q) accepted epoch %d with %d tags", s, epoch, len(tags))
		}
		for tag := range tags {
			if !validTag(tag) {
				t.Fatalf("parseNotification(%q) accepted tag %q", s, tag)
			}
		}
	})
}

// TestTwoInstancesPostgres: two watchers on one PostgreSQL schema (two
// instances), a third on another schema. A revocation on A reaches B within
// the bound; the other schema never hears of it; B's connection to
// PostgreSQL is cut and restored and the guarantee holds throughout.
func TestTwoInstancesPostgres(t *testing.T) {
	dsn := storetest.PostgresURL(t)
	ctx := context.Background()
	dbA, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer dbA.Close()
	if _, err := dbA.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// B reaches PostgreSQL through a proxy the test can cut.
	u, _ := url.Parse(dsn)
	px, err := cutproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(px.Close)
	u.Host = px.Addr()
	dbB, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	other := storetest.Postgres(t)

	wa := startWatcher(t, dbA, Config{})
	wb := startWatcher(t, dbB, Config{})
	wo := startWatcher(t, other, Config{})
	ca := NewCache[string, string](wa, 0)
	cb := NewCache[string, string](wb, 0)
	co := NewCache[string, string](wo, 0)
	waitFor(t, "B listening", 5*time.Second, wb.listening.Load)
	waitFor(t, "other listening", 5*time.Second, wo.listening.Load)

	exp := time.Now().Add(time.Hour)
	la := &counter{exp: exp, tags: []string{"client:1"}}
	lb := &counter{exp: exp, tags: []string{"client:1"}}
	lb2 := &counter{exp: exp, tags: []string{"client:2"}}
	lo := &counter{exp: exp, tags: []string{"client:1"}}
	for _, f := range []func() bool{
		func() bool { return cached(ca, "k", la) }, func() bool { return cached(cb, "k", lb) },
		func() bool { return cached(cb, "k2", lb2) }, func() bool { return cached(co, "k", lo) },
	} {
		f()
		waitFor(t, "cached", 5*time.Second, f)
	}

	t.Run("revoke on A, B refuses within the bound", func(t *testing.T) {
		flushes := wb.Stats().Flushes
		publish(t, dbA, "client:1")
		d := waitFor(t, "B dropped the revoked entry", testBound, func() bool { return !cached(cb, "k", lb) })
		t.Logf("A → B in %v", d)
		waitFor(t, "A dropped it too", testBound, func() bool { return !cached(ca, "k", la) })
		if !cached(cb, "k2", lb2) || wb.Stats().Flushes != flushes {
			t.Errorf("B dropped more than the revoked tag (stats %+v)", wb.Stats())
		}
		if !cached(co, "k", lo) || wo.Stats().Notifications != 0 {
			t.Errorf("another schema's watcher heard the revocation (stats %+v)", wo.Stats())
		}
	})

	t.Run("connection dropped and restored", func(t *testing.T) {
		waitFor(t, "cached", 5*time.Second, func() bool { return cached(cb, "k", lb) })
		listens := wb.Stats().Listens
		px.Cut()
		// Revoked while B cannot hear: B must stop serving its cached
		// entries within the bound (it cannot reach the store to check).
		publish(t, dbA, "client:1")
		waitFor(t, "B stops serving while cut off", testBound+time.Second, func() bool { return !cached(cb, "k", lb) })
		if cached(cb, "k2", lb2) {
			t.Error("B served an entry it could not vouch for")
		}
		px.Restore()
		waitFor(t, "B fresh again", 10*time.Second, wb.Fresh)
		waitFor(t, "B listening again", 15*time.Second, func() bool { return wb.listening.Load() && wb.Stats().Listens > listens })
		// The revocation made while B was away is applied.
		waitFor(t, "B caches again", 5*time.Second, func() bool { cached(cb, "k", lb); return cached(cb, "k", lb) })
		cached(cb, "k2", lb2)
		waitFor(t, "k2 cached", 5*time.Second, func() bool { return cached(cb, "k2", lb2) })
		flushes := wb.Stats().Flushes
		publish(t, dbA, "client:1")
		waitFor(t, "B hears A again", testBound, func() bool { return !cached(cb, "k", lb) })
		if !cached(cb, "k2", lb2) || wb.Stats().Flushes != flushes {
			t.Errorf("after reconnecting, B is not back on granular notifications (stats %+v)", wb.Stats())
		}
	})
}

// TestWatcherInvalidate: Invalidate drops the tagged entries at once on
// this instance, without waiting for a poll; a nil Watcher is a no-op.
func TestWatcherInvalidate(t *testing.T) {
	var nilW *Watcher
	nilW.Invalidate("client:x") // must not panic
	db := storetest.SQLite(t)
	w, err := NewWatcher(db, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	for !w.Fresh() {
		time.Sleep(time.Millisecond)
	}
	c := NewCache[string, int](w, 10)
	loads := 0
	load := func(ctx context.Context) (int, Entry, error) {
		loads++
		return loads, Entry{Expires: time.Now().Add(time.Hour), Tags: []string{"client:a"}}, nil
	}
	if v, _ := c.Get(ctx, "k", load); v != 1 {
		t.Fatalf("first Get = %d", v)
	}
	if v, _ := c.Get(ctx, "k", load); v != 1 {
		t.Fatalf("cached Get = %d, want the cached 1", v)
	}
	w.Invalidate("client:b")
	if v, _ := c.Get(ctx, "k", load); v != 1 {
		t.Errorf("after invalidating another tag = %d, want the cached 1", v)
	}
	w.Invalidate("client:a")
	if v, _ := c.Get(ctx, "k", load); v != 2 {
		t.Errorf("after Invalidate(client:a) = %d, want a reload (2)", v)
	}
}

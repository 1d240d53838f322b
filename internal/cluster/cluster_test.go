package cluster

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/internal/ratelimit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// The rate limiters divide by a Registry's count.
var _ ratelimit.Instances = (*Registry)(nil)

// each runs fn on SQLite and PostgreSQL with open, which opens another
// connection to one freshly migrated database (as another instance would).
func each(t *testing.T, fn func(t *testing.T, open func() *store.DB)) {
	t.Helper()
	opener := func(t *testing.T, dsn string) func() *store.DB {
		return func() *store.DB {
			t.Helper()
			db, err := store.Open(context.Background(), dsn)
			if err != nil {
				t.Fatalf("store.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(context.Background()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			return db
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		fn(t, opener(t, filepath.Join(t.TempDir(), "madoguchi.db")))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, opener(t, storetest.PostgresURL(t)))
	})
}

// pair is two instances on one database, on one fake clock.
type pair struct {
	t      *testing.T
	now    time.Time
	a, b   *Registry
	dbA    *store.DB
	ctx    context.Context
	expiry time.Duration
}

func (p *pair) clock() time.Time { return p.now }

func (p *pair) advance(d time.Duration) { p.now = p.now.Add(d) }

func (p *pair) beat(rs ...*Registry) {
	p.t.Helper()
	for _, r := range rs {
		if err := r.Beat(p.ctx); err != nil {
			p.t.Fatalf("Beat: %v", err)
		}
	}
}

func (p *pair) rows() int {
	p.t.Helper()
	var n int
	if err := p.dbA.QueryRow(p.ctx, `SELECT COUNT(*) FROM cluster_instances`).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// TestRegistry: two registries on one database count 2; a graceful leave
// or an expired heartbeat brings the count back to 1 (a row just within
// the expiry still counts); with the store unreachable a registry keeps
// its last count; before any heartbeat the count is 1.
func TestRegistry(t *testing.T) {
	const every = 5 * time.Second
	for _, tc := range []struct {
		name         string
		steps        func(p *pair)
		wantA, wantB int
		wantRows     int // -1: do not look
	}{
		{"before any heartbeat", func(p *pair) {}, 1, 1, 0},
		{"one instance", func(p *pair) { p.beat(p.a) }, 1, 1, 1},
		{"two instances see 2", func(p *pair) { p.beat(p.a, p.b, p.a) }, 2, 2, 2},
		{"a graceful leave", func(p *pair) {
			p.beat(p.a, p.b, p.a)
			if err := p.b.Leave(p.ctx); err != nil {
				p.t.Fatal(err)
			}
			p.beat(p.a)
		}, 1, 2, 1},
		{"a stale row expires", func(p *pair) {
			p.beat(p.a, p.b, p.a)
			p.advance(p.expiry + time.Millisecond) // b crashed: no leave
			p.beat(p.a)
		}, 1, 2, 1},
		{"a row within the expiry counts", func(p *pair) {
			p.beat(p.a, p.b)
			p.advance(p.expiry)
			p.beat(p.a)
		}, 2, 2, 2},
		{"a returning instance counts again", func(p *pair) {
			p.beat(p.a, p.b)
			p.advance(p.expiry + time.Second)
			p.beat(p.a) // b's row expires
			if p.a.Count() != 1 {
				p.t.Fatalf("a beside an expired row counts %d, want 1", p.a.Count())
			}
			p.beat(p.b, p.a)
		}, 2, 2, 2},
		{"store down keeps the last count", func(p *pair) {
			p.beat(p.a, p.b, p.a)
			p.dbA.Close()
			p.advance(p.expiry * 10)
			for range 3 {
				if err := p.a.Beat(p.ctx); err == nil {
					p.t.Fatal("Beat on a closed store succeeded")
				}
			}
			if p.a.Healthy() {
				p.t.Error("Healthy after a failed heartbeat")
			}
			if err := p.a.Leave(p.ctx); err == nil {
				p.t.Error("Leave on a closed store succeeded")
			}
		}, 2, 2, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			each(t, func(t *testing.T, open func() *store.DB) {
				p := &pair{t: t, now: time.Unix(1_800_000_000, 0), ctx: context.Background(), expiry: 3 * every, dbA: open()}
				var err error
				if p.a, err = New(p.dbA, Config{Every: every, Now: p.clock}); err != nil {
					t.Fatal(err)
				}
				if p.b, err = New(open(), Config{Every: every, Now: p.clock}); err != nil {
					t.Fatal(err)
				}
				if p.a.ID() == p.b.ID() {
					t.Fatal("two registries share an id")
				}
				tc.steps(p)
				if a, b := p.a.Count(), p.b.Count(); a != tc.wantA || b != tc.wantB {
					t.Errorf("Count() = %d (a), %d (b), want %d, %d", a, b, tc.wantA, tc.wantB)
				}
				if tc.wantRows >= 0 {
					if n := p.rows(); n != tc.wantRows {
						t.Errorf("rows in cluster_instances = %d, want %d", n, tc.wantRows)
					}
				}
			})
		})
	}
}

// TestRun: two running registries see each other; when one's context
// ends it deletes its row before Run returns, and the other then counts
// 1. A registry whose store is gone keeps counting 2.
func TestRun(t *testing.T) {
	each(t, func(t *testing.T, open func() *store.DB) {
		ctx := context.Background()
		cfg := Config{Every: 10 * time.Millisecond}
		dbA, dbB, dbC := open(), open(), open()
		a, err := New(dbA, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(dbB, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := New(dbC, cfg)
		if err != nil {
			t.Fatal(err)
		}
		run := func(r *Registry) (stop func()) {
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); r.Run(rctx) }()
			var once sync.Once
			stop = func() { once.Do(func() { cancel(); <-done }) }
			t.Cleanup(stop)
			return stop
		}
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("timed out waiting until %s", what)
				}
			}
		}
		stopA, stopB := run(a), run(b)
		waitFor("both count 2", func() bool { return a.Count() == 2 && b.Count() == 2 })
		stopB()
		var n int
		if err := dbA.QueryRow(ctx, `SELECT COUNT(*) FROM cluster_instances WHERE id = ?`, b.ID()).Scan(&n); err != nil || n != 0 {
			t.Fatalf("b's row after its Run returned: %d rows, %v; want none", n, err)
		}
		waitFor("a counts 1", func() bool { return a.Count() == 1 })
		stopA()

		// c beats once beside a's fresh row, then loses its store.
		if err := a.Beat(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Beat(ctx); err != nil || c.Count() != 2 {
			t.Fatalf("c: Beat = %v, Count %d; want nil, 2", err, c.Count())
		}
		dbC.Close()
		run(c)
		waitFor("c's heartbeat fails", func() bool { return !c.Healthy() })
		time.Sleep(5 * cfg.Every) // more failed heartbeats
		if c.Count() != 2 || c.Healthy() {
			t.Errorf("c with its store gone: Count %d, Healthy %v; want 2, false", c.Count(), c.Healthy())
		}
	})
}

// TestNew refuses what would make the count meaningless.
func TestNew(t *testing.T) {
	db := storetest.SQLite(t)
	for _, tc := range []struct {
		name string
		db   *store.DB
		cfg  Config
		ok   bool
	}{
		{"defaults", db, Config{}, true},
		{"no store", nil, Config{}, false},
		{"negative period", db, Config{Every: -time.Second}, false},
		{"expiry equal to the period", db, Config{Every: time.Second, Expiry: time.Second}, false},
		{"expiry shorter than the period", db, Config{Every: time.Second, Expiry: time.Millisecond}, false},
		{"expiry of two periods", db, Config{Every: time.Second, Expiry: 2 * time.Second}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.db, tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New(%+v) error = %v, want ok %v", tc.cfg, err, tc.ok)
			}
			if err == nil && (r.Count() != 1 || r.every <= 0 || r.expiry <= r.every) {
				t.Errorf("New(%+v): count %d, every %v, expiry %v", tc.cfg, r.Count(), r.every, r.expiry)
			}
		})
	}
}

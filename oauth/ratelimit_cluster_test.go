package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/internal/cluster"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestRateLimitsAcrossInstances: two authorization servers on one
// PostgreSQL database, each on its own connection with its own instance
// registry, as two `madoguchi serve` processes behind a load balancer. A
// client at 1 request/s (bursts of 2) sending PAR requests alternately to
// both gets the deployment's burst and rate, not twice them; each instance
// alone (no registry) gave it twice. When one instance leaves, the other
// takes over the whole rate, crediting the time before it learnt so at
// the old share.
func TestRateLimitsAcrossInstances(t *testing.T) {
	type phase struct {
		advance time.Duration // the servers' clock moves on first
		leave   bool          // instance B leaves and A beats first
		sendA   int           // requests to A
		sendB   int           // then to B (alternating while both remain)
		want    int           // allowed in all
	}
	for _, tc := range []struct {
		name       string
		registries bool
		phases     []phase
	}{
		{"each instance alone", false, []phase{
			{0, false, 3, 3, 4},               // 2 × the burst
			{4 * time.Second, false, 3, 3, 4}, // the buckets are full again: 2 × the burst
			{time.Second, false, 2, 2, 2},     // 2 × the rate
		}},
		{"two registered instances", true, []phase{
			{0, false, 3, 3, 2},               // the burst
			{4 * time.Second, false, 3, 3, 2}, // full again at half the burst each
			{2 * time.Second, false, 2, 2, 2}, // the rate: one a second
			// B leaves: A counts 1 but credits the 2 s before at 0.5/s.
			{2 * time.Second, true, 3, 0, 1},
			{2 * time.Second, false, 3, 0, 2}, // A alone: the burst and rate whole
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.PostgresURL(t)
			open := func() *store.DB {
				db, err := store.Open(ctx, dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			}
			dbA := open()
			if _, err := dbA.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			dbB := open()
			var regA, regB *cluster.Registry
			if tc.registries {
				var err error
				if regA, err = cluster.New(dbA, cluster.Config{}); err != nil {
					t.Fatal(err)
				}
				if regB, err = cluster.New(dbB, cluster.Config{}); err != nil {
					t.Fatal(err)
				}
				for _, r := range []*cluster.Registry{regA, regB, regA} {
					if err := r.Beat(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if regA.Count() != 2 || regB.Count() != 2 {
					t.Fatalf("live instances: A counts %d, B %d; want 2", regA.Count(), regB.Count())
				}
			}
			e := newEnv(t, dbA, func(c *Config) {
				if regA != nil {
					c.Instances = regA
				}
			})
			cfgB := e.srv.cfg
			cfgB.DB, cfgB.Instances = dbB, nil
			if regB != nil {
				cfgB.Instances = regB
			}
			b, err := New(cfgB)
			if err != nil {
				t.Fatal(err)
			}
			muxB := http.NewServeMux()
			for p, h := range b.Routes() {
				muxB.Handle(p, h)
			}

			c := e.partner(e.tenant)
			if _, err := dbA.Exec(ctx, `UPDATE oauth_clients SET rate_client = 1 WHERE client_id = ?`, c.id); err != nil {
				t.Fatal(err)
			}
			parA := func() int { return e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil).status }
			parB := func() int {
				req := httptest.NewRequest("POST", e.base+PathPAR, strings.NewReader(merge(e.clientAuth(c), parParams(testVerifier)).Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				rec := httptest.NewRecorder()
				muxB.ServeHTTP(rec, req)
				return rec.Code
			}
			for i, p := range tc.phases {
				e.clock.advance(p.advance)
				if p.leave {
					if err := regB.Leave(ctx); err != nil {
						t.Fatal(err)
					}
					if err := regA.Beat(ctx); err != nil || regA.Count() != 1 {
						t.Fatalf("A after B left: Beat = %v, Count %d; want nil, 1", err, regA.Count())
					}
				}
				allowed := 0
				for j := range max(p.sendA, p.sendB) {
					for _, send := range []struct {
						n  int
						do func() int
					}{{p.sendA, parA}, {p.sendB, parB}} {
						if j >= send.n {
							continue
						}
						switch st := send.do(); st {
						case http.StatusCreated:
							allowed++
						case http.StatusTooManyRequests:
						default:
							t.Fatalf("phase %d: PAR = %d, want 201 or 429", i, st)
						}
					}
				}
				if allowed != p.want {
					t.Errorf("phase %d (%v later, %d to A and %d to B): %d allowed, want %d", i, p.advance, p.sendA, p.sendB, allowed, p.want)
				}
			}
		})
	}
}

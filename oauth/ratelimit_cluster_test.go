package oauth

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/internal/cluster"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestRateLimitsAcrossInstances: two authorization servers on one
// PostgreSQL database behind a round-robin balancer, each with its own
// instance registry, as two `madoguchi serve` processes. A client at 1
// request/s (bursts of 2) sending PAR requests through the balancer gets
// the deployment's burst and rate, not twice them; each instance alone (no
// registry) gave it twice. When one instance leaves, the other takes over
// the whole rate, crediting the time before it learnt so at the old share.
func TestRateLimitsAcrossInstances(t *testing.T) {
	type phase struct {
		advance time.Duration // the servers' clock moves on first
		leave   bool          // then B leaves: A beats and serves alone
		send    int           // PAR requests through the balancer
		want    int           // allowed
	}
	for _, tc := range []struct {
		name       string
		registries bool
		phases     []phase
	}{
		{"each instance alone", false, []phase{
			{0, false, 6, 4},               // 2 × the burst
			{4 * time.Second, false, 6, 4}, // full again: 2 × the burst
			{time.Second, false, 4, 2},     // 2 × the rate
		}},
		{"two registered instances", true, []phase{
			{0, false, 6, 2},               // the burst
			{4 * time.Second, false, 6, 2}, // full again at half the burst each
			{2 * time.Second, false, 4, 2}, // the rate: one a second
			// A counts 1, but credits the 2 s before at 0.5/s.
			{2 * time.Second, true, 3, 1},
			{2 * time.Second, false, 3, 2}, // A alone: the burst and rate whole
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := storetest.PostgresURL(t)
			dbA, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { dbA.Close() })
			if _, err := dbA.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			register := func(db *store.DB) *cluster.Registry {
				r, err := cluster.New(db, cluster.Config{})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			var regA, regB *cluster.Registry
			e := newEnv(t, dbA, func(c *Config) {
				if tc.registries {
					regA = register(dbA)
					c.Instances = regA
				}
			})
			b := e.secondInstance(t, dsn, func(c *Config) {
				c.Instances = nil
				if tc.registries {
					regB = register(c.DB)
					c.Instances = regB
				}
			})
			if tc.registries {
				for _, r := range []*cluster.Registry{regA, regB, regA} {
					if err := r.Beat(ctx); err != nil {
						t.Fatal(err)
					}
				}
				if regA.Count() != 2 || regB.Count() != 2 {
					t.Fatalf("live instances: A counts %d, B %d; want 2", regA.Count(), regB.Count())
				}
			}
			e.balance(e.srv, b.srv)
			c := e.partner(e.tenant)
			if _, err := dbA.Exec(ctx, `UPDATE oauth_clients SET rate_client = 1 WHERE client_id = ?`, c.id); err != nil {
				t.Fatal(err)
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
					e.balance(e.srv)
				}
				allowed := 0
				for range p.send {
					switch r := e.post(PathPAR, merge(e.clientAuth(c), parParams(testVerifier)), nil); r.status {
					case http.StatusCreated:
						allowed++
					case http.StatusTooManyRequests:
					default:
						t.Fatalf("phase %d: PAR = %d %s, want 201 or 429", i, r.status, r.raw)
					}
				}
				if allowed != p.want {
					t.Errorf("phase %d (%v later, %d requests): %d allowed, want %d", i, p.advance, p.send, allowed, p.want)
				}
			}
		})
	}
}

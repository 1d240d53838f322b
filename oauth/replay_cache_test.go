package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestLocalJTIs: a jti is refused again for at least the retention (the
// proof's iat window and its nonce's two windows) and forgotten within a
// quarter more; a full cache refuses new proofs (never accepts them
// unchecked) until a generation expires.
func TestLocalJTIs(t *testing.T) {
	k := func(s string) uint64 { d := sha256.Sum256([]byte(s)); return binary.BigEndian.Uint64(d[:]) }
	const start = 1_800_000_000                        // any unix time
	for _, at := range []int64{0, jtiGenSeconds - 1} { // first and last second of a generation
		t.Run(fmt.Sprintf("accepted at +%ds", at), func(t *testing.T) {
			var c localJTIs
			t0 := start - start%jtiGenSeconds + at
			if ok, err := c.spend(k("a"), t0); !ok || err != nil {
				t.Fatalf("first spend = %v, %v", ok, err)
			}
			for _, d := range []int64{0, 1, jtiRetention - 1, jtiRetention} {
				if ok, _ := c.spend(k("a"), t0+d); ok {
					t.Errorf("spend again after %ds accepted, want refused for the %ds retention", d, jtiRetention)
				}
			}
			if ok, _ := c.spend(k("a"), t0+jtiRetention*5/4+jtiGenSeconds); !ok {
				t.Errorf("spend after %ds refused, want forgotten", jtiRetention*5/4+jtiGenSeconds)
			}
		})
	}
	t.Run("full", func(t *testing.T) {
		c := localJTIs{max: 3}
		for i := range 3 {
			if ok, err := c.spend(k(fmt.Sprint(i)), start); !ok || err != nil {
				t.Fatalf("spend %d = %v, %v", i, ok, err)
			}
		}
		if ok, err := c.spend(k("x"), start); ok || err == nil {
			t.Fatalf("spend into a full cache = %v, %v; want an error", ok, err)
		}
		if ok, _ := c.spend(k("0"), start+1); ok {
			t.Error("a remembered jti accepted while the cache is full")
		}
		later := start + jtiGenSeconds*jtiGenerations + 1
		if ok, err := c.spend(k("x"), later); !ok || err != nil || c.count != 1 {
			t.Errorf("spend after expiry = %v, %v (count %d); want room again", ok, err, c.count)
		}
	})
}

// BenchmarkLocalJTIs: one spend into a cache holding a million entries.
func BenchmarkLocalJTIs(b *testing.B) {
	var c localJTIs
	const now = 1_800_000_000
	for range 1 << 20 {
		c.spend(rand.Uint64(), now)
	}
	c.max = 1 << 30
	keys := make([]uint64, b.N)
	for i := range keys {
		keys[i] = rand.Uint64()
	}
	b.ResetTimer()
	for i := range b.N {
		c.spend(keys[i], now+int64(i/100000))
	}
}

// TestFullReplayCache: with the in-memory replay cache full, SQLite (where
// it is the replay cache) refuses new proofs with 503 and accepts none
// unchecked; PostgreSQL goes on accepting fresh proofs and refusing
// replays through the store every instance shares.
func TestFullReplayCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		c := e.partner(e.tenant)
		if _, err := db.Exec(context.Background(), `UPDATE oauth_clients SET rate_customer = ? WHERE client_id = ?`, 1<<30, c.id); err != nil {
			t.Fatal(err)
		}
		dk := newDPoPKey(t)
		at := e.tokens(c, dk)["access_token"].(string)
		e.srv.dpopJTIs.mu.Lock()
		e.srv.dpopJTIs.max = e.srv.dpopJTIs.count // full from here on
		e.srv.dpopJTIs.mu.Unlock()
		get := func(proof string) int {
			req, _ := http.NewRequest("GET", e.base+"/resource", nil)
			req.Header.Set("Authorization", "DPoP "+at)
			req.Header.Set("DPoP", proof)
			return e.do(req).status
		}
		p := e.proof(dk, "GET", e.base+"/resource", at, nil)
		first, again := get(p), get(p)
		want := [2]int{http.StatusServiceUnavailable, http.StatusServiceUnavailable}
		if db.Dialect() == store.Postgres {
			want = [2]int{http.StatusOK, http.StatusUnauthorized}
		}
		if [2]int{first, again} != want {
			t.Fatalf("full cache: fresh proof %d, the same again %d; want %v", first, again, want)
		}
		if fresh := get(e.proof(dk, "GET", e.base+"/resource", at, nil)); fresh != want[0] {
			t.Fatalf("full cache: another fresh proof %d, want %d", fresh, want[0])
		}
	})
}

// BenchmarkSharedSpend: spends into the shared replay cache on
// PostgreSQL. durable is one insert per spend with a durable commit
// (client assertions, request objects: spendShared); group is the DPoP
// proofs' batcher (its commit does not wait for the disk). Serially each
// group holds one spend; with 16 goroutines the spends that arrive while
// an insert is in flight share the next.
func BenchmarkSharedSpend(b *testing.B) {
	db := storetest.Postgres(b)
	s := &Server{cfg: Config{DB: db}}
	g := newSpendBatcher(db)
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	for _, tc := range []struct {
		name  string
		par   int
		spend func(k [32]byte) error
	}{
		{"durable", 1, func(k [32]byte) error { return s.spendShared(ctx, "bench", string(k[:]), exp) }},
		{"group", 1, func(k [32]byte) error { return g.spend(ctx, k, exp) }},
		{"durable-16", 16, func(k [32]byte) error { return s.spendShared(ctx, "bench", string(k[:]), exp) }},
		{"group-16", 16, func(k [32]byte) error { return g.spend(ctx, k, exp) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(tc.par)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var k [32]byte
					binary.BigEndian.PutUint64(k[:], rand.Uint64())
					binary.BigEndian.PutUint64(k[8:], rand.Uint64())
					if err := tc.spend(k); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

// TestSpendBatcher: on PostgreSQL, many goroutines spending keys at once,
// each key by several: every key is spent exactly once across groups and
// within one; a key spent before is a replay; a caller that gives up
// neither blocks the others nor loses a spend's answer; a store that
// fails answers every request in the group with an error, never success.
func TestSpendBatcher(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	g := newSpendBatcher(db)
	exp := time.Now().Add(time.Minute)
	const keys, per = 200, 4
	var ok [keys]atomic.Int64
	var wg sync.WaitGroup
	for i := range keys * per {
		wg.Go(func() {
			k := sha256.Sum256([]byte(fmt.Sprint("k", i%keys)))
			switch err := g.spend(ctx, k, exp); {
			case err == nil:
				ok[i%keys].Add(1)
			case !errors.Is(err, ErrReplay):
				t.Errorf("spend: %v", err)
			}
		})
	}
	wg.Wait()
	for i := range ok {
		if n := ok[i].Load(); n != 1 {
			t.Fatalf("key %d spent %d times, want once", i, n)
		}
	}
	if err := g.spend(ctx, sha256.Sum256([]byte("k0")), exp); !errors.Is(err, ErrReplay) {
		t.Fatalf("a key spent before = %v, want ErrReplay", err)
	}

	// Callers that give up at once: the others still finish.
	gone, cancel := context.WithCancel(ctx)
	cancel()
	var done atomic.Int64
	for i := range 100 {
		wg.Go(func() {
			c := ctx
			if i%2 == 0 {
				c = gone
			}
			err := g.spend(c, sha256.Sum256([]byte(fmt.Sprint("gone", i))), exp)
			if err == nil || errors.Is(err, context.Canceled) {
				done.Add(1)
			} else {
				t.Errorf("spend: %v", err)
			}
		})
	}
	wg.Wait()
	if done.Load() != 100 {
		t.Fatalf("%d of 100 answered", done.Load())
	}
	if err := g.spend(ctx, sha256.Sum256([]byte("after")), exp); err != nil {
		t.Fatalf("a spend after callers gave up = %v", err)
	}

	db.Close()
	if err := g.spend(ctx, sha256.Sum256([]byte("no store")), exp); err == nil || errors.Is(err, ErrReplay) {
		t.Fatalf("spend with the store closed = %v, want a store error", err)
	}
}

package oauth

import (
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestLocalJTIs: a jti is refused again for at least the retention (the
// proof's iat window and its nonce's two windows) and forgotten within a
// quarter more; a full cache refuses new proofs (never accepts them
// unchecked) until a generation expires.
func TestLocalJTIs(t *testing.T) {
	k := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
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
	for i := range 1 << 20 {
		c.spend(sha256.Sum256([]byte(fmt.Sprint("pre", i))), now)
	}
	c.max = 1 << 30
	keys := make([][32]byte, b.N)
	for i := range keys {
		keys[i] = sha256.Sum256([]byte(fmt.Sprint(i)))
	}
	b.ResetTimer()
	for i := range b.N {
		c.spend(keys[i], now+int64(i/100000))
	}
}

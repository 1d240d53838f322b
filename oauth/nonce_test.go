package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestNonces: the deployment's DPoP nonces. Two instances (two nonces
// values on one store) hand out the same nonce; a nonce is accepted in its
// slot and the next, not after; a nonce made early by an instance whose
// clock is ahead is accepted; a nonce the memo lacks costs at most one
// store read per second; a store that cannot be reached fails the check
// (an error, never acceptance); the sweep deletes expired slots.
func TestNonces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := &clock{}
		// Start at the beginning of a slot so the steps below stay in it.
		now := time.Now()
		clk.advance(time.Unix((nonceSlot(now)+1)*60, 0).Sub(now))
		a, b := newNonces(db, clk.now), newNonces(db, clk.now)
		cur := func(n *nonces) string {
			t.Helper()
			v, err := n.current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		valid := func(n *nonces, s string) bool {
			t.Helper()
			ok, err := n.valid(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		n0 := cur(a)
		if len(n0) != 43 || cur(b) != n0 || cur(a) != n0 {
			t.Fatalf("instances disagree: A %q, B %q", n0, cur(b))
		}
		other := n0[:42] + "A" // another nonce of the same length
		if n0[42] == 'A' {
			other = n0[:42] + "Q"
		}
		if !valid(b, n0) || valid(b, other) || valid(b, "") {
			t.Fatal("B: own-slot nonce refused or a wrong one accepted")
		}

		// 4 s before the turn, an instance whose clock is 5 s ahead makes
		// the next slot's nonce; the others accept it before their own slot
		// turns.
		clk.advance(56 * time.Second)
		ahead := &clock{off: clk.off + 5*time.Second}
		n1, err := newNonces(db, ahead.now).current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n1 == n0 {
			t.Fatal("the next slot has the same nonce")
		}
		if !valid(a, n1) {
			t.Fatal("A refuses the next slot's nonce made early by an instance ahead")
		}

		clk.advance(5 * time.Second) // the next slot
		if cur(a) != n1 || cur(b) != n1 || !valid(a, n0) || !valid(b, n1) {
			t.Fatal("after the turn: the new slot's nonce not current or the previous one refused")
		}
		clk.advance(60 * time.Second) // two slots after n0's
		if valid(a, n0) {
			t.Fatal("a nonce two slots old is accepted")
		}
		n2 := cur(a)
		if !valid(a, n1) || n2 == n1 || n2 == n0 {
			t.Fatal("the previous slot's nonce refused, or a nonce repeats")
		}

		// The sweep deletes n0's row (expired at the end of n1's slot).
		e := &Server{cfg: Config{DB: db, Clients: noSweep{}}, now: clk.now}
		out, err := e.Sweep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if out["oauth_dpop_nonces"] != 1 {
			t.Fatalf("sweep deleted %d nonce rows, want 1 (%v)", out["oauth_dpop_nonces"], out)
		}

		// With the store gone: the memo still answers for known nonces; an
		// unknown one is refused without a store read for a second, then
		// the read fails the check.
		clk.advance(60 * time.Second)
		n3 := cur(a) // loaded now: the second below starts here
		db.Close()
		if !valid(a, n3) || !valid(a, n2) {
			t.Fatal("a known nonce needs the store")
		}
		if ok, err := a.valid(ctx, n0); ok || err != nil {
			t.Fatalf("unknown nonce within a second of the load = %v, %v; want false, nil (no store read)", ok, err)
		}
		clk.advance(1100 * time.Millisecond)
		if ok, err := a.valid(ctx, n0); ok || err == nil {
			t.Fatalf("unknown nonce with the store gone = %v, %v; want an error", ok, err)
		}
		clk.advance(60 * time.Second)
		if _, err := a.current(ctx); err == nil {
			t.Fatal("a new slot without the store: want an error")
		}
	})
}

// noSweep is a client authenticator whose Sweep deletes nothing.
type noSweep struct{ ClientAuthenticator }

func (noSweep) Sweep(context.Context) (map[string]int64, error) { return nil, nil }

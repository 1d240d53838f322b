package staff

import (
	"context"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestSignedIn: a staff member is signed in while a session of theirs is
// within its idle and absolute limits, and not after it ends.
func TestSignedIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, _ := f.admins(t)
		id := a.Account.ID
		in := func() bool {
			t.Helper()
			ok, err := f.dir.SignedIn(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if in() {
			t.Fatal("signed in before any sign-in")
		}
		f.clock.Add(TOTPPeriod)
		s, err := f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "req")
		if err != nil {
			t.Fatal(err)
		}
		if !in() {
			t.Error("not signed in after sign-in")
		}
		f.clock.Add(16 * time.Minute) // past the idle timeout, never used
		if in() {
			t.Error("still signed in after the idle timeout")
		}
		f.clock.Add(TOTPPeriod)
		s, err = f.dir.Authenticate(ctx, "alice", testPassword, f.code(t, a, 0), "req")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.dir.Logout(ctx, s.Token.Reveal()); err != nil {
			t.Fatal(err)
		}
		if in() {
			t.Error("still signed in after sign-out")
		}
	})
}

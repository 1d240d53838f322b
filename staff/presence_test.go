package staff

import (
	"context"
	"errors"
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
		// in asks both ways: SignedIn, and SignedInAmong with an unknown
		// id beside (the review queue's one query), which must agree.
		in := func() bool {
			t.Helper()
			ok, err := f.dir.SignedIn(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			set, err := f.dir.SignedInAmong(ctx, []string{"st_nobody", id})
			if err != nil {
				t.Fatal(err)
			}
			if set[id] != ok || set["st_nobody"] || len(set) > 1 {
				t.Errorf("SignedInAmong = %v, SignedIn = %v", set, ok)
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

// TestSignedInAmongBounds: no ids is an empty answer without a query, and
// more than one page of ids is refused.
func TestSignedInAmongBounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if got, err := f.dir.SignedInAmong(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("SignedInAmong(nil) = %v, %v", got, err)
		}
		ids := make([]string, maxPresenceIDs+1)
		for i := range ids {
			ids[i] = "st_x"
		}
		if _, err := f.dir.SignedInAmong(ctx, ids); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("SignedInAmong(%d ids) = %v, want ErrInvalidInput", len(ids), err)
		}
	})
}

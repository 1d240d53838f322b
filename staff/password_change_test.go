package staff

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// TestChangePassword: a staff member changes their own password with the
// current one; the sessions of the account end except the one the change
// came from; the old password stops working and the new one signs in; a
// weak, unchanged or wrong password changes nothing (a wrong one ends the
// session it was tried from); another account's session is refused.
func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		a, b := f.admins(t)
		me := staffActor(a.Account.ID)
		signIn := func(pw string) (Session, error) {
			t.Helper()
			f.clock.Add(TOTPPeriod)
			return f.dir.Authenticate(ctx, "alice", pw, f.code(t, a, 0), "req")
		}
		s1, err := signIn(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := signIn(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Add(TOTPPeriod)
		sb, err := f.dir.Authenticate(ctx, "bob", testPassword, f.code(t, b, 0), "req")
		if err != nil {
			t.Fatal(err)
		}
		const next = "a much better passphrase"
		for _, c := range []struct {
			name    string
			actor   Actor
			keep    string
			current string
			next    string
			want    error
		}{
			{"too short", me, s1.Token.Reveal(), testPassword, "short", ErrWeakPassword},
			{"control character", me, s1.Token.Reveal(), testPassword, "line\nbreak in a password", ErrWeakPassword},
			{"unchanged", me, s1.Token.Reveal(), testPassword, testPassword, ErrWeakPassword},
			{"another account's session", me, sb.Token.Reveal(), testPassword, next, ErrSession},
			{"no session", me, "", testPassword, next, ErrSession},
			{"not staff", Actor{Kind: audit.ActorSystem, OSUser: "root"}, s1.Token.Reveal(), testPassword, next, ErrForbidden},
		} {
			if _, err := f.dir.ChangePassword(ctx, c.actor, c.keep, []byte(c.current), []byte(c.next)); !errors.Is(err, c.want) {
				t.Errorf("%s: ChangePassword = %v, want %v", c.name, err, c.want)
			}
		}
		if f.rec.count("staff.password.change", audit.OutcomeOK)+f.rec.count("staff.password.change", audit.OutcomeDenied) != 0 {
			t.Error("refused requests were recorded as attempts")
		}
		// A wrong current password: denied, audited, and that session ends.
		if _, err := f.dir.ChangePassword(ctx, me, s2.Token.Reveal(), []byte("not the password at all"), []byte(next)); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong current password = %v, want ErrInvalidCredentials", err)
		}
		if _, err := f.dir.CheckSession(ctx, s2.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("the session a wrong password was tried from survives: %v", err)
		}
		if f.rec.count("staff.password.change", audit.OutcomeDenied) != 1 {
			t.Error("a wrong current password is not audited")
		}
		s3, err := signIn(testPassword)
		if err != nil {
			t.Fatal(err)
		}
		ended, err := f.dir.ChangePassword(ctx, me, s1.Token.Reveal(), []byte(testPassword), []byte(next))
		if err != nil || ended != 1 {
			t.Fatalf("ChangePassword = %d, %v; want the one other session ended", ended, err)
		}
		if _, err := f.dir.CheckSession(ctx, s1.Token.Reveal()); err != nil {
			t.Errorf("the session the change came from ended: %v", err)
		}
		if _, err := f.dir.CheckSession(ctx, s3.Token.Reveal()); !errors.Is(err, ErrSession) {
			t.Errorf("another session of the account survives: %v", err)
		}
		if _, err := f.dir.CheckSession(ctx, sb.Token.Reveal()); err != nil {
			t.Errorf("another account's session ended: %v", err)
		}
		if _, err := signIn(testPassword); !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("the old password signs in: %v", err)
		}
		if _, err := signIn(next); err != nil {
			t.Errorf("the new password does not sign in: %v", err)
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT password_hash FROM staff_accounts WHERE id = ?`, a.Account.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "$argon2id$") || strings.Contains(stored, next) {
			t.Errorf("stored hash %.12s…: want an argon2id PHC string", stored)
		}
		if f.rec.count("staff.password.change", audit.OutcomeOK) != 1 {
			t.Error("the change is not audited")
		}
		for _, e := range f.rec.entries {
			for k, v := range e.Details {
				if strings.Contains(v, next) || strings.Contains(v, testPassword) {
					t.Errorf("audit entry %s detail %s carries a password", e.Action, k)
				}
			}
		}
	})
}

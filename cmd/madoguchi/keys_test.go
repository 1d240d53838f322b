package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// TestKeysRotateRewrapWithData runs the keys subcommands over a data
// directory holding sealed records, and checks that the records still open
// after rotation, rewrap and retirement.
//
// Rotation goes through dual control: one admin files the request, another
// approves it; retirement needs an authenticated admin.
func TestKeysRotateRewrapWithData(t *testing.T) {
	t.Parallel() // waits for fresh TOTP steps: overlaps with the other CLI tests that do
	if testing.Short() {
		t.Skip("argon2id logins at production cost: skipped under -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	a, err := openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatalf("openApp: %v", err)
	}
	type rec struct {
		s  vault.SubjectRef
		ct []byte
	}
	var recs []rec
	for i := range 3 {
		s := vault.SubjectRef{Tenant: "ten_1", Subject: fmt.Sprint("sub_", i)}
		err := a.db.InTx(ctx, func(tx *store.Tx) error {
			ct, err := a.vault.Seal(ctx, tx, s, vault.AAD("rec", s.Subject), []byte("record of "+s.Subject))
			recs = append(recs, rec{s, ct})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a.Close()

	alice, bob, _ := twoAdmins(t, dir)

	keys := func(stdin string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		code := run(ctx, e, append([]string{"keys"}, append(args, "--data", dir)...))
		return out.String(), errb.String(), code
	}
	check := func(stdin string, args []string, code int, want string) string {
		t.Helper()
		out, errOut, got := keys(stdin, args...)
		if got != code || !strings.Contains(out, want) {
			t.Fatalf("keys %v = exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q", args, got, out, errOut, code, want)
		}
		return out
	}
	check("", []string{"status"}, 0, "1       current 5")
	// Three records plus the two admins' sealed TOTP secrets: five data keys.
	// Filing the rotation changes nothing yet.
	approval := strings.TrimSpace(check(alice.creds(t), []string{"rotate", "--as", "alice"}, 0, "ap_"))
	check("", []string{"status"}, 0, "current 1")
	// The second admin approves; the rotation happens.
	if out, err := adminRun(t, bob.creds(t), "approve", approval, "--as", "bob", "--data", dir); err != nil || !strings.Contains(out, "kek.rotate approved") {
		t.Fatalf("approve kek.rotate = %q, %v", out, err)
	}
	check("", []string{"status"}, 0, "current 2")
	check("", []string{"rewrap", "--batch", "2"}, 0, "rewrapped 5 data keys to KEK version 2 in 3 batches")
	check("", []string{"rewrap"}, 0, "rewrapped 0 data keys")
	check(bob.creds(t), []string{"retire", "--below", "2", "--as", "bob"}, 0, "retired KEK versions below 2")
	check("", []string{"status"}, 0, "2       current 5")

	a, err = openApp(ctx, modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, r := range recs {
		got, err := a.vault.Open(ctx, a.db, r.s, vault.AAD("rec", r.s.Subject), r.ct)
		if err != nil || string(got) != "record of "+r.s.Subject {
			t.Errorf("Open(%s) after rotate/rewrap/retire = %q, %v", r.s.Subject, got, err)
		}
	}
	if _, err := a.vault.Status(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.vault.RetireKEK(ctx, 1, vault.System); err != nil && !errors.Is(err, vault.ErrKEKInUse) {
		t.Errorf("RetireKEK(1) again = %v", err)
	}
}

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
func TestKeysRotateRewrapWithData(t *testing.T) {
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

	keys := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		e := &env{stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		code := run(ctx, e, append([]string{"keys"}, append(args, "--data", dir)...))
		return out.String(), errb.String(), code
	}
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"status"}, 0, "1       current 3"},
		{[]string{"rotate", "--actor", "staff-1"}, 0, "3 data keys still use older versions"},
		{[]string{"retire", "--below", "2", "--actor", "staff-1"}, 1, ""},
		{[]string{"rewrap", "--batch", "2"}, 0, "rewrapped 3 data keys to KEK version 2 in 2 batches"},
		{[]string{"rewrap"}, 0, "rewrapped 0 data keys"},
		{[]string{"retire", "--below", "2", "--actor", "staff-1"}, 0, "retired KEK versions below 2"},
		{[]string{"status"}, 0, "2       current 3"},
	}
	for _, st := range steps {
		out, errOut, code := keys(st.args...)
		if code != st.code || !strings.Contains(out, st.want) {
			t.Fatalf("keys %v = exit %d, stdout %q, stderr %q; want exit %d, stdout containing %q", st.args, code, out, errOut, st.code, st.want)
		}
	}

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

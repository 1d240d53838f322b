package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

func TestNotifyCLI(t *testing.T) {
	dir := t.TempDir()
	a, err := openApp(t.Context(), modeDevelopment, dataFlags{data: dir}, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	n, err := a.newNotifier()
	if err != nil {
		t.Fatal(err)
	}
	err = a.db.InTx(t.Context(), func(tx *store.Tx) error {
		_, err := n.Enqueue(t.Context(), tx, notify.Event{ID: "ev_cli", Kind: "test.webhook", URL: "https://receiver.example/h",
			ContentType: "application/json", Body: []byte("{}"), Subject: vault.SubjectRef{Tenant: "tn_x", Subject: "s"}})
		return err
	})
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
		err := runNotify(context.Background(), e, append(args, "--data", dir))
		return out.String(), err
	}
	if out, err := run("", "list", "--state", "pending"); err != nil || !strings.HasPrefix(out, "ev_cli\ttest.webhook\tpending\t0\t0\t") {
		t.Errorf("notify list = %q, %v", out, err)
	}
	if out, err := run("", "show", "ev_cli"); err != nil || !strings.Contains(out, "https://receiver.example/h") {
		t.Errorf("notify show = %q, %v", out, err)
	}
	if _, err := run("", "show", "ev_none"); !errors.Is(err, notify.ErrNotFound) {
		t.Errorf("notify show (unknown) = %v, want ErrNotFound", err)
	}
	if _, err := run("", "replay", "ev_cli"); err == nil {
		t.Error("notify replay without --as succeeded")
	}
}

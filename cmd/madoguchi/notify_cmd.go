package main

// madoguchi notify: webhook deliveries (package notify).
//
//	notify list [--state pending|delivered|dead] [--limit N]
//	notify show EVENT_ID
//	notify replay EVENT_ID --as STAFF   (password and TOTP code on stdin)
//
// replay makes a dead letter due again (audited as <kind>.replay by the
// staff member); a running server delivers it within seconds.

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/notify"
)

func runNotify(ctx context.Context, e *env, args []string) error {
	const synopsis = "notify list|show|replay [flags]"
	if len(args) == 0 {
		return usageError{"usage: madoguchi " + synopsis}
	}
	sub := args[0]
	switch sub {
	case "list", "show", "replay":
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+synopsis)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown notify subcommand %q (want list, show or replay)", sub)}
	}
	fs := newFlagSet(e, "notify "+sub, "notify "+sub+" [flags]")
	var d dataFlags
	var mode, state, as string
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	limit := 100
	switch sub {
	case "list":
		fs.StringVar(&state, "state", "", "only events in this `state` (pending, delivered, dead)")
		fs.IntVar(&limit, "limit", 100, "at most this many `events` (newest first, ≤ 1000)")
	case "replay":
		fs.StringVar(&as, "as", "", "staff `username`; password and TOTP code on stdin (required)")
	}
	rest := args[1:]
	var pos []string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = rest[:1], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	if (sub == "list") != (len(pos) == 0) || len(pos) > 1 {
		return usageError{"notify " + sub + ": wrong arguments"}
	}
	if sub == "replay" && as == "" {
		return usageError{"notify replay needs --as STAFF (password and TOTP code on stdin)"}
	}
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return err
	}
	defer a.Close()
	n, err := a.newNotifier()
	if err != nil {
		return err
	}
	show := func(dl notify.Delivery) {
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", dl.ID, dl.Kind, dl.State, dl.Attempts, dl.LastStatus,
			dl.CreatedAt.UTC().Format(time.RFC3339), dl.LastError, dl.URL)
	}
	switch sub {
	case "list":
		ds, err := n.List(ctx, state, limit)
		if err != nil {
			return err
		}
		for _, dl := range ds {
			show(dl)
		}
	case "show":
		dl, err := n.Get(ctx, pos[0])
		if err != nil {
			return err
		}
		show(dl)
	case "replay":
		dir, err := newStaffDirectory(a, nil)
		if err != nil {
			return err
		}
		st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), as)
		if err != nil {
			return err
		}
		if err := n.Replay(ctx, notify.Actor{Kind: st.Kind, ID: st.ID}, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s replayed: due now\n", pos[0])
	}
	return nil
}

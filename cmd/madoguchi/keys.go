package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/vault"
)

const keysUsage = `keys <status|rotate|rewrap|retire> [flags]

  status   list the key-encryption key (KEK) versions and how many data keys each wraps
  rotate   file a request (dual control) for a new KEK version (--as ADMIN);
           older versions keep unwrapping until rewrap moves their data keys
  rewrap   re-wrap every data key under the current KEK version, in batches
           (resumable, idempotent; the server may keep running)
  retire   delete KEK versions below --below N (refused while any data key uses them)`

// runKeys implements "madoguchi keys". Rotation is under dual control: "keys
// rotate --as ADMIN" (password and TOTP code on stdin) files a kek.rotate
// approval, and a second admin's "admin approve ID --as OTHER" performs it
// (the approval executor calls vault.(*Vault).RotateKEK). Retirement needs
// an authenticated admin (--as); rewrap changes no key material and runs as
// the system.
func runKeys(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+keysUsage)
		return usageError{"missing subcommand"}
	}
	sub := args[0]
	switch sub {
	case "status", "rotate", "rewrap", "retire":
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+keysUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(e.stderr, "usage: madoguchi "+keysUsage)
		return usageError{fmt.Sprintf("unknown subcommand %q", sub)}
	}
	fs := newFlagSet(e, "keys "+sub, "keys "+sub+" [flags]")
	var (
		d     dataFlags
		mode  string
		actor string
		batch int
		below int
	)
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development (generates missing keys) or production (refuses to run without them)")
	switch sub {
	case "rotate", "retire":
		fs.StringVar(&actor, "as", "", "admin `username`; the password and current TOTP code are read from stdin, one per line (required)")
	}
	if sub == "rewrap" {
		fs.IntVar(&batch, "batch", vault.DefaultRewrapBatch, "data keys per `transaction`")
	}
	if sub == "retire" {
		fs.IntVar(&below, "below", 0, "retire every KEK version below this `version` (required)")
	}
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"keys " + sub + " takes no arguments"}
	}
	by := vault.System
	if (sub == "rotate" || sub == "retire") && strings.TrimSpace(actor) == "" {
		return usageError{"keys " + sub + " needs --as ADMIN (password and TOTP code on stdin)"}
	}
	if sub == "retire" && below < 1 {
		return usageError{"keys retire needs --below VERSION (>= 1)"}
	}
	if batch < 0 {
		return usageError{"--batch must be positive"}
	}

	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return err
	}
	defer a.Close()
	v := a.vault
	if sub == "rotate" || sub == "retire" {
		dir, err := newStaffDirectory(a, nil)
		if err != nil {
			return err
		}
		st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), actor)
		if err != nil {
			return err
		}
		if sub == "rotate" {
			ap, err := dir.Request(ctx, st, staff.KindKEKRotate, []byte("{}"))
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, ap.ID)
			fmt.Fprintf(e.stderr, "KEK rotation filed for approval; another admin runs: madoguchi admin approve %s --as USER\n", ap.ID)
			return nil
		}
		by = vault.Actor{Kind: st.Kind, ID: st.ID}
	}

	switch sub {
	case "rewrap":
		st, err := v.Status(ctx)
		if err != nil {
			return err
		}
		pr, err := newProgress(e, "keys rewrap", st.Unrotated, "keys")
		if err != nil {
			return err
		}
		rep, err := v.RewrapProgress(ctx, batch, by, func(r vault.RewrapReport) { pr.Set(r.Rewrapped) })
		pr.Done()
		if rep.Rewrapped > 0 || err == nil {
			fmt.Fprintf(e.stdout, "rewrapped %d data keys to KEK version %d in %d batches\n", rep.Rewrapped, rep.Target, rep.Batches)
		}
		return err
	case "retire":
		if err := v.RetireKEK(ctx, below, by); err != nil {
			if errors.Is(err, vault.ErrKEKInUse) {
				fmt.Fprintln(e.stderr, "hint: run 'madoguchi keys rewrap' first")
			}
			return err
		}
		fmt.Fprintf(e.stdout, "retired KEK versions below %d\n", below)
		return nil
	}
	st, err := v.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "keyring %s\n", st.KEK.Name)
	fmt.Fprintf(e.stdout, "current %d\n", st.KEK.Current)
	fmt.Fprintf(e.stdout, "min_decrypt %d\n", st.KEK.MinDecrypt)
	fmt.Fprintln(e.stdout, "version state   data_keys")
	for _, ver := range st.KEK.Versions {
		state := "active"
		if ver == st.KEK.Current {
			state = "current"
		}
		fmt.Fprintf(e.stdout, "%-7d %-7s %d\n", ver, state, st.DEKs[ver])
	}
	for ver, n := range st.DEKs {
		if ver < st.KEK.MinDecrypt || ver > st.KEK.Current {
			fmt.Fprintf(e.stdout, "%-7d %-7s %d\n", ver, "MISSING", n)
		}
	}
	fmt.Fprintf(e.stdout, "subjects %d shredded %d not_on_current %d\n", st.Subjects, st.Shredded, st.Unrotated)
	return nil
}

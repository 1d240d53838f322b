package main

// "madoguchi ekyc": the legal methods and per-tenant eKYC policies.
//
//	ekyc methods                      the methods with citations and dates
//	ekyc policy example [--threshold] a starting policy (JSON) to edit
//	ekyc policy show --tenant ID      the tenant's stored policy and version
//	ekyc policy set --tenant ID --file FILE --as ADMIN
//	                                  validate and store a policy; an admin
//	                                  signs in with password and TOTP code on
//	                                  stdin; audited as that staff member
//
// A tenant without a policy cannot open eKYC sessions: there is no default.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
)

const ekycUsage = "ekyc methods | ekyc policy example [--threshold X] | ekyc policy show --tenant ID [--data DIR] | ekyc policy set --tenant ID --file FILE --as ADMIN [--data DIR]"

func runEKYC(ctx context.Context, e *env, args []string) error {
	usage := func(msg string) error {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+ekycUsage)
		return usageError{msg}
	}
	if len(args) == 0 {
		return usage("missing subcommand")
	}
	switch args[0] {
	case "methods":
		if len(args) != 1 {
			return usage("ekyc methods takes no arguments")
		}
		return printMethods(e.stdout)
	case "policy":
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+ekycUsage)
		return flag.ErrHelp
	default:
		return usage(fmt.Sprintf("unknown subcommand %q", args[0]))
	}
	if len(args) < 2 || !slices.Contains([]string{"example", "show", "set"}, args[1]) {
		return usage("ekyc policy needs example, show or set")
	}
	sub := args[1]
	fs := newFlagSet(e, "ekyc policy "+sub, "ekyc policy "+sub+" [flags]")
	var (
		d         dataFlags
		mode      string
		tenantID  string
		file      string
		actor     string
		threshold float64
	)
	if sub == "example" {
		fs.Float64Var(&threshold, "threshold", 0, "face-match `threshold` from your calibration file (required)")
	} else {
		d.register(fs, e)
		envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
		fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
	}
	if sub == "set" {
		fs.StringVar(&file, "file", "", "policy JSON `file` (required; see 'ekyc policy example')")
		fs.StringVar(&actor, "as", "", "admin `username`; the password and current TOTP code are read from stdin, one per line (required)")
	}
	if err := parseFlags(fs, args[2:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"ekyc policy " + sub + " takes no arguments"}
	}
	switch {
	case sub == "example":
		if threshold == 0 {
			return usageError{"ekyc policy example needs --threshold (the calibrated face-match threshold)"}
		}
		p := ekyc.ExamplePolicy(threshold)
		if err := p.Validate(); err != nil {
			return usageError{err.Error()}
		}
		return writeIndented(e.stdout, p)
	case tenantID == "":
		return usageError{"--tenant is required"}
	case sub == "set" && (file == "" || actor == ""):
		return usageError{"ekyc policy set needs --file and --as"}
	}

	var p ekyc.Policy
	if sub == "set" {
		b, err := readCapped(file, ekyc.MaxPolicyBytes)
		if err != nil {
			return err
		}
		if p, err = ekyc.ParsePolicy(b); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.tenants.Tenant(ctx, tenantID); err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	if sub == "show" {
		p, ver, err := ekyc.LoadPolicy(ctx, a.db, tenantID)
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, map[string]any{"tenant": tenantID, "version": ver, "policy": p})
	}
	dir, err := staff.New(a.db, a.audit, a.vault, staff.Config{})
	if err != nil {
		return err
	}
	st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), actor)
	if err != nil {
		return err
	}
	acc, err := dir.Account(ctx, st.ID)
	if err != nil {
		return err
	}
	if !slices.Contains(acc.Roles, staff.RoleAdmin) {
		return fmt.Errorf("%s is not an admin: %w", actor, staff.ErrForbidden)
	}
	ver, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: audit.ActorStaff, ID: st.ID}, tenantID, p, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "policy version %d stored for %s\n", ver, tenantID)
	return nil
}

func printMethods(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "API\tCODE\tLETTER\tIN FORCE\tABOLISHED\tCITATION")
	for _, m := range ekyc.Methods() {
		ab := "-"
		if !m.AbolishedFrom.IsZero() {
			ab = m.AbolishedFrom.Format(time.DateOnly) + " (in principle)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.API, m.Code, m.Letter, m.EffectiveFrom.Format(time.DateOnly), ab, m.Citation)
	}
	return tw.Flush()
}

func writeIndented(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

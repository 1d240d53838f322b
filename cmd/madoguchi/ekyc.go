package main

// "madoguchi ekyc": the legal methods and per-tenant eKYC policies.
//
//	ekyc methods                      the methods with citations and dates
//	ekyc policy example --threshold X a starting policy (JSON) to edit
//	ekyc policy show --tenant ID      the tenant's stored policy and version
//	ekyc policy set --tenant ID --file FILE --as ADMIN
//	                                  validate a policy and print its changes;
//	                                  an admin signs in with password and TOTP
//	                                  code on stdin. A change that only
//	                                  strengthens is stored at once; one that
//	                                  weakens a control (ekyc.ComparePolicies)
//	                                  is filed as an "ekyc.policy.set"
//	                                  approval that a second admin performs
//	                                  with "admin approve ID --as OTHER"
//
// A tenant without a policy cannot open eKYC sessions: there is no default.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

const ekycUsage = "ekyc methods | ekyc policy example --threshold X | ekyc policy show --tenant ID [--data DIR] | ekyc policy set --tenant ID --file FILE --as ADMIN [--data DIR]"

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
		var err error
		if p, err = readPolicyFile(file, ekyc.MaxPolicyBytes, ekyc.ParsePolicy); err != nil {
			return err
		}
	}
	a, err := openTenantApp(ctx, mode, d, tenantID)
	if err != nil {
		return err
	}
	defer a.Close()
	if sub == "show" {
		p, ver, err := ekyc.LoadPolicy(ctx, a.db, tenantID)
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, map[string]any{"tenant": tenantID, "version": ver, "policy": p})
	}
	dir, err := newStaffDirectory(a, nil)
	if err != nil {
		return err
	}
	st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), actor)
	if err != nil {
		return err
	}
	if err := requireAdmin(ctx, dir, st, actor, tenantID); err != nil {
		return err
	}
	cur, ver, err := ekyc.LoadPolicy(ctx, a.db, tenantID)
	var old *ekyc.Policy
	switch {
	case err == nil:
		old = &cur
	case errors.Is(err, ekyc.ErrNoPolicy):
	default:
		return err
	}
	changes := ekyc.ComparePolicies(old, p)
	if len(changes) == 0 {
		fmt.Fprintf(e.stdout, "no change: %s keeps policy version %d\n", tenantID, ver)
		return nil
	}
	for _, c := range changes {
		mark := "strengthens"
		if c.Weakens {
			mark = "WEAKENS"
		}
		fmt.Fprintf(e.stdout, "%-11s %s: %s -> %s (%s)\n", mark, c.Field, orNone(c.Old), orNone(c.New), c.Why)
	}
	if ekyc.Weakening(changes) {
		payload, err := json.Marshal(ekycPolicySet{TenantID: tenantID, BaseVersion: ver, Policy: p})
		if err != nil {
			return err
		}
		ap, err := dir.Request(ctx, st, kindEKYCPolicySet, payload)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "the change weakens a control: it needs a second admin\napproval %s filed; another admin runs: madoguchi admin approve %s --as USER\n", ap.ID, ap.ID)
		return nil
	}
	nv, err := ekyc.StorePolicy(ctx, a.db, a.audit, ekyc.Actor{Kind: audit.ActorStaff, ID: st.ID}, tenantID, p, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "policy version %d stored for %s\n", nv, tenantID)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// kindEKYCPolicySet is the dual-control approval kind of a weakening eKYC
// policy change.
const kindEKYCPolicySet = "ekyc.policy.set"

// ekycPolicySet is the payload of an "ekyc.policy.set" approval: the policy and
// the version it was compared against. The approval is refused if the
// policy changed since (the second admin would approve a diff nobody saw).
type ekycPolicySet struct {
	TenantID    string      `json:"tenant_id"`
	BaseVersion int         `json:"base_version"`
	Policy      ekyc.Policy `json:"policy"`
}

func parseEKYCPolicySet(b []byte) (ekycPolicySet, error) {
	var p ekycPolicySet
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("ekyc.policy.set payload: %v", err)
	}
	if dec.More() {
		return p, errors.New("ekyc.policy.set payload: trailing data")
	}
	if p.TenantID == "" || p.BaseVersion < 0 {
		return p, errors.New("ekyc.policy.set payload: tenant_id or base_version missing")
	}
	return p, p.Policy.Validate()
}

// ekycPolicySetExecutor stores an approved weakening policy change inside the
// approval's transaction, audited with both admins.
func ekycPolicySetExecutor(a *app) staff.Executor {
	return staff.Executor{
		Validate: func(b []byte) error { _, err := parseEKYCPolicySet(b); return err },
		Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
			p, err := parseEKYCPolicySet(ap.Payload)
			if err != nil {
				return err
			}
			_, ver, err := ekyc.LoadPolicyTx(ctx, tx, p.TenantID)
			if err != nil && !errors.Is(err, ekyc.ErrNoPolicy) {
				return err
			}
			if ver != p.BaseVersion {
				return fmt.Errorf("%w: the policy is at version %d, the request was made against version %d; file it again", staff.ErrInvalidInput, ver, p.BaseVersion)
			}
			_, err = ekyc.StorePolicyTx(ctx, tx, a.audit, ekyc.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID}, p.TenantID, p.Policy, time.Now(),
				map[string]string{"approval": ap.ID, "requester": ap.Requester, "weakening": "true"})
			return err
		},
	}
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

package main

// Dual-controlled changes to the ICAO trust directory:
//
//	trust import --csca FILE --country CC --as ADMIN [--test]
//	trust policy [--allow-sha1 RUS,... | --allow-sha1 none --as ADMIN]
//	trust review APPROVAL_ID
//
// A single CSCA (a country whose CSCA is in no master list) and the
// operator's SHA-1 policy are filed by one admin as a staff approval
// (kinds trust.csca and trust.policy) and carried out when a second admin
// runs `madoguchi admin approve ID --as OTHER`: the certificate's checks
// are re-run at approval, the change is audited in the approval's
// transaction (trust.csca.add, trust.policy.set), and the file is written
// right after the approval commits. `trust review` shows the approving
// admin the checks (CA, key usage, validity, country, signature) or the
// policy change before they approve. A running server reads the trust
// directory at start-up: restart it after an approved change.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/icao"
	"github.com/madoguchi/madoguchi/document/trust"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// cscaImport is the payload of a trust.csca approval.
type cscaImport struct {
	Certificate []byte `json:"certificate"` // DER
	Country     string `json:"country"`     // ISO 3166-1 alpha-2 expected in the subject
	Test        bool   `json:"test"`        // a test anchor (refused by a production server)
}

func decodeStrict(b []byte, v any, what string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s payload: %v", what, err)
	}
	if dec.More() {
		return fmt.Errorf("%s payload: trailing data", what)
	}
	return nil
}

func parseCSCAImport(b []byte) (cscaImport, error) {
	var p cscaImport
	if err := decodeStrict(b, &p, staff.KindTrustCSCA); err != nil {
		return p, err
	}
	if len(p.Certificate) == 0 || len(p.Country) != 2 {
		return p, errors.New("trust.csca payload: certificate and a two-letter country are required")
	}
	return p, nil
}

func parsePolicySet(b []byte) (trust.OperatorPolicy, error) {
	var p trust.OperatorPolicy
	if err := decodeStrict(b, &p, staff.KindTrustPolicy); err != nil {
		return p, err
	}
	return checkOperatorPolicy(p)
}

// checkOperatorPolicy normalises p and checks every state is one the ICAO
// verifier knows (the server refuses to start on an unknown one).
func checkOperatorPolicy(p trust.OperatorPolicy) (trust.OperatorPolicy, error) {
	p, err := p.Normalize()
	if err != nil {
		return p, err
	}
	for _, s := range p.AllowSHA1 {
		if _, ok := icao.Alpha2(s); !ok {
			return p, fmt.Errorf("%q is not an issuing state code", s)
		}
	}
	return p, nil
}

// checkCSCAPayload runs the certificate's checks against the current trust
// directory at now.
func checkCSCAPayload(dataDir string, p cscaImport, now time.Time) (*trust.CSCAReport, error) {
	st, err := trust.Load(trust.ICAODir(dataDir))
	if err != nil {
		return nil, err
	}
	return trust.CheckCSCA(p.Certificate, p.Country, st, now, trust.DefaultPolicy())
}

// trustExecutors are the approval executors of the trust directory of a.
func trustExecutors(a *app) map[string]staff.Executor {
	dir := trust.ICAODir(a.data.data)
	return map[string]staff.Executor{
		staff.KindTrustCSCA: {
			Validate: func(b []byte) error {
				p, err := parseCSCAImport(b)
				if err != nil {
					return err
				}
				r, err := checkCSCAPayload(a.data.data, p, time.Now())
				if err != nil {
					return err
				}
				return r.Err()
			},
			Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
				p, err := parseCSCAImport(ap.Payload)
				if err != nil {
					return err
				}
				r, err := checkCSCAPayload(a.data.data, p, time.Now())
				if err != nil {
					return err
				}
				if err := r.Err(); err != nil {
					return err // checked again at approval: time and anchors may have changed
				}
				details := map[string]string{"country": r.Anchor.Country(), "subject": r.Anchor.Subject(),
					"test": fmt.Sprint(p.Test), "approval": ap.ID, "requester": ap.Requester}
				if r.Link != nil {
					details["link_from"] = r.Link.ID()
				}
				return appendStaffAudit(ctx, a, tx, by, "trust.csca.add", r.Anchor.ID(), details)
			},
			AfterCommit: func(ctx context.Context, ap staff.Approval, by staff.Actor) error {
				p, err := parseCSCAImport(ap.Payload)
				if err != nil {
					return err
				}
				an, err := trust.NewAnchor(p.Certificate, p.Test)
				if err != nil {
					return err
				}
				_, err = trust.Save(dir, []*trust.Anchor{an})
				return err
			},
		},
		staff.KindTrustPolicy: {
			Validate: func(b []byte) error { _, err := parsePolicySet(b); return err },
			Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
				p, err := parsePolicySet(ap.Payload)
				if err != nil {
					return err
				}
				old, err := trust.LoadPolicy(dir)
				if err != nil {
					return err
				}
				return appendStaffAudit(ctx, a, tx, by, "trust.policy.set", "icao", map[string]string{
					"allow_sha1": strings.Join(p.AllowSHA1, ","), "previous_allow_sha1": strings.Join(old.AllowSHA1, ","),
					"approval": ap.ID, "requester": ap.Requester})
			},
			AfterCommit: func(ctx context.Context, ap staff.Approval, by staff.Actor) error {
				p, err := parsePolicySet(ap.Payload)
				if err != nil {
					return err
				}
				return trust.SavePolicy(dir, p)
			},
		},
	}
}

func appendStaffAudit(ctx context.Context, a *app, tx *store.Tx, by staff.Actor, action, object string, details map[string]string) error {
	if by.OSUser != "" {
		details["os_user"] = by.OSUser
	}
	_, err := a.audit.Append(ctx, tx, audit.Entry{ActorKind: by.Kind, ActorID: by.ID, Action: action, Object: object,
		RequestID: by.RequestID, Outcome: audit.OutcomeOK, Details: details})
	return err
}

// trustAdmin opens the app and the staff directory for a trust subcommand
// that needs the database.
func trustAdmin(ctx context.Context, mode string, d dataFlags) (*app, *staff.Directory, error) {
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return nil, nil, err
	}
	dir, err := newStaffDirectory(a, nil)
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, dir, nil
}

func runTrustImportCSCA(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "trust import", "trust import --csca FILE --country CC --as ADMIN [--test] [--data DIR]")
	var d dataFlags
	var mode, file, country, as string
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	fs.StringVar(&file, "csca", "", "CSCA `certificate` (DER or PEM) of a country whose CSCA is in no master list")
	fs.StringVar(&country, "country", "", "the `country` (ISO 3166-1 alpha-2, e.g. ID) the certificate must name")
	fs.StringVar(&as, "as", "", "requesting admin's `username`; password and TOTP code on stdin (required)")
	test := fs.Bool("test", false, "mark the anchor as a test anchor (refused by a production server)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if file == "" || country == "" || as == "" || fs.NArg() != 0 {
		return usageError{"--csca, --country and --as are required: a second admin approves the import"}
	}
	der, err := readLimited(file, 64<<10)
	if err != nil {
		return err
	}
	if b, _ := pem.Decode(der); b != nil && b.Type == "CERTIFICATE" {
		der = b.Bytes
	}
	p := cscaImport{Certificate: der, Country: strings.ToUpper(country), Test: *test}
	r, err := checkCSCAPayload(d.data, p, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, r.String())
	if err := r.Err(); err != nil {
		return err
	}
	ap, err := fileTrustRequest(ctx, e, mode, d, as, staff.KindTrustCSCA, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "approval %s\n", ap.ID)
	fmt.Fprintf(e.stderr, "CSCA import filed for approval; another admin reviews it with `madoguchi trust review %s`, then runs `madoguchi admin approve %s --as USER`\n", ap.ID, ap.ID)
	return nil
}

// fileTrustRequest files a dual-control request of kind with payload v,
// requested by admin as (password and TOTP code on stdin).
func fileTrustRequest(ctx context.Context, e *env, mode string, d dataFlags, as, kind string, v any) (staff.Approval, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return staff.Approval{}, err
	}
	a, dir, err := trustAdmin(ctx, mode, d)
	if err != nil {
		return staff.Approval{}, err
	}
	defer a.Close()
	st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), as)
	if err != nil {
		return staff.Approval{}, err
	}
	return dir.Request(ctx, st, kind, payload)
}

func runTrustPolicy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "trust policy", "trust policy [--allow-sha1 STATES|none --as ADMIN] [--data DIR]")
	var d dataFlags
	var mode, allow, as string
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	fs.StringVar(&allow, "allow-sha1", "", "comma-separated issuing `states` (ICAO alpha-3, e.g. RUS) whose passports may use SHA-1, or none; filed for a second admin's approval")
	fs.StringVar(&as, "as", "", "requesting admin's `username`; password and TOTP code on stdin")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usageError{"unexpected arguments"}
	}
	cur, err := trust.LoadPolicy(trust.ICAODir(d.data))
	if err != nil {
		return err
	}
	if allow == "" {
		fmt.Fprintln(e.stdout, cur.String())
		return nil
	}
	if as == "" {
		return usageError{"--allow-sha1 needs --as ADMIN: a second admin approves the change"}
	}
	var want trust.OperatorPolicy
	if allow != "none" {
		want.AllowSHA1 = strings.Split(allow, ",")
	}
	if want, err = checkOperatorPolicy(want); err != nil {
		return usageError{err.Error()}
	}
	ap, err := fileTrustRequest(ctx, e, mode, d, as, staff.KindTrustPolicy, want)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "current:  %s\nproposed: %s\napproval %s\n", cur, want, ap.ID)
	fmt.Fprintf(e.stderr, "policy change filed for approval; another admin runs `madoguchi admin approve %s --as USER`\n", ap.ID)
	return nil
}

// runTrustReview shows a pending trust approval as the approving admin
// should see it: the certificate's checks run now against the current
// anchors, or the current and the proposed policy.
func runTrustReview(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "trust review", "trust review APPROVAL_ID [--data DIR]")
	var d dataFlags
	var mode string
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	var pos []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		pos, args = args[:1], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	if len(pos) != 1 {
		return usageError{"trust review takes one approval id"}
	}
	a, dir, err := trustAdmin(ctx, mode, d)
	if err != nil {
		return err
	}
	defer a.Close()
	ap, err := dir.Approval(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "approval %s %s %s requested by %s, expires %s\n", ap.ID, ap.Kind, ap.Status, ap.Requester, ap.ExpiresAt.UTC().Format(time.RFC3339))
	switch ap.Kind {
	case staff.KindTrustCSCA:
		p, err := parseCSCAImport(ap.Payload)
		if err != nil {
			return err
		}
		r, err := checkCSCAPayload(d.data, p, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "country %s, test anchor %v\n", p.Country, p.Test)
		fmt.Fprint(e.stdout, r.String())
		return r.Err()
	case staff.KindTrustPolicy:
		p, err := parsePolicySet(ap.Payload)
		if err != nil {
			return err
		}
		cur, err := trust.LoadPolicy(trust.ICAODir(d.data))
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "current:  %s\nproposed: %s\n", cur, p)
		return nil
	}
	return fmt.Errorf("approval %s is a %s request, not a trust change", ap.ID, ap.Kind)
}

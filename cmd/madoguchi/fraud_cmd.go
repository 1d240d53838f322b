package main

// madoguchi fraud: the operator's side of package fraud.
//
//	fraud policy show --tenant T
//	fraud policy set --tenant T --file F --as ADMIN   (a weakening change needs a second admin)
//	fraud watchlist import --tenant T --list L --file F [--format csv|json] --as STAFF
//	fraud watchlist list --tenant T
//	fraud gallery status --tenant T
//	fraud gallery reenrol --tenant T [--recognizer R] [--models DIR]
//
// A watchlist import is refused whole if the file is malformed (the error
// names the record and field, never the value); a well-formed one is
// stored sealed as a pending version and filed as a fraud.watchlist
// approval, which a second staff member carries out with
// `madoguchi admin approve ID --as OTHER`. Servers screen against the new
// version from their next check on.

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/fraud"
	"github.com/madoguchi/madoguchi/staff"
)

const fraudUsage = "fraud policy show|set | fraud watchlist import|list | fraud gallery status|reenrol [flags]"

func runFraud(ctx context.Context, e *env, args []string) error {
	usage := func(msg string) error {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+fraudUsage)
		return usageError{msg}
	}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+fraudUsage)
		return flag.ErrHelp
	}
	if len(args) < 2 {
		return usage("missing subcommand")
	}
	cmd := args[0] + " " + args[1]
	if !slices.Contains([]string{"policy show", "policy set", "watchlist import", "watchlist list", "gallery status", "gallery reenrol"}, cmd) {
		return usage(fmt.Sprintf("unknown subcommand %q", cmd))
	}
	fs := newFlagSet(e, "fraud "+cmd, "fraud "+cmd+" [flags]")
	var (
		d                                  dataFlags
		mode, tenantID, file, as, list, fm string
		recognizer, modelsDir              string
	)
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
	switch cmd {
	case "policy set":
		fs.StringVar(&file, "file", "", "fraud policy JSON `file` (required; docs/fraud.md)")
		fs.StringVar(&as, "as", "", "admin `username`; password and TOTP code on stdin (required)")
	case "gallery reenrol":
		fs.StringVar(&recognizer, "recognizer", face.DefaultRecognizer, "the recogniser the servers now run (serve --face-recognizer): its model's gallery is filled")
		fs.StringVar(&modelsDir, "models", "", "face model `folder` (default <data>/models)")
	case "watchlist import":
		fs.StringVar(&file, "file", "", "list `file`, CSV or JSON (required; docs/fraud.md)")
		fs.StringVar(&list, "list", "", "list `id` (required)")
		fs.StringVar(&fm, "format", "", "csv or json (default: from the file name)")
		fs.StringVar(&as, "as", "", "operator admin `username` filing the import; password and TOTP code on stdin (required)")
	}
	if err := parseFlags(fs, args[2:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usage("fraud " + cmd + " takes no arguments")
	case tenantID == "":
		return usage("--tenant is required")
	case cmd == "policy set" && (file == "" || as == ""):
		return usage("fraud policy set needs --file and --as")
	case cmd == "watchlist import" && (file == "" || list == "" || as == ""):
		return usage("fraud watchlist import needs --file, --list and --as: a second staff member approves it")
	}
	if fm == "" && file != "" {
		fm = "csv"
		if strings.HasSuffix(strings.ToLower(file), ".json") {
			fm = "json"
		}
	}
	var pol fraud.Policy
	if cmd == "policy set" {
		var err error
		if pol, err = readPolicyFile(file, fraud.MaxPolicyBytes, fraud.ParsePolicy); err != nil {
			return err
		}
	}
	a, err := openTenantApp(ctx, mode, d, tenantID)
	if err != nil {
		return err
	}
	defer a.Close()
	svc, err := a.fraudService()
	if err != nil {
		return err
	}
	switch cmd {
	case "policy show":
		p, ver, err := svc.Policy(ctx, tenantID)
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, map[string]any{"tenant": tenantID, "version": ver, "policy": p})
	case "watchlist list":
		vs, err := svc.Lists(ctx, tenantID)
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, vs)
	case "gallery status":
		st, err := svc.GalleryStatus(ctx, tenantID)
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, st)
	case "gallery reenrol":
		rep, err := reenrolGallery(ctx, a, svc, tenantID, recognizer, resolveModelsDir(modelsDir, d.data))
		if err != nil {
			return err
		}
		return writeIndented(e.stdout, rep)
	}
	// A malformed list is refused before anyone is asked for credentials.
	var (
		entries []fraud.ListEntry
		sum     string
	)
	if cmd == "watchlist import" {
		fh, err := os.Open(file)
		if err != nil {
			return err
		}
		entries, sum, err = fraud.ReadList(fm, list, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	}
	dir, err := newStaffDirectory(a, nil)
	if err != nil {
		return err
	}
	st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), as)
	if err != nil {
		return err
	}
	actor := fraud.Actor{Kind: st.Kind, ID: st.ID, RequestID: st.RequestID}
	if cmd == "policy set" {
		if err := requireAdmin(ctx, dir, st, as, tenantID); err != nil {
			return err
		}
		cur, base, err := svc.Policy(ctx, tenantID)
		if err != nil {
			return err
		}
		if weaker := pol.Weakens(cur); len(weaker) > 0 {
			// A change that weakens a check needs a second admin.
			payload, err := json.Marshal(fraud.PolicyChange{Tenant: tenantID, BaseVersion: base, Policy: pol})
			if err != nil {
				return err
			}
			ap, err := dir.Request(ctx, st, KindFraudPolicySet, payload)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "the change weakens the fraud checks:\n  %s\napproval %s filed; another admin runs: madoguchi admin approve %s --as USER\n",
				strings.Join(weaker, "\n  "), ap.ID, ap.ID)
			return nil
		}
		ver, err := svc.SetPolicy(ctx, actor, tenantID, pol)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "fraud policy version %d stored for tenant %s\n", ver, tenantID)
		return nil
	}
	// Only an operator admin may file the activation (staff.Directory.Request:
	// this kind names no tenant); check before staging, so that a refused
	// import leaves no pending version behind.
	acc, err := dir.Account(ctx, st.ID)
	if err != nil {
		return err
	}
	if acc.TenantID != "" || !slices.Contains(acc.Roles, staff.RoleAdmin) {
		return fmt.Errorf("%s is not an operator admin: %w", as, staff.ErrForbidden)
	}
	staged, err := svc.StageEntries(ctx, actor, tenantID, list, entries, sum)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	payload, err := listActivationPayload(staged)
	if err != nil {
		return err
	}
	ap, err := dir.Request(ctx, st, KindFraudWatchlist, payload)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "watchlist %s version %d staged: %d entries, sha256 %s\napproval %s\n", staged.List, staged.Version, staged.Entries, staged.SHA256, ap.ID)
	fmt.Fprintf(e.stderr, "another staff member activates it with `madoguchi admin approve %s --as USER`\n", ap.ID)
	return nil
}

// reenrolGallery fills the gallery of recognizer's model from the sealed
// selfies of the tenant's approved sessions (fraud.Service.Reenrol,
// ekyc.Service.ReenrolFace), running the face engine in this process. The
// models must be installed; nothing is installed here.
func reenrolGallery(ctx context.Context, a *app, svc *fraud.Service, tenantID, recognizer, modelsDir string) (*fraud.ReenrolReport, error) {
	model, err := face.ModelID(face.LoadOptions{Recognizer: recognizer})
	if err != nil {
		return nil, usageError{fmt.Sprintf("--recognizer %q: want one of %v", recognizer, face.Recognizers())}
	}
	pkgs, err := recognizerPackages(recognizer)
	if err != nil {
		return nil, err
	}
	a.models = newModelSet(modelsDir)
	a.models.pkgs = pkgs
	a.models.ensure(ctx, a.log, false)
	if !a.models.ready() {
		return nil, fmt.Errorf("the %s models in %s are not installed or do not verify (run 'madoguchi models install')", recognizer, modelsDir)
	}
	a.faceRecognizer = recognizer
	es, err := a.newEKYC("http://reenrol.invalid") // no URL is served or signed here
	if err != nil {
		return nil, err
	}
	if got := a.faceEngine().Model(); got != model {
		return nil, fmt.Errorf("the face engine runs %q, not %q: %w", got, model, face.ErrModelMismatch)
	}
	return svc.Reenrol(ctx, tenantID, model, func(ctx context.Context, session string) (*face.Template, error) {
		return es.ReenrolFace(ctx, ekyc.System, tenantID, session)
	})
}

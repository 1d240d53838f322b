package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/oauth"
	"github.com/madoguchi/madoguchi/staff"
)

const oauthPartnerUsage = `oauth partner register|assess|evidence|signoff|request-activation|show CLIENT --tenant ID [flags]

  register CLIENT --redirect-uri URI --grant G [--rar TYPE] [--ciba-mode poll|ping --ciba-endpoint URL]
           [--rate-per-second N] [--rate-per-customer-minute N] --as USER
                       give an API client an OAuth profile, pending until activated
                       (an admin; --redirect-uri, --grant and --rar repeat; rates default
                       to 20 a second for the client and 120 a minute per customer)
  assess CLIENT --area A[,A...] --status met|not_met|not_applicable [--note TEXT] [--evidence FILE] --as USER
                       record criteria areas (an admin); --evidence (a PDF, PNG or JPEG of at
                       most 10 MiB) with exactly one area; recording clears the sign-off
  evidence CLIENT --area A --out FILE --as USER
                       write an area's evidence file (any staff role of the tenant; audited)
  signoff CLIENT --as USER
                       the reviewer's sign-off (a reviewer who recorded none of the areas)
  request-activation CLIENT --as USER
                       file the oauth.client.activate approval (an admin); another admin
                       approves it with "madoguchi admin approve ID"
  show CLIENT          the profile's status, every area and the sign-off

Areas: ` + "security_management, outsourcing, bank_cooperation, facilities, development_operations,\nservice_security, api_security, api_usage, other." + `
--as USER reads USER's password and current TOTP code from stdin, one per line.`

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// runOAuthPartner takes a partner's API client through onboarding (package
// oauth, onboarding.go) from the command line, as the portal's /partners
// pages do; every change is audited with the signed-in staff member.
func runOAuthPartner(ctx context.Context, e *env, args []string) error {
	subs := []string{"register", "assess", "evidence", "signoff", "request-activation", "show"}
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+oauthPartnerUsage)
		return nil
	}
	if len(args) == 0 || !slices.Contains(subs, args[0]) {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+oauthPartnerUsage)
		return usageError{"want oauth partner " + strings.Join(subs, "|")}
	}
	sub, rest := args[0], args[1:]
	fs := newFlagSet(e, "oauth partner "+sub, "oauth partner "+sub+" CLIENT [flags]")
	var (
		d                                  dataFlags
		mode, tenantID, as                 string
		areas, status, note, evidence, out string
		cibaMode, cibaEndpoint             string
		rateClient, rateCustomer           int
		redirects, grants, rars            list
	)
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	fs.StringVar(&tenantID, "tenant", "", "the client's tenant `id` (required)")
	if sub != "show" {
		fs.StringVar(&as, "as", "", "acting staff member's `username` (required; password and TOTP code on stdin)")
	}
	switch sub {
	case "register":
		fs.Var(&redirects, "redirect-uri", "a redirect `URI` (repeat)")
		fs.Var(&grants, "grant", "a grant `type`: authorization_code, refresh_token, urn:openid:params:grant-type:ciba (repeat)")
		fs.Var(&rars, "rar", "an authorization_details `type` the client may request (repeat)")
		fs.StringVar(&cibaMode, "ciba-mode", "", "CIBA delivery `mode`: poll or ping")
		fs.StringVar(&cibaEndpoint, "ciba-endpoint", "", "the client's ping notification `URL`")
		fs.IntVar(&rateClient, "rate-per-second", 0, "the client's requests a second at the OAuth endpoints (`n`, 1-10000; default 20)")
		fs.IntVar(&rateCustomer, "rate-per-customer-minute", 0, "requests a minute per customer on the resource path (`n`, 1-10000; default 120)")
	case "assess":
		fs.StringVar(&areas, "area", "", "criteria `areas`, comma-separated")
		fs.StringVar(&status, "status", "", "met, not_met or not_applicable")
		fs.StringVar(&note, "note", "", "the reviewer-facing `note` (at most 4000 bytes)")
		fs.StringVar(&evidence, "evidence", "", "evidence `file` (PDF, PNG or JPEG)")
	case "evidence":
		fs.StringVar(&areas, "area", "", "the criteria `area`")
		fs.StringVar(&out, "out", "", "write the evidence to `file` (created; never overwritten)")
	}
	var client string
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		client, rest = rest[0], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{"oauth partner " + sub + ": unexpected arguments " + strings.Join(fs.Args(), " ")}
	case client == "" || tenantID == "":
		return usageError{"oauth partner " + sub + " needs CLIENT and --tenant"}
	case len(client) > 128 || len(tenantID) > 128:
		return usageError{"a client or tenant id is at most 128 bytes"}
	case sub != "show" && as == "":
		return usageError{"oauth partner " + sub + " needs --as USER (password and TOTP code on stdin)"}
	case sub == "evidence" && (areas == "" || out == ""):
		return usageError{"oauth partner evidence needs --area and --out"}
	}
	// Input is checked before anyone is asked to sign in.
	var (
		file     []byte
		areaList []string
	)
	if sub == "assess" {
		areaList = strings.Split(areas, ",")
		for _, a := range areaList {
			if !slices.Contains(oauth.CriteriaAreas, a) {
				return usageError{fmt.Sprintf("--area %q: want one of %s", a, strings.Join(oauth.CriteriaAreas, ", "))}
			}
		}
		if evidence != "" {
			if len(areaList) != 1 {
				return usageError{"--evidence goes with exactly one --area"}
			}
			var err error
			if file, err = readCapped(evidence, oauth.MaxEvidenceSize); err != nil {
				return err
			}
			if oauth.EvidenceType(file) == "" {
				return fmt.Errorf("%s: evidence must be a PDF, PNG or JPEG file", evidence)
			}
		}
	}
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return err
	}
	defer a.Close()
	srv, err := a.oauthServer()
	if err != nil {
		return err
	}
	if sub == "show" {
		return showPartner(ctx, e.stdout, srv, tenantID, client)
	}
	dir, err := newStaffDirectory(a, nil)
	if err != nil {
		return err
	}
	st, err := operatorLogin(ctx, dir, bufio.NewReader(io.LimitReader(e.stdin, 16<<10)), as)
	if err != nil {
		return err
	}
	need := staff.RoleAdmin
	switch sub {
	case "signoff":
		need = staff.RoleReviewer
	case "evidence":
		need = ""
	}
	if err := requireRole(ctx, dir, st, as, tenantID, need); err != nil {
		return err
	}
	by := oauth.Actor{Kind: st.Kind, ID: st.ID}
	switch sub {
	case "register":
		_, err = srv.RegisterClient(ctx, by, tenantID, client, oauth.ProfileSpec{RedirectURIs: redirects, GrantTypes: grants,
			RARTypes: rars, CIBAMode: cibaMode, CIBAEndpoint: cibaEndpoint, RateClient: rateClient, RateCustomer: rateCustomer})
		if err == nil {
			fmt.Fprintf(e.stdout, "registered %s (pending)\n", client)
		}
	case "assess":
		name := filepath.Base(evidence)
		if evidence == "" {
			name = ""
		}
		for _, area := range areaList {
			if err = srv.SetAssessmentItem(ctx, by, a.blobs, tenantID, client, area, status, note, name, file); err != nil {
				break
			}
			fmt.Fprintf(e.stdout, "%s\t%s\n", area, status)
		}
	case "evidence":
		var ev oauth.Evidence
		if ev, err = srv.Evidence(ctx, by, a.blobs, tenantID, client, areas); err == nil {
			err = writeNew(out, ev.Data)
		}
		if err == nil {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\n", out, ev.Type, ev.SHA256)
		}
	case "signoff":
		var digest string
		if digest, err = srv.SignOff(ctx, by, tenantID, client); err == nil {
			fmt.Fprintf(e.stdout, "signed off %s\n", digest)
		}
	case "request-activation":
		var payload []byte
		if payload, err = srv.ActivationPayload(ctx, tenantID, client); err == nil {
			var ap staff.Approval
			if ap, err = dir.Request(ctx, st, oauth.KindActivate, payload); err == nil {
				fmt.Fprintln(e.stdout, ap.ID)
			}
		}
	}
	if errors.Is(err, oauth.ErrNotFound) {
		return fmt.Errorf("client %s: no OAuth profile (or area without evidence) in tenant %s", client, tenantID)
	}
	return err
}

// showPartner prints the profile (status, grants, rates), the sign-off and
// each area.
func showPartner(ctx context.Context, w io.Writer, srv *oauth.Server, tenantID, client string) error {
	as, err := srv.Assessment(ctx, tenantID, client)
	if errors.Is(err, oauth.ErrNotFound) {
		return fmt.Errorf("client %s: no OAuth profile in tenant %s", client, tenantID)
	}
	if err != nil {
		return err
	}
	p, err := srv.Profile(ctx, tenantID, client)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "client\t%s\nstatus\t%s\ngrants\t%s\nrates\t%d/s\t%d/min per customer\n", as.ClientID, as.Status,
		strings.Join(p.GrantTypes, " "), p.RateClient, p.RateCustomer)
	if as.SignedOff() {
		fmt.Fprintf(w, "signed off\t%s\t%s\t%s\n", as.Reviewer, as.SignedOffAt.UTC().Format(time.RFC3339), as.Digest)
	} else {
		fmt.Fprintln(w, "signed off\tno")
	}
	for _, it := range as.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", it.Area, it.Status, it.EvidenceType, it.EvidenceSHA256, it.UpdatedBy)
	}
	return nil
}

// writeNew writes b to a new file (0600), refusing to overwrite one.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

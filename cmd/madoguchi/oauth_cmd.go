package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
)

const oauthUsage = `oauth consents list|revoke [flags]
       oauth partner register|assess|evidence|signoff|request-activation|show CLIENT --tenant ID [flags]

  consents list --tenant ID [--client ID] [--customer REF]
                         a tenant's consents, newest first (at most 200): id, client,
                         customer pseudonym, status, granted, expires, scopes,
                         authorization_details types; the reading is audited
  consents revoke ID --tenant ID --as USER
                         revoke a consent and every token of it (an admin of the
                         tenant or the operator; audited, reaches every instance)

  partner ...            partner onboarding (madoguchi oauth partner -h)

--as USER reads USER's password and current TOTP code from stdin, one per line.`

// cliIssuer is the issuer the consent commands build the authorization
// server with: they serve no endpoint, so no URL of theirs is published.
const cliIssuer = "https://madoguchi.invalid"

// runOAuth lists and revokes consents (package oauth, consent.go) from
// the command line, as the portal's consents page and the consents API do.
func runOAuth(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+oauthUsage)
		return nil
	}
	if len(args) > 0 && args[0] == "partner" {
		return runOAuthPartner(ctx, e, args[1:])
	}
	if len(args) < 2 || args[0] != "consents" || (args[1] != "list" && args[1] != "revoke") {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+oauthUsage)
		return usageError{"want oauth consents list or oauth consents revoke"}
	}
	sub, rest := args[1], args[2:]
	fs := newFlagSet(e, "oauth consents "+sub, "oauth consents "+sub+" [flags]")
	var (
		d                                dataFlags
		mode, tenantID, client, customer string
		as                               string
	)
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development or production")
	fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
	var id string
	switch sub {
	case "list":
		fs.StringVar(&client, "client", "", "only this partner client's consents (`id`)")
		fs.StringVar(&customer, "customer", "", "only this customer's consents (`reference`)")
	case "revoke":
		fs.StringVar(&as, "as", "", "acting admin's `username` (required; password and TOTP code on stdin)")
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			id, rest = rest[0], rest[1:]
		}
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usageError{"oauth consents " + sub + ": unexpected arguments " + strings.Join(fs.Args(), " ")}
	case tenantID == "":
		return usageError{"--tenant is required"}
	case sub == "revoke" && id == "":
		return usageError{"oauth consents revoke needs the consent ID"}
	case sub == "revoke" && as == "":
		return usageError{"oauth consents revoke needs --as ADMIN (password and TOTP code on stdin)"}
	case len(id) > 128 || len(client) > 128 || len(customer) > 128:
		return usageError{"an id, client or customer is at most 128 bytes"}
	}
	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), false)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.newIssuer(cliIssuer, 0); err != nil {
		return err
	}
	if err := a.newOAuth(cliIssuer, false); err != nil {
		return err
	}
	if sub == "list" {
		who := oauth.Viewer{Kind: audit.ActorSystem, ID: "cli:" + osUser()}
		cs, err := a.oauth.Consents(ctx, who, tenantID, oauth.ConsentFilter{ClientID: client, Subject: customer})
		if err != nil {
			return err
		}
		for _, c := range cs {
			types := make([]string, len(c.Details))
			for i, dt := range c.Details {
				types[i] = dt.Type
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.ClientID, oauth.CustomerViewer(c.TenantID, c.Subject).ID, c.Status,
				c.CreatedAt.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339), strings.Join(c.Scopes, " "), strings.Join(types, " "))
		}
		return nil
	}
	dir, err := newStaffDirectory(a, nil)
	if err != nil {
		return err
	}
	st, err := operatorLogin(ctx, dir, bufio.NewReader(e.stdin), as)
	if err != nil {
		return err
	}
	if err := requireAdmin(ctx, dir, st, as, tenantID); err != nil {
		return err
	}
	if err := a.oauth.RevokeConsent(ctx, oauth.Viewer{Kind: st.Kind, ID: st.ID}, tenantID, id); err != nil {
		if errors.Is(err, oauth.ErrNotFound) {
			return fmt.Errorf("consent %s: not found in tenant %s", id, tenantID)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "revoked %s\n", id)
	return nil
}

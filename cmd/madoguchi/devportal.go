package main

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/internal/atomicfile"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/tenant"
)

// devPortalPassword is the known password of every account dev portal
// creates. Development data directories only.
const devPortalPassword = "madoguchi-dev-password"

// devPortalFile keeps the accounts dev portal created, with their TOTP
// secrets, so it can print a fresh code later. It lives in the development
// data directory (0600), like the development keys.
const devPortalFile = "dev-portal-staff.json"

type devPortalAccount struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Secret   string `json:"totp_secret,omitempty"` // base32
	Role     string `json:"role"`                  // portal role, e.g. tenant.reviewer
	TenantID string `json:"tenant_id,omitempty"`
	Tenant   string `json:"tenant,omitempty"`
	// Code is the current TOTP code (printed, not stored).
	Code string `json:"code,omitempty"`
}

// devPortal creates portal accounts for development: two operator admins
// (the bootstrap pair, needed to approve role grants), a tenant reviewer
// and a tenant admin, all with the known password, and prints each with a
// current TOTP code. Run again, it creates what is missing and prints fresh
// codes. It refuses a data directory without the development marker.
func devPortal(ctx context.Context, e *env, args []string) error {
	fset := newFlagSet(e, "dev portal", "dev portal [--data DIR] [--tenant NAME] [--prefix P] [--json]")
	var d dataFlags
	d.register(fset, e)
	tenantName := fset.String("tenant", "Development Bank", "the tenant the reviewer and admin belong to (created if missing)")
	prefix := fset.String("prefix", "dev", "username prefix of the tenant staff: <prefix>-reviewer and <prefix>-admin (the operator admins are always dev-operator and dev-operator2)")
	asJSON := fset.Bool("json", false, "print JSON instead of a table")
	if err := parseFlags(fset, args); err != nil {
		return err
	}
	if _, err := os.Stat(d.data); errors.Is(err, fs.ErrNotExist) {
		// Most often dev portal ran before the server's first start had
		// created the directory (a newcomer pasting the portal tour).
		return fmt.Errorf("%s does not exist yet: start the development server first ('madoguchi serve' creates it) and wait until it answers /readyz", d.data)
	}
	if !isDevelopment(d.data) {
		return fmt.Errorf("%s is not a development data directory (no %s marker): portal accounts there are created with 'madoguchi admin staff create' under dual control", d.data, devMarker)
	}
	a, err := openApp(ctx, modeDevelopment, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return err
	}
	defer a.Close()
	store := filepath.Join(d.data, devPortalFile)
	known := map[string]devPortalAccount{}
	if b, err := readCapped(store, 1<<20); err == nil {
		if err := json.Unmarshal(b, &known); err != nil {
			return fmt.Errorf("%s: %w", store, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	save := func(acc devPortalAccount, uri staff.Secret) error {
		u, err := url.Parse(uri.Reveal())
		if err != nil {
			return err
		}
		acc.Secret = u.Query().Get("secret")
		known[acc.Username] = acc
		b, err := json.MarshalIndent(known, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.Write(store, b, 0o600)
	}

	// The operator admins: the bootstrap pair if nobody has bootstrapped.
	sys := staff.Actor{Kind: audit.ActorSystem, OSUser: osUser()}
	admins := []string{"dev-operator", "dev-operator2"}
	var approvers []staff.Actor
	for i, name := range admins {
		if acc, err := a.staff.AccountByUsername(ctx, name); err == nil {
			approvers = append(approvers, staff.Actor{Kind: audit.ActorStaff, ID: acc.ID, OSUser: osUser()})
			continue
		}
		by := sys
		if i > 0 && len(approvers) > 0 {
			by = approvers[0]
		}
		en, err := a.staff.Bootstrap(ctx, by, name, []byte(devPortalPassword))
		if errors.Is(err, staff.ErrBootstrapDone) {
			break
		}
		if err != nil {
			return fmt.Errorf("bootstrap %s: %w", name, err)
		}
		if err := save(devPortalAccount{Username: name, Password: devPortalPassword, Role: "operator.admin"}, en.TOTPURI); err != nil {
			return err
		}
		approvers = append(approvers, staff.Actor{Kind: audit.ActorStaff, ID: en.Account.ID, OSUser: osUser()})
	}
	if len(approvers) < 2 {
		return fmt.Errorf("the first two admins of this data directory were created outside dev portal, so it cannot approve role grants; use a fresh --data directory")
	}

	// The tenant and its staff.
	ten, err := devTenant(ctx, a, *tenantName)
	if err != nil {
		return err
	}
	for _, want := range []struct {
		name string
		role staff.Role
	}{{*prefix + "-reviewer", staff.RoleReviewer}, {*prefix + "-admin", staff.RoleAdmin}} {
		if _, err := a.staff.AccountByUsername(ctx, want.name); err == nil {
			continue
		}
		en, err := a.staff.CreateTenantAccount(ctx, approvers[0], ten.ID, want.name, []byte(devPortalPassword))
		if err != nil {
			return fmt.Errorf("create %s: %w", want.name, err)
		}
		grant, _ := json.Marshal(staff.RoleGrant{StaffID: en.Account.ID, Role: want.role})
		ap, err := a.staff.Request(ctx, approvers[0], staff.KindRoleGrant, grant)
		if err != nil {
			return err
		}
		if _, err := a.staff.Approve(ctx, ap.ID, approvers[1]); err != nil {
			return err
		}
		if err := save(devPortalAccount{Username: want.name, Password: devPortalPassword, Role: "tenant." + string(want.role),
			TenantID: ten.ID, Tenant: ten.Name}, en.TOTPURI); err != nil {
			return err
		}
	}

	// Print everything known, each with the current code.
	now := time.Now()
	var out []devPortalAccount
	for _, name := range append(admins, *prefix+"-reviewer", *prefix+"-admin") {
		acc, ok := known[name]
		if !ok {
			continue
		}
		secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(acc.Secret)
		if err != nil {
			return fmt.Errorf("%s: bad secret for %s", store, name)
		}
		acc.Code = staff.TOTPCode(secret, now)
		acc.Secret = ""
		out = append(out, acc)
	}
	if *asJSON {
		return json.NewEncoder(e.stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tPASSWORD\tCODE NOW\tROLE\tTENANT")
	for _, acc := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", acc.Username, acc.Password, acc.Code, acc.Role, acc.Tenant)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\nCodes change every 30 s and each is accepted once: run 'madoguchi dev portal%s' again for fresh ones.\n", dataArg(d.data))
	return nil
}

// dataArg repeats --data for a printed command, unless it is the default.
func dataArg(dir string) string {
	if dir == defaultDataDir {
		return ""
	}
	return " --data " + dir
}

// devTenant finds a tenant by name or creates it.
func devTenant(ctx context.Context, a *app, name string) (tenant.Tenant, error) {
	ts, err := a.tenants.ListTenants(ctx)
	if err != nil {
		return tenant.Tenant{}, err
	}
	for _, t := range ts {
		if strings.EqualFold(t.Name, name) {
			return t, nil
		}
	}
	return a.tenants.CreateTenant(ctx, tenant.Actor{Kind: audit.ActorSystem, ID: "dev-portal", OSUser: osUser()}, name)
}

package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// The admin command is the local operator's console. It runs with direct
// access to the data directory (database and keys), so it is as trusted as
// the machine account running it. Within that trust it keeps dual control
// honest: an action taken --as a staff member needs that member's password
// and current TOTP code (read from stdin, one per line), so one person
// cannot both request and approve without the second person's credentials.
// Every entry records the staff id and the OS user.
const adminUsage = `admin <subcommand> [flags]

subcommands:
  tenant create --name NAME              create a tenant, print its id
  tenant list                            list tenants
  client create --tenant ID --name N --scopes a,b (--jwks FILE | --cert FILE) --as USER
                                         request a new API client (dual control), print the approval id
  client list --tenant ID                list a tenant's clients
  client disable|enable --tenant ID --client ID --as USER
                                         disable an API client (its access tokens are revoked at once)
                                         or re-enable it
  staff disable|enable --username U --as USER
                                         disable a staff account (its sessions end at once) or re-enable it
  alerts --as USER [--all]               list sign-in alerts (backoff, distributed guessing, spraying);
                                         --all includes acknowledged ones
  alerts ack ID --as USER                acknowledge an alert
  staff create --username U --role R [--as USER]
                                         create a staff account, print its id and one-time TOTP URI;
                                         the first admin needs no --as, the second is created --as the
                                         first (bootstrap: dual control needs two admins); later
                                         accounts get their role through an approval (id printed)
  approve ID --as USER                   approve a request (a different admin than the requester)
  reject ID --as USER [--reason TEXT]    reject a request
  approvals [--status pending]           list approval requests

--as USER reads USER's password and current TOTP code from stdin, one per line.
staff create reads the new account's initial password from stdin first.
Every subcommand takes --data, --db and --mode.`

func runAdmin(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: madoguchi "+adminUsage)
		return usageError{"missing subcommand"}
	}
	sub, rest := args[0], args[1:]
	if (sub == "tenant" || sub == "client" || sub == "staff" || sub == "alerts" && len(rest) > 0 && rest[0] == "ack") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		sub, rest = sub+" "+rest[0], rest[1:]
	}
	switch sub {
	case "tenant create", "tenant list", "client create", "client list", "staff create", "approve", "reject", "approvals",
		"client disable", "client enable", "staff disable", "staff enable", "alerts", "alerts ack":
	case "-h", "--help", "help":
		fmt.Fprintln(e.stderr, "usage: madoguchi "+adminUsage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(e.stderr, "usage: madoguchi "+adminUsage)
		return usageError{fmt.Sprintf("unknown admin subcommand %q", sub)}
	}
	fs := newFlagSet(e, "admin "+sub, "admin "+sub+" [flags]")
	var (
		d                          dataFlags
		mode, name, tenantID, as   string
		scopes, jwksFile, certFile string
		username, role, reason     string
		status, clientID           string
		all                        bool
		tlsCAFile                  string
		tlsID                      tenant.TLSIdentity
	)
	d.register(fs, e)
	envString(fs, e, &mode, "mode", "MADOGUCHI_MODE", modeDevelopment, "development (generates missing keys) or production (refuses to run without them)")
	switch sub {
	case "tenant create":
		fs.StringVar(&name, "name", "", "tenant `name` (required)")
		fs.StringVar(&as, "as", "", "staff `username` acting (optional; reads password and TOTP from stdin)")
	case "client create":
		fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
		fs.StringVar(&name, "name", "", "client `name` (required)")
		fs.StringVar(&scopes, "scopes", "", "comma-separated `scopes` (required)")
		fs.StringVar(&jwksFile, "jwks", "", "JWKS `file` with the client's public keys (private_key_jwt)")
		fs.StringVar(&certFile, "cert", "", "PEM certificate `file` (self_signed_tls_client_auth)")
		fs.StringVar(&tlsCAFile, "tls-ca", "", "PEM `file` of the CA that issues the client's certificate (tls_client_auth; with one --tls-* name)")
		fs.StringVar(&tlsID.SubjectDN, "tls-subject-dn", "", "the certificate's subject `DN` (RFC 4514, tls_client_auth)")
		fs.StringVar(&tlsID.SANDNS, "tls-san-dns", "", "a dNSName `SAN` of the certificate (tls_client_auth)")
		fs.StringVar(&tlsID.SANURI, "tls-san-uri", "", "a URI `SAN` of the certificate (tls_client_auth)")
		fs.StringVar(&tlsID.SANIP, "tls-san-ip", "", "an IP-address `SAN` of the certificate (tls_client_auth)")
		fs.StringVar(&tlsID.SANEmail, "tls-san-email", "", "an e-mail `SAN` of the certificate (tls_client_auth)")
		fs.StringVar(&as, "as", "", "requesting admin's `username` (required)")
	case "client list":
		fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
	case "staff create":
		fs.StringVar(&username, "username", "", "new account's `username` (required)")
		fs.StringVar(&role, "role", "", "`role`: admin, reviewer or auditor (required)")
		fs.StringVar(&as, "as", "", "requesting admin's `username` (required after bootstrap)")
	case "approve", "reject":
		fs.StringVar(&as, "as", "", "deciding admin's `username` (required)")
		if sub == "reject" {
			fs.StringVar(&reason, "reason", "", "reason, stored with the request")
		}
	case "approvals":
		fs.StringVar(&status, "status", "", "only requests with this `status` (pending, approved, rejected, expired, failed)")
	case "client disable", "client enable":
		fs.StringVar(&tenantID, "tenant", "", "tenant `id` (required)")
		fs.StringVar(&clientID, "client", "", "client `id` (required)")
		fs.StringVar(&as, "as", "", "acting admin's `username` (required)")
	case "staff disable", "staff enable":
		fs.StringVar(&username, "username", "", "the account's `username` (required)")
		fs.StringVar(&as, "as", "", "acting admin's `username` (required)")
	case "alerts", "alerts ack":
		fs.StringVar(&as, "as", "", "acting admin's `username` (required)")
		if sub == "alerts" {
			fs.BoolVar(&all, "all", false, "include acknowledged alerts")
		}
	}
	// Flags may follow the positional approval id.
	var pos []string
	if (sub == "approve" || sub == "reject" || sub == "alerts ack") && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = rest[:1], rest[1:]
	}
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	wantPos := 0
	if sub == "approve" || sub == "reject" || sub == "alerts ack" {
		wantPos = 1
	}
	if len(pos) != wantPos {
		return usageError{fmt.Sprintf("admin %s: unexpected arguments %q", sub, pos)}
	}
	required := map[string]string{}
	switch sub {
	case "tenant create":
		required["--name"] = name
	case "client create":
		required["--tenant"], required["--name"], required["--scopes"], required["--as"] = tenantID, name, scopes, as
		if n := btoi(jwksFile != "") + btoi(certFile != "") + btoi(tlsCAFile != ""); n != 1 {
			return usageError{"admin client create needs exactly one of --jwks, --cert or --tls-ca"}
		}
		if (tlsCAFile == "") != (tlsID == tenant.TLSIdentity{}) {
			return usageError{"admin client create: --tls-ca goes with one of --tls-subject-dn, --tls-san-dns, --tls-san-uri, --tls-san-ip, --tls-san-email"}
		}
	case "client list":
		required["--tenant"] = tenantID
	case "staff create":
		required["--username"], required["--role"] = username, role
	case "approve", "reject", "alerts", "alerts ack":
		required["--as"] = as
	case "client disable", "client enable":
		required["--tenant"], required["--client"], required["--as"] = tenantID, clientID, as
	case "staff disable", "staff enable":
		required["--username"], required["--as"] = username, as
	}
	for flag, v := range required {
		if v == "" {
			return usageError{fmt.Sprintf("admin %s needs %s", sub, flag)}
		}
	}

	a, err := openApp(ctx, mode, d, slog.New(slog.DiscardHandler), true)
	if err != nil {
		return err
	}
	defer a.Close()
	var created *tenant.Client
	dir, err := newStaffDirectory(a, func(c tenant.Client) { created = &c })
	if err != nil {
		return err
	}
	in := bufio.NewReaderSize(io.LimitReader(e.stdin, 16<<10), 4<<10)
	login := func() (staff.Actor, error) {
		return operatorLogin(ctx, dir, in, as)
	}

	switch sub {
	case "tenant create":
		actor := tenant.Actor{Kind: audit.ActorSystem, OSUser: osUser()}
		if as != "" {
			st, err := login()
			if err != nil {
				return err
			}
			actor = tenant.Actor{Kind: st.Kind, ID: st.ID, OSUser: st.OSUser}
		}
		t, err := a.tenants.CreateTenant(ctx, actor, name)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, t.ID)
	case "tenant list":
		ts, err := a.tenants.ListTenants(ctx)
		if err != nil {
			return err
		}
		for _, t := range ts {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", t.ID, t.Status, t.CreatedAt.Format(time.RFC3339), t.Name)
		}
	case "client create":
		spec := tenant.ClientSpec{Name: name}
		for _, s := range strings.Split(scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				spec.Scopes = append(spec.Scopes, s)
			}
		}
		file, limit := jwksFile, tenant.MaxJWKSLen
		if certFile != "" || tlsCAFile != "" {
			file, limit = certFile+tlsCAFile, tenant.MaxCertPEMLen
		}
		b, err := readCapped(file, int64(limit))
		if err != nil {
			return err
		}
		switch {
		case certFile != "":
			spec.CertPEM = string(b)
		case tlsCAFile != "":
			spec.TLSIdentity = tlsID
			spec.CAPEM = string(b)
		default:
			spec.JWKS = string(b)
		}
		if _, err := a.tenants.Tenant(ctx, tenantID); err != nil {
			return fmt.Errorf("tenant %s: %w", tenantID, err)
		}
		payload, err := json.Marshal(clientCreate{TenantID: tenantID, Client: spec})
		if err != nil {
			return err
		}
		st, err := login()
		if err != nil {
			return err
		}
		ap, err := dir.Request(ctx, st, staff.KindClientCreate, payload)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, ap.ID)
	case "client list":
		if _, err := a.tenants.Tenant(ctx, tenantID); err != nil {
			return fmt.Errorf("tenant %s: %w", tenantID, err)
		}
		cs, err := a.tenants.ListClients(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Status, c.Method, strings.Join(c.Scopes, ","), c.Name)
		}
	case "staff create":
		r, err := staff.ParseRole(role)
		if err != nil {
			return usageError{err.Error()}
		}
		pw, err := readLine(in)
		if err != nil {
			return fmt.Errorf("reading the initial password from stdin: %w", err)
		}
		var by staff.Actor
		if as == "" {
			if r != staff.RoleAdmin {
				return usageError{"without --as only the first admin can be created (bootstrap)"}
			}
			by = staff.Actor{Kind: audit.ActorSystem, OSUser: osUser()}
		} else if by, err = login(); err != nil {
			return err
		}
		if r == staff.RoleAdmin {
			// The first two admins need no approval: dual control needs two.
			en, err := dir.Bootstrap(ctx, by, username, []byte(pw))
			if err == nil {
				fmt.Fprintln(e.stdout, en.Account.ID)
				fmt.Fprintln(e.stdout, en.TOTPURI.Reveal())
				return nil
			}
			if !errors.Is(err, staff.ErrBootstrapDone) {
				return err
			}
			if as == "" {
				return fmt.Errorf("%w: pass --as to request the account through dual control", err)
			}
		}
		en, err := dir.CreateAccount(ctx, by, username, []byte(pw))
		if err != nil {
			return err
		}
		grant, _ := json.Marshal(staff.RoleGrant{StaffID: en.Account.ID, Role: r})
		ap, err := dir.Request(ctx, by, staff.KindRoleGrant, grant)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, en.Account.ID)
		fmt.Fprintln(e.stdout, en.TOTPURI.Reveal())
		fmt.Fprintln(e.stdout, ap.ID)
	case "approve":
		st, err := login()
		if err != nil {
			return err
		}
		ap, err := dir.Approve(ctx, pos[0], st)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s %s\n", ap.ID, ap.Kind, ap.Status)
		if created != nil {
			fmt.Fprintf(e.stdout, "client %s tenant %s\n", created.ID, created.TenantID)
		}
	case "reject":
		st, err := login()
		if err != nil {
			return err
		}
		ap, err := dir.Reject(ctx, pos[0], st, reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %s %s\n", ap.ID, ap.Kind, ap.Status)
	case "client disable", "client enable":
		st, err := login()
		if err != nil {
			return err
		}
		if err := requireAdmin(ctx, dir, st, as, tenantID); err != nil {
			return err
		}
		act := tenant.Actor{Kind: st.Kind, ID: st.ID, OSUser: st.OSUser}
		if sub == "client disable" {
			err = a.tenants.DisableClient(ctx, act, tenantID, clientID)
		} else {
			err = a.tenants.EnableClient(ctx, act, tenantID, clientID)
		}
		if err != nil {
			return fmt.Errorf("client %s of tenant %s: %w", clientID, tenantID, err)
		}
		fmt.Fprintf(e.stdout, "%s %sd\n", clientID, strings.TrimPrefix(sub, "client "))
	case "staff disable", "staff enable":
		st, err := login()
		if err != nil {
			return err
		}
		acc, err := dir.AccountByUsername(ctx, username)
		if err != nil {
			return fmt.Errorf("staff %s: %w", username, err)
		}
		if sub == "staff disable" {
			err = dir.DisableAccount(ctx, st, acc.ID)
		} else {
			err = dir.EnableAccount(ctx, st, acc.ID)
		}
		if err != nil {
			return fmt.Errorf("staff %s: %w", username, err)
		}
		fmt.Fprintf(e.stdout, "%s %sd\n", acc.ID, strings.TrimPrefix(sub, "staff "))
	case "alerts":
		st, err := login()
		if err != nil {
			return err
		}
		list, err := dir.Alerts(ctx, st, all, 0)
		if err != nil {
			return err
		}
		for _, al := range list {
			acked := "-"
			if al.AckedBy != "" {
				acked = "acked by " + al.AckedBy
			}
			target := al.StaffID
			if target == "" {
				target = "(no such account)"
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", al.ID, al.CreatedAt.Format(time.RFC3339), al.Kind, target, al.Count, al.Source, acked)
		}
	case "alerts ack":
		st, err := login()
		if err != nil {
			return err
		}
		if err := dir.AcknowledgeAlert(ctx, st, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s acknowledged\n", pos[0])
	case "approvals":
		aps, err := dir.Approvals(ctx, status)
		if err != nil {
			return err
		}
		for _, ap := range aps {
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\t%s\n", ap.ID, ap.Kind, ap.Status, ap.Requester, ap.ExpiresAt.Format(time.RFC3339))
		}
	}
	return nil
}

// clientCreate is the payload of a "client.create" approval.
type clientCreate struct {
	TenantID string            `json:"tenant_id"`
	Client   tenant.ClientSpec `json:"client"`
}

func parseClientCreate(b []byte) (clientCreate, error) {
	var p clientCreate
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("client.create payload: %v", err)
	}
	if p.TenantID == "" {
		return p, errors.New("client.create payload: tenant_id missing")
	}
	return p, nil
}

// newStaffDirectory builds the staff directory with the approval executors
// the installation supports: client.create runs tenant.Registry.CreateClientTx
// inside the approval's transaction; ekyc.policy.set stores a weakening
// eKYC policy change (ekyc.go); kek.rotate rotates the KEK right after
// the approval commits (a key file or KMS cannot join a database
// transaction). onClient, if set, receives each client created. The server
// should build its Directory the same way. opts adjust the rest of the
// configuration (the server's session limits).
func newStaffDirectory(a *app, onClient func(tenant.Client), opts ...func(*staff.Config)) (*staff.Directory, error) {
	execs := map[string]staff.Executor{
		staff.KindClientCreate: {
			Validate: func(b []byte) error {
				p, err := parseClientCreate(b)
				if err != nil {
					return err
				}
				return p.Client.Validate(time.Now())
			},
			Run: func(ctx context.Context, tx *store.Tx, ap staff.Approval, by staff.Actor) error {
				p, err := parseClientCreate(ap.Payload)
				if err != nil {
					return err
				}
				c, err := a.tenants.CreateClientTx(ctx, tx, tenant.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID, OSUser: by.OSUser}, p.TenantID, p.Client)
				if err == nil && onClient != nil {
					onClient(c)
				}
				return err
			},
		},
		staff.KindKEKRotate: {
			Validate: func(b []byte) error {
				if len(bytes.TrimSpace(b)) != 0 && string(bytes.TrimSpace(b)) != "{}" {
					return errors.New("kek.rotate takes no payload")
				}
				return nil
			},
			AfterCommit: func(ctx context.Context, ap staff.Approval, by staff.Actor) error {
				_, err := a.vault.RotateKEK(ctx, vault.Actor{Kind: by.Kind, ID: by.ID, RequestID: by.RequestID})
				return err
			},
		},
	}
	for k, ex := range trustExecutors(a) {
		execs[k] = ex
	}
	for k, ex := range fraudExecutors(a) {
		execs[k] = ex
	}
	execs[kindEKYCPolicySet] = ekycPolicySetExecutor(a)
	portalExecutors(a, execs)
	cfg := staff.Config{Executors: execs}
	for _, o := range opts {
		o(&cfg)
	}
	return staff.New(a.db, a.audit, a.vault, cfg)
}

// operatorLogin authenticates the staff member named by --as with the
// password and TOTP code on the next two stdin lines.
func operatorLogin(ctx context.Context, dir *staff.Directory, in *bufio.Reader, username string) (staff.Actor, error) {
	if username == "" {
		return staff.Actor{}, usageError{"--as USER is required"}
	}
	pw, err := readLine(in)
	if err != nil {
		return staff.Actor{}, fmt.Errorf("reading %s's password from stdin: %w", username, err)
	}
	code, err := readLine(in)
	if err != nil {
		return staff.Actor{}, fmt.Errorf("reading %s's TOTP code from stdin: %w", username, err)
	}
	sess, err := dir.Authenticate(ctx, username, pw, code, "")
	if err != nil {
		return staff.Actor{}, err
	}
	// The CLI uses the session only to prove identity once.
	_ = dir.Logout(ctx, sess.Token.Reveal())
	return staff.Actor{Kind: audit.ActorStaff, ID: sess.StaffID, OSUser: osUser()}, nil
}

// requireAdmin refuses a signed-in staff member without the admin role, and
// a tenant's admin acting on another tenant (tenantID): an operator admin
// may act on every tenant, a tenant admin only on its own.
func requireAdmin(ctx context.Context, dir *staff.Directory, st staff.Actor, username, tenantID string) error {
	return requireRole(ctx, dir, st, username, tenantID, staff.RoleAdmin)
}

// requireRole is requireAdmin for role ("": any staff role).
func requireRole(ctx context.Context, dir *staff.Directory, st staff.Actor, username, tenantID string, role staff.Role) error {
	acc, err := dir.Account(ctx, st.ID)
	if err != nil {
		return err
	}
	name := "an active " + string(role)
	if role == "" {
		name = "active staff with a role"
	}
	if acc.Status != staff.StatusActive || (role == "" && len(acc.Roles) == 0) || (role != "" && !slices.Contains(acc.Roles, role)) {
		return fmt.Errorf("%s is not %s: %w", username, name, staff.ErrForbidden)
	}
	if acc.TenantID != "" && acc.TenantID != tenantID {
		return fmt.Errorf("%s is an %s of another tenant: %w", username, cmp.Or(string(role), "account"), staff.ErrForbidden)
	}
	return nil
}

// readLine reads one line (without its line ending) from in.
func readLine(in *bufio.Reader) (string, error) {
	line, err := in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		if err == io.EOF {
			return "", errors.New("unexpected end of input")
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

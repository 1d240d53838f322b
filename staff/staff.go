package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Auditor appends an audit entry inside the caller's transaction; *audit.Log
// satisfies it.
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Sealer encrypts TOTP secrets at rest; *vault.Vault satisfies it. Each
// account's secret is sealed under its own data subject
// (SubjectTenant, staff id), with the account id as associated data.
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

var (
	_ Auditor = (*audit.Log)(nil)
	_ Sealer  = (*vault.Vault)(nil)
)

// SubjectTenant is the vault tenant under which staff secrets are sealed
// (staff belong to the installation, not to a tenant).
const SubjectTenant = "_staff"

// Role is a staff role.
type Role string

const (
	RoleAdmin    Role = "admin"
	RoleReviewer Role = "reviewer"
	RoleAuditor  Role = "auditor"
)

// ParseRole accepts admin, reviewer or auditor.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleReviewer, RoleAuditor:
		return r, nil
	}
	return "", fmt.Errorf("%w: role must be admin, reviewer or auditor", ErrInvalidInput)
}

// Actor is who performs a change, for the audit log: a staff member, or the
// local operator (Kind audit.ActorSystem) during bootstrap. OSUser is the
// operating-system account that ran the CLI ("" elsewhere).
type Actor struct {
	Kind      string
	ID        string
	RequestID string
	OSUser    string
}

func (a Actor) entry(action, object, outcome string, details map[string]string) audit.Entry {
	if details == nil {
		details = map[string]string{}
	}
	if a.OSUser != "" {
		details["os_user"] = a.OSUser
	}
	return audit.Entry{ActorKind: a.Kind, ActorID: a.ID, Action: action, Object: object,
		RequestID: a.RequestID, Outcome: outcome, Details: details}
}

// Config tunes a Directory. Zero fields take the defaults shown.
type Config struct {
	Argon2 Argon2Params // DefaultArgon2
	// MaxFailures consecutive failures of one (username, source) pair start
	// its backoff (default 5).
	MaxFailures int
	// BackoffBase is the first backoff (default 30 s); it doubles with each
	// further failure up to BackoffMax (default 15 minutes).
	BackoffBase, BackoffMax time.Duration
	// FailureWindow: a pair's failure count is forgotten after this long
	// without failures (default 24 hours).
	FailureWindow time.Duration
	// AlertSources: a username failing from this many sources within
	// AlertWindow raises AlertDistributed (default 5); AlertUsernames: a
	// source failing on this many usernames raises AlertSpray (default 10).
	// AlertWindow defaults to 1 hour.
	AlertSources, AlertUsernames int
	AlertWindow                  time.Duration
	// OnAlert, if set, is called after an alert is committed (metrics,
	// notification hooks). It must not block.
	OnAlert func(Alert)
	// HashSlots argon2id verifications run at once (default GOMAXPROCS);
	// at most HashQueue more wait (default 4 x HashSlots), each at most
	// HashWait (default 2 s); beyond that sign-in answers ErrBusy.
	HashSlots, HashQueue int
	HashWait             time.Duration
	SessionTTL           time.Duration       // 8 hours absolute
	IdleTimeout          time.Duration       // 15 minutes without use
	ApprovalTTL          time.Duration       // 24 hours
	TOTPIssuer           string              // "Madoguchi"
	Executors            map[string]Executor // approval kinds besides the built-in "role.grant"
	Now                  func() time.Time
}

// Directory holds staff accounts, sessions and dual-control approvals.
type Directory struct {
	db     *store.DB
	audit  Auditor
	sealer Sealer
	cfg    Config
	exec   map[string]Executor
	dummy  string // a hash verified for unknown usernames, to even out timing
	gate   *hashGate
	// hashes counts argon2id sign-in verifications (tests compare the work
	// done for real and unknown accounts).
	hashes   atomic.Int64
	counters signInCounters
}

// New returns a Directory. Executors are fixed at construction.
func New(db *store.DB, a Auditor, s Sealer, cfg Config) (*Directory, error) {
	if db == nil || a == nil || s == nil {
		return nil, errors.New("staff: New needs a store, an auditor and a sealer")
	}
	if cfg.Argon2 == (Argon2Params{}) {
		cfg.Argon2 = DefaultArgon2
	}
	if err := cfg.Argon2.validate(); err != nil {
		return nil, err
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.BackoffBase, 30*time.Second)
	def(&cfg.BackoffMax, 15*time.Minute)
	def(&cfg.FailureWindow, 24*time.Hour)
	def(&cfg.AlertWindow, time.Hour)
	def(&cfg.HashWait, 2*time.Second)
	if cfg.AlertSources <= 0 {
		cfg.AlertSources = 5
	}
	if cfg.AlertUsernames <= 0 {
		cfg.AlertUsernames = 10
	}
	if cfg.HashSlots <= 0 {
		cfg.HashSlots = runtime.GOMAXPROCS(0)
	}
	if cfg.HashQueue <= 0 {
		cfg.HashQueue = 4 * cfg.HashSlots
	}
	def(&cfg.SessionTTL, 8*time.Hour)
	def(&cfg.IdleTimeout, 15*time.Minute)
	def(&cfg.ApprovalTTL, 24*time.Hour)
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Madoguchi"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Directory{db: db, audit: a, sealer: s, cfg: cfg, exec: map[string]Executor{},
		gate: newHashGate(cfg.HashSlots, cfg.HashQueue, cfg.HashWait)}
	for k, e := range cfg.Executors {
		if !kindRE.MatchString(k) || e.Run == nil && e.AfterCommit == nil {
			return nil, fmt.Errorf("staff: bad executor for kind %q", k)
		}
		d.exec[k] = e
	}
	if _, ok := d.exec[KindRoleGrant]; ok {
		return nil, fmt.Errorf("staff: %q is built in", KindRoleGrant)
	}
	d.exec[KindRoleGrant] = Executor{Validate: validateRoleGrant, Run: d.runRoleGrant}
	dummy, err := HashPassword([]byte("dummy password for timing"), cfg.Argon2)
	if err != nil {
		return nil, err
	}
	d.dummy = dummy
	return d, nil
}

var usernameRE = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,63}$`)

// Account is a staff account (no secrets).
type Account struct {
	ID       string
	Username string
	// TenantID is the tenant the account belongs to; "" for an operator
	// account (scope.go).
	TenantID  string
	Roles     []Role
	Status    string
	CreatedAt time.Time
}

// Secret is a one-time value shown to the operator (TOTP provisioning URI,
// session token). It redacts itself in logs and formatting.
type Secret string

func (s Secret) Reveal() string       { return string(s) }
func (s Secret) String() string       { return "[REDACTED]" }
func (s Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Enrollment is a new account with its one-time TOTP provisioning URI.
type Enrollment struct {
	Account Account
	TOTPURI Secret
}

func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()) }

func (d *Directory) now() time.Time { return d.cfg.Now().UTC().Truncate(time.Microsecond) }

// createTx inserts an account with a fresh TOTP secret sealed by the vault.
func (d *Directory) createTx(ctx context.Context, tx *store.Tx, username string, password []byte) (Enrollment, error) {
	if !usernameRE.MatchString(username) {
		return Enrollment{}, fmt.Errorf("%w: username must match %s", ErrInvalidInput, usernameRE)
	}
	if err := CheckPassword(password); err != nil {
		return Enrollment{}, err
	}
	hash, err := HashPassword(password, d.cfg.Argon2)
	if err != nil {
		return Enrollment{}, err
	}
	secret := make([]byte, TOTPSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return Enrollment{}, err
	}
	a := Account{ID: newID("st_"), Username: username, Status: "active", CreatedAt: d.now()}
	sealed, err := d.sealer.Seal(ctx, tx, subject(a.ID), aad(a.ID), secret)
	if err != nil {
		return Enrollment{}, fmt.Errorf("staff: seal TOTP secret: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO staff_accounts (id, username, password_hash, totp_secret, totp_last_step, failed_count, locked_until, status, created_at)
		VALUES (?, ?, ?, ?, 0, 0, 0, ?, ?)`, a.ID, username, hash, sealed, a.Status, store.Micros(a.CreatedAt)); err != nil {
		return Enrollment{}, mapErr(err)
	}
	return Enrollment{Account: a, TOTPURI: Secret(provisioningURI(d.cfg.TOTPIssuer, username, secret))}, nil
}

func subject(staffID string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: SubjectTenant, Subject: staffID}
}

func aad(staffID string) []byte { return vault.AAD("staff.totp", staffID) }

// BootstrapAdmins is how many admins can be created without approval: dual
// control needs two admins before anyone can approve anything.
const BootstrapAdmins = 2

// Bootstrap creates one of the first BootstrapAdmins admins without an
// approval (there is nobody to approve yet). The first is created by the
// local operator (by.Kind audit.ActorSystem, by.OSUser recorded); the second
// must be created by the first, authenticated (by is that admin). After that
// it is ErrBootstrapDone and roles come only through approved role.grant
// requests.
func (d *Directory) Bootstrap(ctx context.Context, by Actor, username string, password []byte) (Enrollment, error) {
	var en Enrollment
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_bootstrap`).Scan(&n); err != nil {
			return err
		}
		switch {
		case n >= BootstrapAdmins:
			return ErrBootstrapDone
		case n > 0:
			if err := d.requireRole(ctx, tx, by, RoleAdmin); err != nil {
				return fmt.Errorf("%w: the second admin must be created by the first", err)
			}
		case by.Kind != audit.ActorSystem:
			return fmt.Errorf("%w: the first admin is created by the local operator", ErrForbidden)
		}
		var err error
		if en, err = d.createTx(ctx, tx, username, password); err != nil {
			return err
		}
		now := store.Micros(d.now())
		if _, err := tx.Exec(ctx, `INSERT INTO staff_bootstrap (id, staff_id, created_at) VALUES (?, ?, ?)`, n+1, en.Account.ID, now); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return ErrBootstrapDone
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO staff_roles (staff_id, role, granted_at) VALUES (?, ?, ?)`, en.Account.ID, string(RoleAdmin), now); err != nil {
			return err
		}
		en.Account.Roles = []Role{RoleAdmin}
		_, err = d.audit.Append(ctx, tx, by.entry("staff.bootstrap", en.Account.ID, audit.OutcomeOK,
			map[string]string{"role": string(RoleAdmin), "slot": fmt.Sprint(n + 1)}))
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return en, nil
}

// CreateAccount creates an account without roles; an admin must be the
// actor. Roles come only through an approved "role.grant" request.
func (d *Directory) CreateAccount(ctx context.Context, actor Actor, username string, password []byte) (Enrollment, error) {
	var en Enrollment
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireRole(ctx, tx, actor, RoleAdmin); err != nil {
			return err
		}
		var err error
		if en, err = d.createTx(ctx, tx, username, password); err != nil {
			return err
		}
		_, err = d.audit.Append(ctx, tx, actor.entry("staff.create", en.Account.ID, audit.OutcomeOK, nil))
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return en, nil
}

// requireRole checks that actor is an active operator staff member holding
// role: installation-wide operations (bootstrap, accounts, dual control)
// are never open to a tenant's staff, whatever their role.
func (d *Directory) requireRole(ctx context.Context, tx *store.Tx, actor Actor, role Role) error {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return ErrForbidden
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_roles r JOIN staff_accounts a ON a.id = r.staff_id
		WHERE r.staff_id = ? AND r.role = ? AND a.status = 'active' AND a.tenant_id IS NULL`, actor.ID, string(role)).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: needs role %s", ErrForbidden, role)
	}
	return nil
}

// Account returns an account by id.
func (d *Directory) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	var created int64
	var tenantID *string
	err := d.db.QueryRow(ctx, `SELECT id, username, status, created_at, tenant_id FROM staff_accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Username, &a.Status, &created, &tenantID)
	if err != nil {
		return Account{}, mapErr(err)
	}
	a.CreatedAt = store.FromMicros(created)
	if tenantID != nil {
		a.TenantID = *tenantID
	}
	roles, err := d.roles(ctx, d.db, id)
	a.Roles = roles
	return a, err
}

// AccountByUsername returns an account by username.
func (d *Directory) AccountByUsername(ctx context.Context, username string) (Account, error) {
	var id string
	if err := d.db.QueryRow(ctx, `SELECT id FROM staff_accounts WHERE username = ?`, username).Scan(&id); err != nil {
		return Account{}, mapErr(err)
	}
	return d.Account(ctx, id)
}

func (d *Directory) roles(ctx context.Context, db *store.DB, id string) ([]Role, error) {
	rows, err := db.Query(ctx, `SELECT role FROM staff_roles WHERE staff_id = ? ORDER BY role`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Role
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, err
		}
		out = append(out, Role(r))
	}
	return out, rows.Err()
}

// Session is an authenticated portal session.
type Session struct {
	Token     Secret // opaque; the database keeps only its SHA-256
	StaffID   string
	Roles     []Role
	ExpiresAt time.Time
}

// Principal is the staff member behind a valid session.
type Principal struct {
	StaffID string
	Roles   []Role
	// TenantID is the account's tenant; "" for an operator account.
	TenantID string
	// Method is how the session was opened (MethodPassword, MethodPasskey)
	// and Since when: re-authentication opens a new session.
	Method string
	Since  time.Time
}

// Has reports whether the principal holds role.
func (p Principal) Has(r Role) bool { return slices.Contains(p.Roles, r) }

const sessionPrefix = "mdg_st_"

var b64 = base64.RawURLEncoding

// CheckSession validates a session token: it must exist, be before its
// absolute expiry and have been used within IdleTimeout; a valid use
// refreshes the idle timer. An expired or idle session is deleted.
func (d *Directory) CheckSession(ctx context.Context, token string) (Principal, error) {
	if len(token) != len(sessionPrefix)+43 || !strings.HasPrefix(token, sessionPrefix) {
		return Principal{}, ErrSession
	}
	h := sha256.Sum256([]byte(token))
	now := d.now()
	var p Principal
	gone := false
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		var lastSeen, expires, created int64
		var tenantID *string
		err := tx.QueryRow(ctx, `SELECT s.staff_id, s.last_seen, s.expires_at, s.created_at, s.method, a.tenant_id FROM staff_sessions s
			JOIN staff_accounts a ON a.id = s.staff_id WHERE s.token_hash = ? AND a.status = 'active'`, h[:]).
			Scan(&p.StaffID, &lastSeen, &expires, &created, &p.Method, &tenantID)
		if errors.Is(err, store.ErrNotFound) {
			return ErrSession
		}
		if err != nil {
			return err
		}
		p.Since = store.FromMicros(created)
		if tenantID != nil {
			p.TenantID = *tenantID
		}
		if !now.Before(store.FromMicros(expires)) || now.Sub(store.FromMicros(lastSeen)) > d.cfg.IdleTimeout {
			gone = true
			_, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = ?`, h[:])
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE staff_sessions SET last_seen = ? WHERE token_hash = ?`, store.Micros(now), h[:])
		return err
	})
	if err != nil {
		return Principal{}, err
	}
	if gone {
		return Principal{}, ErrSession
	}
	p.Roles, err = d.roles(ctx, d.db, p.StaffID)
	return p, err
}

// Logout ends a session. A token that is unknown, already ended, expired
// or idle too long is ErrSession (an expired session's row is removed all
// the same).
func (d *Directory) Logout(ctx context.Context, token string) error {
	if len(token) != len(sessionPrefix)+43 || !strings.HasPrefix(token, sessionPrefix) {
		return ErrSession
	}
	h := sha256.Sum256([]byte(token))
	now := d.now()
	valid := false
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		var lastSeen, expires int64
		err := tx.QueryRow(ctx, `SELECT last_seen, expires_at FROM staff_sessions WHERE token_hash = ?`, h[:]).Scan(&lastSeen, &expires)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		valid = now.Before(store.FromMicros(expires)) && now.Sub(store.FromMicros(lastSeen)) <= d.cfg.IdleTimeout
		_, err = tx.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = ?`, h[:])
		return err
	})
	if err != nil {
		return err
	}
	if !valid {
		return ErrSession
	}
	return nil
}

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return ErrConflict
	}
	return err
}

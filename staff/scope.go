package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Account scope. Every account belongs to the operator (TenantID "": the
// people who run the installation) or to exactly one tenant (a bank's own
// staff). The role names are shared; the scope says where they apply:
//
//	scope     admin              reviewer                       auditor
//	operator  the installation   tenants whose policy allows it all tenants, read-only
//	tenant    its own tenant     its own tenant                 its own tenant, read-only
//
// Installation-wide operations (bootstrap, account creation, dual control)
// need an operator admin (requireRole). What each scope may see in the
// portal is decided by the portal's scoped accessor, not here.

// Session sign-in methods (staff_sessions.method).
const (
	MethodPassword = "password" // password and TOTP (Authenticate)
	MethodPasskey  = "passkey"  // a WebAuthn assertion with user verification
)

// Operator reports whether the account is an operator account.
func (a Account) Operator() bool { return a.TenantID == "" }

// Operator reports whether the principal is operator staff.
func (p Principal) Operator() bool { return p.TenantID == "" }

// CreateTenantAccount creates an account without roles that belongs to
// tenantID; an operator admin must be the actor. The tenant must exist
// (ErrNotFound). Roles come, as for every account, through an approved
// "role.grant" request.
func (d *Directory) CreateTenantAccount(ctx context.Context, actor Actor, tenantID, username string, password []byte) (Enrollment, error) {
	if tenantID == "" || len(tenantID) > 64 {
		return Enrollment{}, fmt.Errorf("%w: a tenant id is required", ErrInvalidInput)
	}
	var en Enrollment
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireRole(ctx, tx, actor, RoleAdmin); err != nil {
			return err
		}
		var err error
		en, err = d.createInTx(ctx, tx, actor, "staff.create", tenantID, username, password)
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return en, nil
}

// openSessionTx opens a session for staff id, signed in by method, and
// audits the sign-in with details. It is the passkey path's twin of the
// session insert in Authenticate.
func (d *Directory) openSessionTx(ctx context.Context, tx *store.Tx, id, method string, actor Actor, details map[string]string) (Session, error) {
	now := d.now()
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Session{}, err
	}
	tok := sessionPrefix + b64.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(tok))
	sess := Session{Token: Secret(tok), StaffID: id, ExpiresAt: now.Add(d.cfg.SessionTTL)}
	if _, err := tx.Exec(ctx, `INSERT INTO staff_sessions (token_hash, staff_id, created_at, last_seen, expires_at, method) VALUES (?, ?, ?, ?, ?, ?)`,
		h[:], id, store.Micros(now), store.Micros(now), store.Micros(sess.ExpiresAt), method); err != nil {
		return Session{}, err
	}
	if details == nil {
		details = map[string]string{}
	}
	details["method"] = method
	e, err := scopedTo(ctx, tx, actor.entry("staff.login", id, audit.OutcomeOK, details), id)
	if err != nil {
		return Session{}, err
	}
	_, err = d.audit.Append(ctx, tx, e)
	return sess, err
}

// SessionLimits returns the idle timeout and absolute lifetime of sessions.
func (d *Directory) SessionLimits() (idle, lifetime time.Duration) {
	return d.cfg.IdleTimeout, d.cfg.SessionTTL
}

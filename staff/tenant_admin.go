package staff

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Tenant administration. A tenant's admins manage their own tenant: they
// invite its staff, file its dual-control requests (role grants for its
// staff, its API clients, its policy) and decide the requests another of its
// admins filed. Operator admins may do all of that for any tenant, and
// alone decide installation-wide requests (KEK rotation, trust anchors).
// A tenant admin never reaches another tenant or the operator's accounts:
// the answer is ErrForbidden (or ErrNotFound for an account of another
// scope, so its existence is not revealed).

// requireAdminOf checks that actor is an active admin who may act for
// tenantID: an operator admin always, a tenant admin only for their own
// tenant ("" is the installation: operator admins only).
func (d *Directory) requireAdminOf(ctx context.Context, tx *store.Tx, actor Actor, tenantID string) error {
	if tenantID == "" {
		return d.requireRole(ctx, tx, actor, RoleAdmin)
	}
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return ErrForbidden
	}
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM staff_roles r JOIN staff_accounts a ON a.id = r.staff_id
		WHERE r.staff_id = ? AND r.role = ? AND a.status = 'active' AND (a.tenant_id IS NULL OR a.tenant_id = ?)`,
		actor.ID, string(RoleAdmin), tenantID).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: needs an admin of the operator or of this tenant", ErrForbidden)
	}
	return nil
}

// requestTenant is the tenant a request of kind with payload concerns.
func (d *Directory) requestTenant(ctx context.Context, tx *store.Tx, kind string, ex Executor, payload []byte) (string, error) {
	if kind == KindRoleGrant {
		g, err := parseRoleGrant(payload)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		var tenantID *string
		if err := tx.QueryRow(ctx, `SELECT tenant_id FROM staff_accounts WHERE id = ?`, g.StaffID).Scan(&tenantID); err != nil {
			return "", mapErr(err)
		}
		if tenantID == nil {
			return "", nil
		}
		return *tenantID, nil
	}
	if ex.Tenant == nil {
		return "", nil
	}
	t, err := ex.Tenant(payload)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return t, nil
}

// requireDecider checks that by may decide approval id (before it is
// loaded under lock): an admin of its scope.
func (d *Directory) requireDecider(ctx context.Context, tx *store.Tx, by Actor, id string) error {
	var tenantID *string
	if err := tx.QueryRow(ctx, `SELECT tenant_id FROM approvals WHERE id = ?`, id).Scan(&tenantID); err != nil {
		return mapErr(err)
	}
	t := ""
	if tenantID != nil {
		t = *tenantID
	}
	return d.requireAdminOf(ctx, tx, by, t)
}

// entry is an audit entry about the approval by actor, in its tenant.
func (a Approval) entry(by Actor, action, outcome string, details map[string]string) audit.Entry {
	e := by.entry(action, a.ID, outcome, details)
	e.TenantID = a.TenantID
	return e
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// MaxApprovalsListed bounds ApprovalsIn.
const MaxApprovalsListed = 500

// ApprovalsIn lists the newest MaxApprovalsListed requests with the given
// status ("" for all), newest first: with all, every request (what an
// operator admin sees); otherwise only those concerning tenantID.
func (d *Directory) ApprovalsIn(ctx context.Context, tenantID string, all bool, status string) ([]Approval, error) {
	q, args := `SELECT `+approvalCols+` FROM approvals WHERE (? OR tenant_id = ?)`, []any{all, tenantID}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	return d.approvalsWhere(ctx, q+` ORDER BY created_at DESC, id DESC LIMIT ?`, append(args, MaxApprovalsListed)...)
}

// AccountsIn lists the accounts of tenantID ("" the operator's), by
// username, with their roles.
func (d *Directory) AccountsIn(ctx context.Context, tenantID string) ([]Account, error) {
	q, args := `SELECT id FROM staff_accounts WHERE tenant_id IS NULL ORDER BY username LIMIT 1000`, []any(nil)
	if tenantID != "" {
		q, args = `SELECT id FROM staff_accounts WHERE tenant_id = ? ORDER BY username LIMIT 1000`, []any{tenantID}
	}
	return d.accountsWhere(ctx, q, args...)
}

// Invite creates an account without roles in tenantID ("" an operator
// account) with password; actor must be an admin of that scope (a tenant's
// admin invites their tenant's staff only). It returns the one-time TOTP
// provisioning URI to hand to the new person. Roles come, as always,
// through approved role.grant requests.
func (d *Directory) Invite(ctx context.Context, actor Actor, tenantID, username string, password []byte) (Enrollment, error) {
	if len(tenantID) > 64 {
		return Enrollment{}, fmt.Errorf("%w: tenant id", ErrInvalidInput)
	}
	var en Enrollment
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		if err := d.requireAdminOf(ctx, tx, actor, tenantID); err != nil {
			return err
		}
		var err error
		en, err = d.createInTx(ctx, tx, actor, "staff.invite", tenantID, username, password)
		return err
	})
	if err != nil {
		return Enrollment{}, err
	}
	return en, nil
}

// createInTx creates an account without roles in tenantID ("" an operator
// account; a tenant must exist, else ErrNotFound) and audits it as action
// by actor. The caller has checked that actor may.
func (d *Directory) createInTx(ctx context.Context, tx *store.Tx, actor Actor, action, tenantID, username string, password []byte) (Enrollment, error) {
	if tenantID != "" {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE id = ?`, tenantID).Scan(&n); err != nil {
			return Enrollment{}, err
		}
		if n == 0 {
			return Enrollment{}, fmt.Errorf("%w: tenant", ErrNotFound)
		}
	}
	en, err := d.createTx(ctx, tx, username, password)
	if err != nil {
		return Enrollment{}, err
	}
	if tenantID != "" {
		if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET tenant_id = ? WHERE id = ?`, tenantID, en.Account.ID); err != nil {
			return Enrollment{}, err
		}
		en.Account.TenantID = tenantID
	}
	e := actor.entry(action, en.Account.ID, audit.OutcomeOK, nil)
	e.TenantID = tenantID
	if _, err := d.audit.Append(ctx, tx, e); err != nil {
		return Enrollment{}, err
	}
	return en, nil
}

// accountScopeTx checks that actor may administer account staffID: an
// admin of its scope who is not the account itself. An account outside the
// actor's scope is ErrNotFound.
func (d *Directory) accountScopeTx(ctx context.Context, tx *store.Tx, actor Actor, staffID string) (string, error) {
	if actor.ID == staffID {
		return "", fmt.Errorf("%w: an admin cannot reset their own account here", ErrInvalidInput)
	}
	var tenantID *string
	if err := tx.QueryRow(ctx, `SELECT tenant_id FROM staff_accounts WHERE id = ?`, staffID).Scan(&tenantID); err != nil {
		return "", mapErr(err)
	}
	t := ""
	if tenantID != nil {
		t = *tenantID
	}
	if err := d.requireAdminOf(ctx, tx, actor, t); err != nil {
		return "", fmt.Errorf("%w: account", ErrNotFound)
	}
	return t, nil
}

// ResetTOTP gives account staffID a new TOTP secret (the old one stops
// working at once), ends its sessions, and returns the one-time
// provisioning URI for the admin to hand over. Audited as staff.totp.reset.
func (d *Directory) ResetTOTP(ctx context.Context, actor Actor, staffID string) (Secret, error) {
	var uri Secret
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := d.accountScopeTx(ctx, tx, actor, staffID)
		if err != nil {
			return err
		}
		var username string
		if err := tx.QueryRow(ctx, `SELECT username FROM staff_accounts WHERE id = ?`, staffID).Scan(&username); err != nil {
			return mapErr(err)
		}
		secret := make([]byte, TOTPSecretLen)
		if _, err := rand.Read(secret); err != nil {
			return err
		}
		sealed, err := d.sealer.Seal(ctx, tx, subject(staffID), aad(staffID), secret)
		if err != nil {
			return fmt.Errorf("staff: seal TOTP secret: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET totp_secret = ?, totp_last_step = 0, totp_pending = NULL WHERE id = ?`, sealed, staffID); err != nil {
			return err
		}
		n, err := d.endSessionsTx(ctx, tx, staffID)
		if err != nil {
			return err
		}
		e := actor.entry("staff.totp.reset", staffID, audit.OutcomeOK, map[string]string{"sessions_ended": fmt.Sprint(n)})
		e.TenantID = t
		if _, err := d.audit.Append(ctx, tx, e); err != nil {
			return err
		}
		uri = Secret(provisioningURI(d.cfg.TOTPIssuer, username, secret))
		return nil
	})
	return uri, err
}

// ResetPasskeys deletes every passkey of account staffID and ends its
// sessions (audited as staff.passkey.reset); it returns how many passkeys
// were removed.
func (d *Directory) ResetPasskeys(ctx context.Context, actor Actor, staffID string) (int64, error) {
	var removed int64
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		t, err := d.accountScopeTx(ctx, tx, actor, staffID)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM staff_passkeys WHERE staff_id = ?`, staffID)
		if err != nil {
			return err
		}
		removed, _ = res.RowsAffected()
		n, err := d.endSessionsTx(ctx, tx, staffID)
		if err != nil {
			return err
		}
		e := actor.entry("staff.passkey.reset", staffID, audit.OutcomeOK,
			map[string]string{"removed": fmt.Sprint(removed), "sessions_ended": fmt.Sprint(n)})
		e.TenantID = t
		_, err = d.audit.Append(ctx, tx, e)
		return err
	})
	return removed, err
}

func (d *Directory) endSessionsTx(ctx context.Context, tx *store.Tx, staffID string) (int64, error) {
	res, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = ?`, staffID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

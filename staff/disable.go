package staff

import (
	"context"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Account statuses.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// DisableAccount disables a staff account and ends all its sessions, in one
// audited transaction; the actor must be an admin of the account's scope
// (an operator admin, or an admin of the account's tenant) other than the
// account (an admin cannot disable themselves). A disabled account cannot sign in
// (the answer is the same as for wrong credentials), its roles stop
// counting for dual control, and its sessions are refused at once.
// Disabling an account that is not active is ErrNotFound.
func (d *Directory) DisableAccount(ctx context.Context, by Actor, staffID string) error {
	if by.ID == staffID {
		return fmt.Errorf("%w: an admin cannot disable their own account", ErrInvalidInput)
	}
	return d.setStatus(ctx, by, staffID, StatusActive, StatusDisabled, "staff.disable")
}

// EnableAccount re-enables a disabled account (audited); the actor must be
// an admin of the account's scope. Sessions ended by the disable stay ended. Enabling an account
// that is not disabled is ErrNotFound.
func (d *Directory) EnableAccount(ctx context.Context, by Actor, staffID string) error {
	return d.setStatus(ctx, by, staffID, StatusDisabled, StatusActive, "staff.enable")
}

func (d *Directory) setStatus(ctx context.Context, by Actor, staffID, from, to, action string) error {
	return d.db.InTx(ctx, func(tx *store.Tx) error {
		// An operator admin may change any account, a tenant's admin their
		// own tenant's accounts (tenant_admin.go); another scope's account
		// is ErrForbidden, like a missing one to a non-admin.
		var tenantID *string
		err := tx.QueryRow(ctx, `SELECT tenant_id FROM staff_accounts WHERE id = ?`, staffID).Scan(&tenantID)
		if err != nil {
			if err := d.requireRole(ctx, tx, by, RoleAdmin); err != nil {
				return err
			}
			return mapErr(err)
		}
		scope := ""
		if tenantID != nil {
			scope = *tenantID
		}
		if err := d.requireAdminOf(ctx, tx, by, scope); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE staff_accounts SET status = ? WHERE id = ? AND status = ?`, to, staffID, from)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		details := map[string]string{}
		if to == StatusDisabled {
			res, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = ?`, staffID)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			details["sessions_ended"] = fmt.Sprint(n)
		}
		e := by.entry(action, staffID, audit.OutcomeOK, details)
		e.TenantID = scope
		_, err = d.audit.Append(ctx, tx, e)
		return err
	})
}

// Accounts lists all staff accounts (no secrets), by creation time.
func (d *Directory) Accounts(ctx context.Context) ([]Account, error) {
	return d.accountsWhere(ctx, `SELECT id FROM staff_accounts ORDER BY created_at, id`)
}

// accountsWhere loads the accounts whose ids query q (with args) returns,
// in its order.
func (d *Directory) accountsWhere(ctx context.Context, q string, args ...any) ([]Account, error) {
	rows, err := d.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		a, err := d.Account(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

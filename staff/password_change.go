package staff

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// ChangePassword changes the actor's own password, from the session whose
// token is keep (the portal's account page, after re-authentication):
//
//   - current must verify against the stored argon2id hash, through the
//     same bounded hash gate as a sign-in. A wrong current password is
//     ErrInvalidCredentials, audited as denied, and ends the session keep:
//     whoever holds it signs in again (through the sign-in backoff) before
//     guessing again, so a stolen session cannot be used to search for the
//     password.
//   - next must meet the policy (CheckPassword: ErrWeakPassword) and differ
//     from current (ErrWeakPassword).
//   - The new hash is written with the directory's argon2id parameters,
//     every other session of the account ends, and the change is audited as
//     staff.password.change with how many sessions ended, all in one
//     transaction. It returns that number.
//
// keep must be a live session of the actor's own account (ErrSession
// otherwise).
func (d *Directory) ChangePassword(ctx context.Context, actor Actor, keep string, current, next []byte) (int64, error) {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return 0, ErrForbidden
	}
	if len(keep) != len(sessionPrefix)+43 {
		return 0, ErrSession
	}
	if err := CheckPassword(next); err != nil {
		return 0, err
	}
	if bytes.Equal(current, next) {
		return 0, fmt.Errorf("%w: the new password must differ from the current one", ErrWeakPassword)
	}
	keepHash := sha256.Sum256([]byte(keep))
	var (
		hash     string
		tenantID *string
		mine     int
	)
	err := d.db.QueryRow(ctx, `SELECT a.password_hash, a.tenant_id, (SELECT COUNT(*) FROM staff_sessions s WHERE s.staff_id = a.id AND s.token_hash = ?)
		FROM staff_accounts a WHERE a.id = ? AND a.status = 'active'`, keepHash[:], actor.ID).Scan(&hash, &tenantID, &mine)
	if err != nil {
		return 0, mapErr(err)
	}
	if mine != 1 {
		return 0, ErrSession
	}
	// Both hashes under the gate: a sign-in's worth of argon2id work each.
	release, err := d.gate.acquire(ctx)
	if err != nil {
		return 0, err
	}
	verr := VerifyPassword(current, hash)
	var newHash string
	if verr == nil {
		newHash, err = HashPassword(next, d.cfg.Argon2)
	}
	release()
	if verr != nil && !errors.Is(verr, ErrInvalidCredentials) {
		return 0, verr
	}
	if err != nil {
		return 0, err
	}
	entry := func(outcome string, details map[string]string) audit.Entry {
		e := actor.entry("staff.password.change", actor.ID, outcome, details)
		if tenantID != nil {
			e.TenantID = *tenantID
		}
		return e
	}
	var ended int64
	err = d.db.InTx(ctx, func(tx *store.Tx) error {
		if verr != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM staff_sessions WHERE token_hash = ?`, keepHash[:]); err != nil {
				return err
			}
			_, err := d.audit.Append(ctx, tx, entry(audit.OutcomeDenied, map[string]string{"reason": "password", "session": "ended"}))
			return err
		}
		// Only if the password is still the one verified (a concurrent
		// change wins once).
		res, err := tx.Exec(ctx, `UPDATE staff_accounts SET password_hash = ? WHERE id = ? AND password_hash = ? AND status = 'active'`, newHash, actor.ID, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the password changed meanwhile", ErrConflict)
		}
		res, err = tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = ? AND token_hash <> ?`, actor.ID, keepHash[:])
		if err != nil {
			return err
		}
		ended, _ = res.RowsAffected()
		_, err = d.audit.Append(ctx, tx, entry(audit.OutcomeOK, map[string]string{"sessions_ended": fmt.Sprint(ended)}))
		return err
	})
	if err != nil {
		return 0, err
	}
	if verr != nil {
		return 0, ErrInvalidCredentials
	}
	return ended, nil
}

package staff

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// TOTP re-enrolment replaces an account's TOTP secret in two steps, so a
// typo in the authenticator app cannot lock anyone out: BeginTOTPReenrol
// stores a new secret as pending (sealed like the current one) and returns
// its provisioning URI; ConfirmTOTPReenrol accepts a code from the pending
// secret and only then swaps it in. The current secret keeps working until
// the swap. Only the account's owner does this (the portal's account page,
// after re-authentication); both steps are audited.

func pendingAAD(staffID string) []byte { return vault.AAD("staff.totp.pending", staffID) }

// BeginTOTPReenrol creates a pending TOTP secret for the actor's own
// account, replacing any earlier pending one, and returns its provisioning
// URI (shown once).
func (d *Directory) BeginTOTPReenrol(ctx context.Context, actor Actor) (Secret, error) {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return "", ErrForbidden
	}
	secret := make([]byte, TOTPSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	var username string
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		var tenantID *string
		if err := tx.QueryRow(ctx, `SELECT username, tenant_id FROM staff_accounts WHERE id = ? AND status = 'active'`, actor.ID).
			Scan(&username, &tenantID); err != nil {
			return mapErr(err)
		}
		sealed, err := d.sealer.Seal(ctx, tx, subject(actor.ID), pendingAAD(actor.ID), secret)
		if err != nil {
			return fmt.Errorf("staff: seal TOTP secret: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE staff_accounts SET totp_pending = ? WHERE id = ?`, sealed, actor.ID); err != nil {
			return err
		}
		e := actor.entry("staff.totp.begin", actor.ID, audit.OutcomeOK, nil)
		if tenantID != nil {
			e.TenantID = *tenantID
		}
		_, err = d.audit.Append(ctx, tx, e)
		return err
	})
	if err != nil {
		return "", err
	}
	return Secret(provisioningURI(d.cfg.TOTPIssuer, username, secret)), nil
}

// ConfirmTOTPReenrol checks code against the actor's pending secret and, if
// it matches, makes the pending secret the account's TOTP secret. A wrong
// code is ErrInvalidCredentials (audited as denied; the pending secret
// stays, so the owner can try again); no pending secret is ErrNotFound.
func (d *Directory) ConfirmTOTPReenrol(ctx context.Context, actor Actor, code string) error {
	if actor.Kind != audit.ActorStaff || actor.ID == "" {
		return ErrForbidden
	}
	var sealed []byte
	var tenantID *string
	err := d.db.QueryRow(ctx, `SELECT totp_pending, tenant_id FROM staff_accounts WHERE id = ? AND status = 'active'`, actor.ID).Scan(&sealed, &tenantID)
	if err != nil {
		return mapErr(err)
	}
	if len(sealed) == 0 {
		return fmt.Errorf("%w: no pending TOTP secret", ErrNotFound)
	}
	secret, err := d.sealer.Open(ctx, d.db, subject(actor.ID), pendingAAD(actor.ID), sealed)
	if err != nil {
		return fmt.Errorf("staff: open pending TOTP secret: %w", err)
	}
	// The pending secret has never been used: any step within the window
	// is fresh (lastStep 0).
	step, ok := verifyTOTP(secret, code, d.now(), 0)
	var outcome error
	err = d.db.InTx(ctx, func(tx *store.Tx) error {
		entry := func(o string, det map[string]string) audit.Entry {
			e := actor.entry("staff.totp.reenrol", actor.ID, o, det)
			if tenantID != nil {
				e.TenantID = *tenantID
			}
			return e
		}
		if !ok {
			outcome = ErrInvalidCredentials
			_, err := d.audit.Append(ctx, tx, entry(audit.OutcomeDenied, map[string]string{"reason": "totp"}))
			return err
		}
		// Re-seal under the current secret's associated data.
		cur, err := d.sealer.Seal(ctx, tx, subject(actor.ID), aad(actor.ID), secret)
		if err != nil {
			return fmt.Errorf("staff: seal TOTP secret: %w", err)
		}
		res, err := tx.Exec(ctx, `UPDATE staff_accounts SET totp_secret = ?, totp_last_step = ?, totp_pending = NULL WHERE id = ? AND totp_pending = ?`,
			cur, step, actor.ID, sealed)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("staff: the pending TOTP secret changed during confirmation")
		}
		_, err = d.audit.Append(ctx, tx, entry(audit.OutcomeOK, nil))
		return err
	})
	if err != nil {
		return err
	}
	return outcome
}

// TOTPCode is the RFC 6238 code of secret at t, for tools and tests that
// hold a secret (the development helper `madoguchi dev portal`).
func TOTPCode(secret []byte, t time.Time) string {
	return hotp(secret, uint64(totpStep(t)), TOTPDigits)
}

package txauth

// QR-started decoupled confirmation: instead of waiting for the phone app
// to poll, the confirmation page on the PC shows a QR code that the
// customer scans with the app of the registered device; the app then shows
// that confirmation from the server's copy and answers it with its key
// (DeviceDecide), exactly as a polled one.
//
//   - The code is "MDGTX1:" and 32 base32 characters (20 random bytes),
//     alphanumeric so the symbol stays small; only its SHA-256 is stored.
//     It names nothing: no confirmation id, customer or amount.
//   - Each request of the page (DeviceQR) draws a new code and voids the
//     previous one; a code works for DeviceQRLife and for one scan.
//   - Only a registered, unrevoked device of the confirmation's own customer
//     can use it (ErrNotFound for any other device, of this tenant or
//     another, audited as denied, and the code stays usable for the right
//     device). Scanning approves nothing: the device still signs the
//     decision over the transaction hash and the confirmation's nonce.

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Device QR codes.
const (
	DeviceQRPrefix = "MDGTX1:"
	DeviceQRLife   = 2 * time.Minute
	deviceQRSecret = 20 // bytes: 32 base32 characters
	// MaxDeviceQRLen bounds a scanned payload.
	MaxDeviceQRLen = 64
)

var qrBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ParseDeviceQR returns the secret of a scanned code; anything but
// DeviceQRPrefix and exactly 32 upper-case base32 characters is
// ErrInvalidInput.
func ParseDeviceQR(text string) ([]byte, error) {
	bad := fmt.Errorf("%w: not a Madoguchi confirmation code", ErrInvalidInput)
	rest, ok := strings.CutPrefix(text, DeviceQRPrefix)
	if !ok || len(rest) != 32 {
		return nil, bad
	}
	b, err := qrBase32.DecodeString(rest)
	if err != nil || len(b) != deviceQRSecret || qrBase32.EncodeToString(b) != rest {
		return nil, bad
	}
	return b, nil
}

// DeviceQR draws the code the confirmation page shows for the customer's
// registered device (voiding the one drawn before) and returns its text
// and when it stops working. Only a confirmation waiting for a device
// decision has one.
func (s *Service) DeviceQR(ctx context.Context, token string) (string, time.Time, error) {
	c, err := confirmationByToken(ctx, s.db, token)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return "", time.Time{}, err
	}
	if c.State.Final() {
		return "", time.Time{}, fmt.Errorf("%w: the confirmation is %s", ErrState, c.State)
	}
	if !slices.Contains(c.Required, FactorDevice) || slices.Contains(c.Satisfied, FactorDevice) {
		return "", time.Time{}, fmt.Errorf("%w: no device decision is due here", ErrFactor)
	}
	secret, err := s.random(deviceQRSecret)
	if err != nil {
		return "", time.Time{}, err
	}
	h := sha256.Sum256(secret)
	exp := s.now().Add(DeviceQRLife)
	if exp.After(c.ExpiresAt) {
		exp = c.ExpiresAt
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE txauth_device_nonces SET qr_hash = ?, qr_expires_at = ?, qr_scanned_at = 0 WHERE confirmation_id = ? AND used_at = 0`,
			h[:], store.Micros(exp), c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the device already answered", ErrState)
		}
		return s.record(ctx, tx, pageActor, c.TenantID, "txauth.device.qr", c.ID, audit.OutcomeOK, nil)
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return DeviceQRPrefix + qrBase32.EncodeToString(secret), exp, nil
}

// DeviceScan is the registered device's app reporting the code it scanned
// on the PC: it returns that confirmation as the device shows it (to be
// answered with DeviceDecide). A code is good for one scan by a device of
// the confirmation's customer, until it expires.
func (s *Service) DeviceScan(ctx context.Context, deviceToken, text string) (*Pending, error) {
	if len(text) > MaxDeviceQRLen {
		return nil, fmt.Errorf("%w: not a Madoguchi confirmation code", ErrInvalidInput)
	}
	secret, err := ParseDeviceQR(text)
	if err != nil {
		return nil, err
	}
	d, err := s.deviceByToken(ctx, deviceToken)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(secret)
	actor := Actor{Kind: audit.ActorSystem, ID: "device:" + d.id}
	var p *Pending
	err = s.inTx(ctx, func(tx *store.Tx) error {
		deny := func(object, reason string, e error) error {
			if err := s.record(ctx, tx, actor, d.tenant, "txauth.device.scan", object, audit.OutcomeDenied, map[string]string{"reason": reason, "device": d.id}); err != nil {
				return err
			}
			return errCommit{e}
		}
		var (
			confID, tenant          string
			expires, scanned, spent int64
		)
		err := tx.QueryRow(ctx, `SELECT confirmation_id, tenant_id, qr_expires_at, qr_scanned_at, used_at FROM txauth_device_nonces WHERE qr_hash = ?`, h[:]).
			Scan(&confID, &tenant, &expires, &scanned, &spent)
		if errors.Is(err, store.ErrNotFound) {
			return deny(d.id, "unknown_code", ErrNotFound)
		} else if err != nil {
			return err
		}
		if tenant != d.tenant {
			return deny(d.id, "unknown_code", ErrNotFound)
		}
		c, err := getConfirmation(ctx, tx, tenant, confID)
		if err != nil {
			return err
		}
		if c.CustomerID != d.customer {
			return deny(c.ID, "other_customer", ErrNotFound)
		}
		now := s.now()
		switch {
		case scanned > 0:
			return deny(c.ID, "replayed", ErrReplay)
		case !now.Before(store.FromMicros(expires)) || !now.Before(c.ExpiresAt):
			return deny(c.ID, "expired", ErrExpired)
		case spent > 0 || c.State.Final():
			return deny(c.ID, "answered", fmt.Errorf("%w: the confirmation is %s", ErrState, c.State))
		}
		res, err := tx.Exec(ctx, `UPDATE txauth_device_nonces SET qr_scanned_at = ? WHERE confirmation_id = ? AND qr_hash = ? AND qr_scanned_at = 0`,
			store.Micros(now), c.ID, h[:])
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return deny(c.ID, "replayed", ErrReplay)
		}
		if p, err = s.pendingItem(ctx, tx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, actor, tenant, "txauth.device.scan", c.ID, audit.OutcomeOK, map[string]string{"device": d.id})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

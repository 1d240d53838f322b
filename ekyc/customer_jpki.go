package ekyc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// CustomerSigningKey returns the link key (issuer and serial,
// jpki.LinkKeyOf) of the JPKI signing certificate with which the
// customer's approved ワ session was signed: what a later signature over a
// transaction must be made with (package txauth). A customer verified by
// another method has none (ErrNotFound). The read is audited.
func (s *Service) CustomerSigningKey(ctx context.Context, a Actor, tenant, customerID string) (jpki.Secret, error) {
	c, err := s.Customer(ctx, tenant, customerID)
	if err != nil {
		return jpki.Secret{}, err
	}
	if c.Shredded() {
		return jpki.Secret{}, ErrShredded
	}
	if c.Method != CodeWa {
		return jpki.Secret{}, fmt.Errorf("%w: the customer was not verified by a JPKI signature", ErrNotFound)
	}
	var key jpki.Secret
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var sealed []byte
		if err := tx.QueryRow(ctx, `SELECT evidence FROM ekyc_jpki WHERE session_id = ? AND tenant_id = ? AND verified = 1`, c.SessionID, tenant).Scan(&sealed); err != nil {
			if isNotFound(err) {
				return ErrNotFound
			}
			return err
		}
		body, err := s.cfg.Vault.Open(ctx, tx, c.Subject(), jpkiAAD(c.SessionID), sealed)
		if errors.Is(err, vault.ErrShredded) {
			return ErrShredded
		} else if err != nil {
			return err
		}
		var ev jpkiEvidence
		if err := json.Unmarshal(body, &ev); err != nil {
			return fmt.Errorf("ekyc: stored JPKI evidence unreadable: %w", err)
		}
		der := ev.Received.Certificate
		if ev.Sign != nil && len(ev.Sign.Chain) > 0 {
			der = ev.Sign.Chain[0] // the verified signer (a CMS signature may carry it inside)
		}
		cert, err := jpki.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("ekyc: stored signing certificate unreadable: %w", err)
		}
		key = jpki.NewSecret(jpki.LinkKeyOf(cert))
		return s.record(ctx, tx, a, tenant, "ekyc.customer.signing_key", c.ID, audit.OutcomeOK, map[string]string{"session": c.SessionID})
	})
	return key, err
}

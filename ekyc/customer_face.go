package ekyc

import (
	"context"
	"errors"
	"strconv"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// MaxCustomerSelfies bounds how many selfie frames CustomerSelfies returns.
const MaxCustomerSelfies = 16

// CustomerSelfies opens the live selfie frames of the customer's approved
// session (methods ヘ and ホ): what package txauth derives the customer's
// face template from. The read is audited; the images stay in memory.
// A customer verified without a selfie (ワ) has none (ErrNotFound).
func (s *Service) CustomerSelfies(ctx context.Context, a Actor, tenant, customerID string) ([][]byte, error) {
	c, err := s.Customer(ctx, tenant, customerID)
	if err != nil {
		return nil, err
	}
	if c.Shredded() {
		return nil, ErrShredded
	}
	frs, err := s.frames(ctx, s.db, c.SessionID)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, f := range frs {
		if f.Kind != FrameSelfie || len(out) == MaxCustomerSelfies {
			continue
		}
		img, err := s.cfg.Vault.OpenBlob(ctx, s.db, c.Subject(), frameAAD(c.SessionID, f.Seq), f.Ref)
		if errors.Is(err, vault.ErrShredded) {
			return nil, ErrShredded
		} else if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, a, tenant, "ekyc.customer.selfies", c.ID, audit.OutcomeOK,
			map[string]string{"session": c.SessionID, "frames": strconv.Itoa(len(out))})
	})
	return out, err
}

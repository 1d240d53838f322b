package txauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Unlock is a dual-control request to unlock a locked image card: one staff
// member asks, naming the approved eKYC session that re-verified the
// customer after the lock; a different staff member approves.
type Unlock struct {
	ID             string `json:"id"`
	TenantID       string `json:"tenant_id"`
	CardID         string `json:"card_id"`
	Reverification string `json:"reverification_session"`
	RequestedBy    string `json:"requested_by"`
	State          string `json:"state"` // pending, approved
}

// RequestUnlock files an unlock of the tenant's locked card. The session
// must be an approved eKYC session under the customer's reference decided
// after the card locked (ekyc.Service.ReverifiedSince).
func (s *Service) RequestUnlock(ctx context.Context, st Staff, tenant, cardID, session string) (*Unlock, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if !st.sees(tenant) {
		return nil, ErrNotFound
	}
	c, err := s.Card(ctx, tenant, cardID)
	if err != nil {
		return nil, err
	}
	if !c.Locked() {
		return nil, fmt.Errorf("%w: the card is not locked", ErrState)
	}
	ok, err := s.cfg.Customers.ReverifiedSince(ctx, tenant, c.CustomerID, session, c.LockedAt)
	if err != nil {
		return nil, err
	}
	if !ok {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			return s.record(ctx, tx, st.actor(), tenant, "txauth.card.unlock_request", c.ID, audit.OutcomeDenied,
				map[string]string{"reason": "not_reverified", "session": session})
		})
		return nil, errors.Join(fmt.Errorf("%w: the session is not an approved re-verification of this customer after the lock", ErrState), err)
	}
	id, err := s.newID("ul_")
	if err != nil {
		return nil, err
	}
	u := &Unlock{ID: id, TenantID: tenant, CardID: c.ID, Reverification: session, RequestedBy: st.ID, State: "pending"}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_unlocks (id, tenant_id, card_id, reverification, requested_by, requested_at, decided_by, decided_at, state)
			VALUES (?, ?, ?, ?, ?, ?, '', 0, 'pending')`, id, tenant, c.ID, session, st.ID, store.Micros(s.now())); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), tenant, "txauth.card.unlock_request", c.ID, audit.OutcomeOK, map[string]string{"unlock": id, "session": session})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ApproveUnlock performs a pending unlock; the approver must not be the
// requester. The card's failure count and pending cells are reset.
func (s *Service) ApproveUnlock(ctx context.Context, st Staff, id string) (*Card, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	var card *Card
	err := s.inTx(ctx, func(tx *store.Tx) error {
		var tenant, cardID, by, state string
		err := tx.QueryRow(ctx, `SELECT tenant_id, card_id, requested_by, state FROM txauth_unlocks WHERE id = ?`, id).Scan(&tenant, &cardID, &by, &state)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if !st.sees(tenant) {
			return ErrNotFound
		}
		if state != "pending" {
			return fmt.Errorf("%w: the unlock is %s", ErrState, state)
		}
		if by == st.ID {
			if err := s.record(ctx, tx, st.actor(), tenant, "txauth.card.unlock_approve", cardID, audit.OutcomeDenied, map[string]string{"unlock": id, "reason": "same_staff"}); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: a second staff member must approve (dual control)", ErrForbidden)}
		}
		res, err := tx.Exec(ctx, `UPDATE txauth_unlocks SET state = 'approved', decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'`,
			st.ID, store.Micros(s.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the unlock changed concurrently", ErrState)
		}
		if _, err := tx.Exec(ctx, `UPDATE txauth_cards SET locked_at = 0, failures = 0, pending_cells = '', version = version + 1 WHERE id = ? AND locked_at > 0`, cardID); err != nil {
			return err
		}
		if err := s.record(ctx, tx, st.actor(), tenant, "txauth.card.unlock", cardID, audit.OutcomeOK, map[string]string{"unlock": id, "requested_by": by}); err != nil {
			return err
		}
		card, err = getCard(ctx, tx, tenant, cardID)
		return err
	})
	return card, err
}

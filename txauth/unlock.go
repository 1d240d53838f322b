package txauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Unlock is a dual-control request to lift a lock that consecutive
// failures put on a factor: a customer's image card (Factor image_card,
// CardID) or a customer's face re-authentication (Factor face). One staff
// member asks, naming the approved eKYC session that re-verified the
// customer after the lock; a different staff member approves. A request
// lifts only the lock it was filed for (LockedAt): after an unlock and a
// new lock, an older pending request is stale.
type Unlock struct {
	ID             string    `json:"id"`
	TenantID       string    `json:"tenant_id"`
	Factor         Factor    `json:"factor"`
	CustomerID     string    `json:"customer_id"`
	CardID         string    `json:"card_id,omitempty"`
	LockedAt       time.Time `json:"locked_at"`
	Reverification string    `json:"reverification_session"`
	RequestedBy    string    `json:"requested_by"`
	RequestedAt    time.Time `json:"requested_at"`
	DecidedBy      string    `json:"decided_by,omitempty"`
	State          string    `json:"state"` // pending, approved, stale
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
	return s.requestUnlock(ctx, st, &Unlock{TenantID: tenant, Factor: FactorImageCard, CustomerID: c.CustomerID, CardID: c.ID,
		LockedAt: c.LockedAt, Reverification: session}, "txauth.card.unlock_request", c.ID)
}

// RequestFaceUnlock files an unlock of the tenant's customer's face
// re-authentication, locked after consecutive refusals; the session must
// be an approved re-verification of the customer after the lock.
func (s *Service) RequestFaceUnlock(ctx context.Context, st Staff, tenant, customerID, session string) (*Unlock, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if !st.sees(tenant) {
		return nil, ErrNotFound
	}
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return nil, err
	}
	_, locked, err := faceLock(ctx, s.db, tenant, cu.ID)
	if err != nil {
		return nil, err
	}
	if locked.IsZero() {
		return nil, fmt.Errorf("%w: the customer's face re-authentication is not locked", ErrState)
	}
	return s.requestUnlock(ctx, st, &Unlock{TenantID: tenant, Factor: FactorFace, CustomerID: cu.ID, LockedAt: locked, Reverification: session},
		"txauth.face.unlock_request", cu.ID)
}

// requestUnlock checks the re-verification and stores u (audited under
// action and object either way).
func (s *Service) requestUnlock(ctx context.Context, st Staff, u *Unlock, action, object string) (*Unlock, error) {
	if !validID(u.Reverification) {
		return nil, fmt.Errorf("%w: name the re-verification session", ErrInvalidInput)
	}
	ok, err := s.cfg.Customers.ReverifiedSince(ctx, u.TenantID, u.CustomerID, u.Reverification, u.LockedAt)
	if err != nil {
		return nil, err
	}
	if !ok {
		err := s.db.InTx(ctx, func(tx *store.Tx) error {
			return s.record(ctx, tx, st.actor(), u.TenantID, action, object, audit.OutcomeDenied,
				map[string]string{"reason": "not_reverified", "session": u.Reverification})
		})
		return nil, errors.Join(fmt.Errorf("%w: the session is not an approved re-verification of this customer after the lock", ErrState), err)
	}
	if u.ID, err = s.newID("ul_"); err != nil {
		return nil, err
	}
	u.RequestedBy, u.RequestedAt, u.State = st.ID, s.now(), "pending"
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_unlocks (id, tenant_id, factor, customer_id, card_id, lock_at, reverification, requested_by, requested_at, decided_by, decided_at, state)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, 'pending')`, u.ID, u.TenantID, string(u.Factor), u.CustomerID, u.CardID,
			store.Micros(u.LockedAt), u.Reverification, st.ID, store.Micros(u.RequestedAt)); err != nil {
			return err
		}
		return s.record(ctx, tx, st.actor(), u.TenantID, action, object, audit.OutcomeOK, map[string]string{"unlock": u.ID, "session": u.Reverification})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

const unlockCols = `id, tenant_id, factor, customer_id, card_id, lock_at, reverification, requested_by, requested_at, decided_by, state`

func scanUnlock(row interface{ Scan(...any) error }) (*Unlock, error) {
	var (
		u                 Unlock
		factor            string
		lockAt, requested int64
	)
	err := row.Scan(&u.ID, &u.TenantID, &factor, &u.CustomerID, &u.CardID, &lockAt, &u.Reverification, &u.RequestedBy, &requested, &u.DecidedBy, &u.State)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	u.Factor, u.LockedAt, u.RequestedAt = Factor(factor), store.FromMicros(lockAt), store.FromMicros(requested)
	return &u, nil
}

// ApproveUnlock performs a pending unlock; the approver must not be the
// requester, and the lock must still be the one the request was filed for
// (otherwise the request is marked stale). A card's failure count and
// pending cells are reset; a face lock's refusal count is reset.
func (s *Service) ApproveUnlock(ctx context.Context, st Staff, id string) (*Unlock, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, ErrNotFound
	}
	var u *Unlock
	err := s.inTx(ctx, func(tx *store.Tx) error {
		var err error
		if u, err = scanUnlock(tx.QueryRow(ctx, `SELECT `+unlockCols+` FROM txauth_unlocks WHERE id = ?`, id)); err != nil {
			return err
		}
		if !st.sees(u.TenantID) {
			return ErrNotFound
		}
		object, prefix := u.CardID, "txauth.card."
		if u.Factor == FactorFace {
			object, prefix = u.CustomerID, "txauth.face."
		}
		if u.State != "pending" {
			if err := s.record(ctx, tx, st.actor(), u.TenantID, prefix+"unlock_approve", object, audit.OutcomeDenied,
				map[string]string{"unlock": id, "reason": "not_pending", "state": u.State}); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: the unlock is %s", ErrState, u.State)}
		}
		if u.RequestedBy == st.ID {
			if err := s.record(ctx, tx, st.actor(), u.TenantID, prefix+"unlock_approve", object, audit.OutcomeDenied, map[string]string{"unlock": id, "reason": "same_staff"}); err != nil {
				return err
			}
			return errCommit{fmt.Errorf("%w: a second staff member must approve (dual control)", ErrForbidden)}
		}
		lockAt := store.Micros(u.LockedAt)
		var res interface{ RowsAffected() (int64, error) }
		if u.Factor == FactorFace {
			res, err = tx.Exec(ctx, `UPDATE txauth_accounts SET face_locked_at = 0, face_failures = 0
				WHERE tenant_id = ? AND customer_id = ? AND face_locked_at = ?`, u.TenantID, u.CustomerID, lockAt)
		} else {
			res, err = tx.Exec(ctx, `UPDATE txauth_cards SET locked_at = 0, failures = 0, pending_cells = '', version = version + 1
				WHERE id = ? AND tenant_id = ? AND locked_at = ?`, u.CardID, u.TenantID, lockAt)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// Unlocked since, or locked again: this re-verification predates
			// the lock in force.
			if _, err := tx.Exec(ctx, `UPDATE txauth_unlocks SET state = 'stale', decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'`,
				st.ID, store.Micros(s.now()), id); err != nil {
				return err
			}
			if err := s.record(ctx, tx, st.actor(), u.TenantID, prefix+"unlock_approve", object, audit.OutcomeDenied, map[string]string{"unlock": id, "reason": "stale"}); err != nil {
				return err
			}
			u.State = "stale"
			return errCommit{fmt.Errorf("%w: the lock this request was filed for is no longer in force; file a new request", ErrState)}
		}
		res, err = tx.Exec(ctx, `UPDATE txauth_unlocks SET state = 'approved', decided_by = ?, decided_at = ? WHERE id = ? AND state = 'pending'`,
			st.ID, store.Micros(s.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the unlock changed concurrently", ErrState)
		}
		u.State, u.DecidedBy = "approved", st.ID
		return s.record(ctx, tx, st.actor(), u.TenantID, prefix+"unlock", object, audit.OutcomeOK, map[string]string{"unlock": id, "requested_by": u.RequestedBy})
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Unlocks lists the unlock requests in state ("pending", "approved" or
// "stale") that the staff member may see, oldest first (at most 200).
func (s *Service) Unlocks(ctx context.Context, st Staff, state string) ([]Unlock, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	if state != "pending" && state != "approved" && state != "stale" {
		return nil, fmt.Errorf("%w: state must be pending, approved or stale", ErrInvalidInput)
	}
	q, args := `SELECT `+unlockCols+` FROM txauth_unlocks WHERE state = ?`, []any{state}
	if st.TenantID != "" {
		q, args = q+` AND tenant_id = ?`, append(args, st.TenantID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY requested_at, id LIMIT 200`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Unlock{}
	for rows.Next() {
		u, err := scanUnlock(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, st.actor(), st.TenantID, "txauth.unlocks.list", "unlocks/"+state, audit.OutcomeOK, map[string]string{"count": fmt.Sprint(len(out))})
	})
}

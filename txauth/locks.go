package txauth

// What the monitoring staff work besides alerts: the locks in force (an
// account locked by staff, an image card or a face re-authentication
// locked by consecutive failures) and the call-backs recorded. Both lists
// are scoped like alerts (a tenant's staff see their tenant only) and
// audited; neither carries personal data (call-back notes stay sealed).

import (
	"context"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Lock kinds.
const (
	LockAccount = "account"    // staff locked the account (UnlockAccount)
	LockCard    = "image_card" // consecutive card failures (RequestUnlock, dual control)
	LockFace    = "face"       // consecutive face refusals (RequestFaceUnlock, dual control)
)

// Lock is one lock in force.
type Lock struct {
	TenantID   string    `json:"tenant_id"`
	CustomerID string    `json:"customer_id"`
	Kind       string    `json:"kind"`
	CardID     string    `json:"card_id,omitempty"`
	LockedAt   time.Time `json:"locked_at"`
	LockedBy   string    `json:"locked_by,omitempty"` // the staff member, for account locks
}

// maxListed bounds the monitoring lists.
const maxListed = 200

// Locks lists the locks in force the staff member may see, oldest first
// (at most 200 of each kind).
func (s *Service) Locks(ctx context.Context, st Staff) ([]Lock, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	scope, args := "", []any{}
	if st.TenantID != "" {
		scope, args = " AND tenant_id = ?", []any{st.TenantID}
	}
	out := []Lock{}
	for _, q := range []struct {
		kind, sql string
	}{
		{LockAccount, `SELECT tenant_id, customer_id, '', locked_at, locked_by FROM txauth_accounts WHERE locked_at > 0` + scope + ` ORDER BY locked_at LIMIT ?`},
		{LockFace, `SELECT tenant_id, customer_id, '', face_locked_at, '' FROM txauth_accounts WHERE face_locked_at > 0` + scope + ` ORDER BY face_locked_at LIMIT ?`},
		{LockCard, `SELECT tenant_id, customer_id, id, locked_at, '' FROM txauth_cards WHERE locked_at > 0 AND state = 'active'` + scope + ` ORDER BY locked_at LIMIT ?`},
	} {
		rows, err := s.db.Query(ctx, q.sql, append(args, maxListed)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			l := Lock{Kind: q.kind}
			var at int64
			if err := rows.Scan(&l.TenantID, &l.CustomerID, &l.CardID, &at, &l.LockedBy); err != nil {
				rows.Close()
				return nil, err
			}
			l.LockedAt = store.FromMicros(at)
			out = append(out, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, st.actor(), st.TenantID, "txauth.locks.list", "locks", audit.OutcomeOK, map[string]string{"count": fmt.Sprint(len(out))})
	})
}

// Callback is a recorded call-back (the note stays sealed).
type Callback struct {
	ID         string    `json:"id"`
	TenantID   string    `json:"tenant_id"`
	AlertID    string    `json:"alert_id"`
	CustomerID string    `json:"customer_id,omitempty"`
	StaffID    string    `json:"staff_id"`
	Outcome    string    `json:"outcome"`
	CreatedAt  time.Time `json:"created_at"`
}

// Callbacks lists the newest call-backs the staff member may see (at most
// 200).
func (s *Service) Callbacks(ctx context.Context, st Staff) ([]Callback, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	q, args := `SELECT id, tenant_id, alert_id, customer_id, staff_id, outcome, created_at FROM txauth_callbacks`, []any{}
	if st.TenantID != "" {
		q, args = q+` WHERE tenant_id = ?`, append(args, st.TenantID)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY created_at DESC, id LIMIT ?`, append(args, maxListed)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Callback{}
	for rows.Next() {
		var (
			c  Callback
			at int64
		)
		if err := rows.Scan(&c.ID, &c.TenantID, &c.AlertID, &c.CustomerID, &c.StaffID, &c.Outcome, &at); err != nil {
			return nil, err
		}
		c.CreatedAt = store.FromMicros(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, st.actor(), st.TenantID, "txauth.callbacks.list", "callbacks", audit.OutcomeOK, map[string]string{"count": fmt.Sprint(len(out))})
	})
}

package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// ErrNotPending: only an event still being retried can be retried now.
var ErrNotPending = errors.New("notify: only a pending event can be retried now")

// ListTenant is List for one tenant's events (all: every tenant's), newest
// first, only those in state if it is not "", at most limit (1..1000).
func (n *Notifier) ListTenant(ctx context.Context, tenantID string, all bool, state string, limit, offset int) ([]Delivery, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if offset < 0 || offset > 1_000_000 {
		offset = 0
	}
	q, args := `SELECT `+deliveryCols+` FROM notify_outbox WHERE (? OR tenant_id = ?)`, []any{all, tenantID}
	if state != "" {
		q += ` AND state = ?`
		args = append(args, state)
	}
	rows, err := n.db.Query(ctx, q+` ORDER BY created_at DESC, event_id LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Retry makes a pending event (one whose earlier attempts failed and that
// waits for its next attempt) due now, keeping its attempt count, audited
// as Kind+".retry". A delivered or dead event is ErrNotPending (a dead one
// is replayed with Replay).
func (n *Notifier) Retry(ctx context.Context, by Actor, id string) error {
	return n.db.InTx(ctx, func(tx *store.Tx) error {
		var kind, tenant, state string
		if err := tx.QueryRow(ctx, `SELECT kind, tenant_id, state FROM notify_outbox WHERE event_id = ?`, id).Scan(&kind, &tenant, &state); err != nil {
			return mapNotFound(err)
		}
		if state != StatePending {
			return fmt.Errorf("%w (it is %s)", ErrNotPending, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE notify_outbox SET next_at = ? WHERE event_id = ? AND state = 'pending'`, store.Micros(n.now()), id); err != nil {
			return err
		}
		return n.record(ctx, tx, by, tenant, kind+".retry", id, audit.OutcomeOK, nil)
	})
}

func mapNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

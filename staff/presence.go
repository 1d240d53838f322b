package staff

import (
	"context"
	"fmt"
	"strings"

	"github.com/madoguchi/madoguchi/store"
)

// SignedIn reports whether the staff member has a live session: one
// before its absolute expiry and used within the idle timeout, of an
// active account. The review queue uses it to release the claims of a
// reviewer whose session ended (ekyc.ReviewerPresence).
func (d *Directory) SignedIn(ctx context.Context, staffID string) (bool, error) {
	now := d.now()
	var n int
	err := d.db.QueryRow(ctx, `SELECT COUNT(*) FROM staff_sessions s JOIN staff_accounts a ON a.id = s.staff_id
		WHERE s.staff_id = ? AND a.status = 'active' AND s.expires_at > ? AND s.last_seen >= ?`,
		staffID, store.Micros(now), store.Micros(now.Add(-d.cfg.IdleTimeout))).Scan(&n)
	return n > 0, err
}

// maxPresenceIDs bounds one SignedInAmong call (the review queue asks about
// one page of claim holders).
const maxPresenceIDs = 500

// SignedInAmong reports, in one query, which of the staff members ids have
// a live session (as SignedIn does for one); the answer holds the signed-in
// ones. More than 500 ids is an error.
func (d *Directory) SignedInAmong(ctx context.Context, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) > maxPresenceIDs {
		return nil, fmt.Errorf("%w: at most %d staff ids", ErrInvalidInput, maxPresenceIDs)
	}
	now := d.now()
	args := []any{store.Micros(now), store.Micros(now.Add(-d.cfg.IdleTimeout))}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := d.db.Query(ctx, `SELECT DISTINCT s.staff_id FROM staff_sessions s JOIN staff_accounts a ON a.id = s.staff_id
		WHERE a.status = 'active' AND s.expires_at > ? AND s.last_seen >= ? AND s.staff_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

package staff

import (
	"context"

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

package staff

import (
	"context"
	"errors"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// scopedTo names, in an entry about staff account id, the tenant the
// account belongs to, so that the tenant's auditors see their own staff's
// sign-ins and role grants in the portal (the portal shows a tenant only
// entries that name it). An operator account, or an id that is no
// account, leaves the entry installation-wide. The tenant id is an opaque
// id, not personal data.
//
// The query runs for "" too (no account has that id), so a sign-in failure
// for an unknown username runs the same statements as for a real one.
func scopedTo(ctx context.Context, tx *store.Tx, e audit.Entry, id string) (audit.Entry, error) {
	var tenantID *string
	err := tx.QueryRow(ctx, `SELECT tenant_id FROM staff_accounts WHERE id = ?`, id).Scan(&tenantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return e, nil
	case err != nil:
		return e, err
	}
	if tenantID != nil {
		e.TenantID = *tenantID
	}
	return e, nil
}

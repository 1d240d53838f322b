package portal

import (
	"context"

	"github.com/madoguchi/madoguchi/staff"
)

// passkeyKind loads a passkey: it belongs to one person (and through them
// to a tenant or the operator), so anyone else gets 404.
func passkeyKind(d Directory) ObjectKind[staff.Passkey] {
	return ObjectKind[staff.Passkey]{
		Name: "staff.passkey",
		Fetch: func(ctx context.Context, _ Querier, id string) (staff.Passkey, Owner, error) {
			pk, err := d.Passkey(ctx, id)
			return pk, Owner{TenantID: pk.TenantID, StaffID: pk.StaffID}, err
		},
	}
}

// passkeyDelete removes one of the person's passkeys (after
// re-authentication).
func passkeyDelete(rq *Request) error {
	if rq.s.cfg.Passkeys == nil {
		return ErrNotFound
	}
	pk, err := Load(rq, passkeyKind(rq.s.cfg.Staff), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/account"); err != nil {
		return err
	}
	if err := rq.s.cfg.Staff.DeletePasskey(rq.Ctx(), rq.Actor(), pk.ID); err != nil {
		return err
	}
	rq.Flash("flash.passkey_removed")
	return rq.Redirect(Prefix + "/account")
}

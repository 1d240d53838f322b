package portal

import (
	"net/http"

	"github.com/madoguchi/madoguchi/staff"
)

// adminKeys shows the vault's key status: the KEK's current version, the
// versions that still unwrap, how many data keys each wraps and how many
// are not yet on the current version, and pending kek.rotate requests.
func adminKeys(rq *Request) error {
	ks := rq.s.cfg.Admin.Keys
	if ks == nil {
		return errNoService
	}
	st, err := ks.Status(rq.Ctx())
	if err != nil {
		return err
	}
	var pending []staff.Approval
	if sa := rq.s.cfg.Admin.Staff; sa != nil {
		list, err := sa.ApprovalsIn(rq.Ctx(), "", true, staff.StatusPending)
		if err != nil {
			return err
		}
		for _, a := range list {
			if a.Kind == staff.KindKEKRotate && rq.s.cfg.Now().Before(a.ExpiresAt) {
				pending = append(pending, a)
			}
		}
	}
	return rq.Render(http.StatusOK, "admin_keys", "admin.keys.title", map[string]any{
		"Status": st, "Pending": pending, "Admin": rq.Principal.Has(OperatorAdmin)})
}

// adminKeysRotate files a kek.rotate request; a second operator admin
// approves it and the vault rotates right after.
func adminKeysRotate(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil || rq.s.cfg.Admin.Keys == nil {
		return errNoService
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/keys"); err != nil {
		return err
	}
	ap, err := sa.Request(rq.Ctx(), rq.Actor(), staff.KindKEKRotate, []byte(`{}`))
	if err != nil {
		return err
	}
	rq.Flash("flash.approval_filed")
	return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
}

package portal

import (
	"crypto/rand"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// adminStaff lists the staff of a tenant (a tenant's admins: their own;
// operator staff: ?tenant=, or the operator's own accounts without it),
// with the invite form.
func adminStaff(rq *Request) error {
	return renderStaff(rq, http.StatusOK, form.Invite{}, nil)
}

func renderStaff(rq *Request, status int, f form.Invite, errs form.Errors) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	list, err := sa.AccountsIn(rq.Ctx(), tid)
	if err != nil {
		return err
	}
	choices, err := rq.tenantChoices(tid)
	if err != nil {
		return err
	}
	return rq.Render(status, "admin_staff", "admin.staff.title", map[string]any{
		"TenantID": tid, "Tenants": choices, "Accounts": list, "Form": f, "Errors": errs, "Admin": rq.isAdmin()})
}

// adminStaffInvite creates an account without roles in the page's scope
// and shows, once, its initial password and TOTP key for the admin to hand
// over; roles are then requested on the account's page (dual control).
func adminStaffInvite(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	tid, err := rq.scopeTenant()
	if err != nil {
		return err
	}
	back := Prefix + "/admin/staff"
	if tid != "" && rq.Principal.Operator() {
		back += "?tenant=" + tid
	}
	if err := rq.RequireRecentAuth(back); err != nil {
		return err
	}
	f := form.ParseInvite(rq.R)
	errs := f.Validate()
	if !errs.Any() {
		password := rand.Text() // 26 base32 characters, 130 bits
		en, err := sa.Invite(rq.Ctx(), rq.Actor(), tid, f.Username, []byte(password))
		switch {
		case errors.Is(err, staff.ErrConflict):
			errs.Add("username", "form.name_taken")
		case errors.Is(err, staff.ErrInvalidInput):
			errs.Add("username", "form.username")
		case err != nil:
			return err
		default:
			return rq.Render(http.StatusOK, "admin_secret", "admin.secret.title", map[string]any{
				"Account": en.Account, "Password": password, "TOTPURI": en.TOTPURI.Reveal(), "Invited": true})
		}
	}
	return renderStaff(rq, http.StatusUnprocessableEntity, f, errs)
}

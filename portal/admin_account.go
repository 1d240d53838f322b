package portal

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// accountKind is a staff account, owned by its tenant ("" the operator's:
// only operator staff see it).
func (s *Server) accountKind() ObjectKind[staff.Account] {
	return ObjectKind[staff.Account]{Name: "staff",
		Fetch: func(ctx context.Context, _ Querier, id string) (staff.Account, Owner, error) {
			if s.cfg.Admin.Staff == nil {
				return staff.Account{}, Owner{}, ErrNotFound
			}
			a, err := s.cfg.Admin.Staff.Account(ctx, id)
			return a, Owner{TenantID: a.TenantID}, err
		}}
}

// adminAccount shows one account with its roles and, to admins, the forms
// to request a role, reset its TOTP key and remove its passkeys.
func adminAccount(rq *Request) error {
	a, err := Load(rq, rq.s.accountKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	return renderAccount(rq, http.StatusOK, a, nil)
}

func renderAccount(rq *Request, status int, a staff.Account, errs form.Errors) error {
	return rq.Render(status, "admin_account", "admin.account.title", map[string]any{
		"Account": a, "Roles": []staff.Role{staff.RoleReviewer, staff.RoleAdmin, staff.RoleAuditor},
		"Self": a.ID == rq.Principal.StaffID, "Errors": errs, "Admin": rq.isAdmin()})
}

// adminAccountRole files a role.grant request; a different admin of the
// scope approves it in the inbox.
func adminAccountRole(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.accountKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/staff/" + a.ID); err != nil {
		return err
	}
	role, errs := form.ParseRoleGrant(rq.R).Validate()
	if errs.Any() {
		return renderAccount(rq, http.StatusUnprocessableEntity, a, errs)
	}
	payload, err := json.Marshal(staff.RoleGrant{StaffID: a.ID, Role: role})
	if err != nil {
		return err
	}
	ap, err := sa.Request(rq.Ctx(), rq.Actor(), staff.KindRoleGrant, payload)
	if err != nil {
		return err
	}
	rq.Flash("flash.approval_filed")
	return rq.Redirect(Prefix + "/admin/approvals/" + ap.ID)
}

// adminAccountResetTOTP gives the account a new TOTP key (the old one stops
// working, its sessions end) and shows the new key once.
func adminAccountResetTOTP(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.accountKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/staff/" + a.ID); err != nil {
		return err
	}
	uri, err := sa.ResetTOTP(rq.Ctx(), rq.Actor(), a.ID)
	if errors.Is(err, staff.ErrInvalidInput) {
		return renderAccount(rq, http.StatusUnprocessableEntity, a, form.Errors{"": "form.not_self"})
	}
	if err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "admin_secret", "admin.secret.title", map[string]any{"Account": a, "TOTPURI": uri.Reveal()})
}

// adminAccountResetPasskeys removes every passkey of the account and ends
// its sessions.
func adminAccountResetPasskeys(rq *Request) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.accountKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/staff/" + a.ID); err != nil {
		return err
	}
	_, err = sa.ResetPasskeys(rq.Ctx(), rq.Actor(), a.ID)
	if errors.Is(err, staff.ErrInvalidInput) {
		return renderAccount(rq, http.StatusUnprocessableEntity, a, form.Errors{"": "form.not_self"})
	}
	if err != nil {
		return err
	}
	rq.Flash("flash.passkeys_reset")
	return rq.Redirect(Prefix + "/admin/staff/" + a.ID)
}

// adminAccountDisable disables the account at once and ends its sessions
// (staff.Directory.DisableAccount, audited as staff.disable): an admin of
// the account's scope, not the account itself.
func adminAccountDisable(rq *Request) error { return setAccountStatus(rq, false) }

// adminAccountEnable re-enables a disabled account (staff.enable).
func adminAccountEnable(rq *Request) error { return setAccountStatus(rq, true) }

func setAccountStatus(rq *Request, enable bool) error {
	sa := rq.s.cfg.Admin.Staff
	if sa == nil {
		return errNoService
	}
	a, err := Load(rq, rq.s.accountKind(), rq.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.RequireRecentAuth(Prefix + "/admin/staff/" + a.ID); err != nil {
		return err
	}
	key := "flash.account_disabled"
	if enable {
		err, key = sa.EnableAccount(rq.Ctx(), rq.Actor(), a.ID), "flash.account_enabled"
	} else {
		err = sa.DisableAccount(rq.Ctx(), rq.Actor(), a.ID)
	}
	switch {
	case errors.Is(err, staff.ErrInvalidInput):
		return renderAccount(rq, http.StatusUnprocessableEntity, a, form.Errors{"": "form.not_self"})
	case errors.Is(err, staff.ErrNotFound):
		rq.Flash("flash.status_unchanged")
	case err != nil:
		return err
	default:
		rq.Flash(key)
	}
	return rq.Redirect(Prefix + "/admin/staff/" + a.ID)
}

package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// totpConfirm swaps in the pending TOTP key once a code from it is right.
func totpConfirm(rq *Request) error {
	f := form.ParseTOTPConfirm(rq.R)
	page := totpPage{Errors: f.Validate()}
	if page.Errors.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "totp", "totp.title", page)
	}
	err := rq.s.cfg.Staff.ConfirmTOTPReenrol(rq.Ctx(), rq.Actor(), f.Code)
	switch {
	case err == nil:
		rq.Flash("flash.totp_changed")
		return rq.Redirect(Prefix + "/account")
	case errors.Is(err, staff.ErrInvalidCredentials):
		page.Failed = true
		return rq.Render(http.StatusUnprocessableEntity, "totp", "totp.title", page)
	case errors.Is(err, staff.ErrNotFound):
		rq.Flash("flash.totp_none_pending")
		return rq.Redirect(Prefix + "/account")
	}
	return err
}

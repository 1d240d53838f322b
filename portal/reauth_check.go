package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/staff"
)

// reauthCheck re-authenticates with password and TOTP: the username is the
// signed-in person's, whatever the form says. Success opens a new session
// (the old one ends), which RequireRecentAuth then accepts.
func reauthCheck(rq *Request) error {
	if err := rq.limitSignIn(); err != nil {
		return err
	}
	f := form.ParseLogin(rq.R)
	f.Username = rq.Principal.Username
	page, err := newReauthPage(rq, rq.R.PostFormValue("next"))
	if err != nil {
		return err
	}
	if page.Errors = f.Validate(); page.Errors.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "reauth", "reauth.title", page)
	}
	sess, err := rq.s.cfg.Staff.SignIn(rq.Ctx(), f.Username, f.Password, f.Code, rq.RequestID(), rq.ip.String())
	if err == nil {
		err = rq.s.startSession(rq, sess, staff.MethodPassword)
	}
	switch {
	case err == nil:
		return rq.Redirect(page.Next)
	case errors.Is(err, staff.ErrInvalidCredentials), errors.Is(err, staff.ErrBackoff), errors.Is(err, errSignInRefused):
		if aerr := rq.Audit("portal.reauth", rq.Principal.TenantID, rq.Principal.StaffID, audit.OutcomeDenied,
			map[string]string{"method": staff.MethodPassword}); aerr != nil {
			return aerr
		}
		page.Failed = true
		return rq.Render(http.StatusUnauthorized, "reauth", "reauth.title", page)
	case errors.Is(err, staff.ErrBusy):
		return errSignInRate // too many sign-ins being checked at once
	}
	return err
}

package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// passwordPage is the password change page's data.
type passwordPage struct {
	Errors form.Errors
	Recent bool // signed in recently enough to change it without re-authenticating
}

// passwordShow shows the password change form (the person's own password).
func passwordShow(rq *Request) error {
	return rq.Render(http.StatusOK, "password", "password.title", passwordPage{Errors: form.Errors{}, Recent: rq.recentlyAuthenticated()})
}

// passwordChange changes the person's own password after re-authentication
// (staff.Directory.ChangePassword: argon2id, audited as
// staff.password.change): the account's other sessions end, this one
// stays. A wrong current password ends this session too, and the person
// signs in again.
func passwordChange(rq *Request) error {
	if err := rq.RequireRecentAuth(Prefix + "/account/password"); err != nil {
		return err
	}
	f := form.ParsePasswordChange(rq.R)
	page := passwordPage{Errors: f.Validate(), Recent: true}
	if page.Errors.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "password", "password.title", page)
	}
	_, err := rq.s.cfg.Staff.ChangePassword(rq.Ctx(), rq.Actor(), session.Token(rq.R), []byte(f.Current), []byte(f.New))
	switch {
	case err == nil:
		rq.Flash("flash.password_changed")
		return rq.Redirect(Prefix + "/account")
	case errors.Is(err, staff.ErrWeakPassword):
		page.Errors.Add("new", "password.weak")
		return rq.Render(http.StatusUnprocessableEntity, "password", "password.title", page)
	case errors.Is(err, staff.ErrInvalidCredentials):
		session.ClearToken(rq.W)
		rq.Flash("flash.password_wrong")
		return rq.Redirect(Prefix + "/login")
	}
	return err
}

package portal

import (
	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/session"
)

// logout ends the session and returns to the sign-in page.
func logout(rq *Request) error {
	if err := rq.s.cfg.Staff.Logout(rq.Ctx(), session.Token(rq.R)); err != nil {
		return err
	}
	session.ClearToken(rq.W)
	if err := rq.Audit("portal.signout", rq.Principal.TenantID, rq.Principal.StaffID, audit.OutcomeOK, nil); err != nil {
		return err
	}
	rq.Flash("flash.signed_out")
	return rq.Redirect(Prefix + "/login")
}

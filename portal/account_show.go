package portal

import (
	"net/http"

	"github.com/madoguchi/madoguchi/staff"
)

// accountPage is the account page's data.
type accountPage struct {
	Account  staff.Account
	Passkeys []staff.Passkey
	// Recent: signed in within the re-authentication window, so the
	// sensitive buttons work without another confirmation.
	Recent bool
	Next   string
}

// accountShow shows the person's own account: scope and roles, this
// session, their passkeys (add, remove) and TOTP re-enrolment.
func accountShow(rq *Request) error {
	acct, err := rq.s.cfg.Staff.Account(rq.Ctx(), rq.Principal.StaffID)
	if err != nil {
		return err
	}
	page := accountPage{Account: acct, Recent: rq.recentlyAuthenticated(), Next: Prefix + "/account"}
	if rq.s.cfg.Passkeys != nil {
		if page.Passkeys, err = rq.s.cfg.Staff.Passkeys(rq.Ctx(), acct.ID); err != nil {
			return err
		}
	}
	return rq.Render(http.StatusOK, "account", "account.title", page)
}

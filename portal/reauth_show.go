package portal

import (
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
)

// reauthPage is the re-authentication page's data.
type reauthPage struct {
	Errors  form.Errors
	Failed  bool
	Next    string
	Passkey bool // the person has a passkey to confirm with
}

// reauthShow asks the signed-in person to prove it is still them (password
// and TOTP, or a passkey) before a sensitive action; Next is where they go
// afterwards.
func reauthShow(rq *Request) error {
	page, err := newReauthPage(rq, rq.R.URL.Query().Get("next"))
	if err != nil {
		return err
	}
	return rq.Render(http.StatusOK, "reauth", "reauth.title", page)
}

func newReauthPage(rq *Request, next string) (reauthPage, error) {
	page := reauthPage{Next: localPath(next), Errors: form.Errors{}}
	if rq.s.cfg.Passkeys != nil {
		pks, err := rq.s.cfg.Staff.Passkeys(rq.Ctx(), rq.Principal.StaffID)
		if err != nil {
			return page, err
		}
		page.Passkey = len(pks) > 0
	}
	return page, nil
}

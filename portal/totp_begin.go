package portal

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/madoguchi/madoguchi/portal/form"
)

// totpPage is the TOTP re-enrolment page's data.
type totpPage struct {
	Secret string // the new key, grouped for typing ("" after a failed code)
	URI    string // the otpauth:// URI for apps that take one
	Errors form.Errors
	Failed bool
}

// totpBegin creates a new, pending TOTP key (after re-authentication) and
// shows it once with the form that confirms it.
func totpBegin(rq *Request) error {
	if err := rq.RequireRecentAuth(Prefix + "/account"); err != nil {
		return err
	}
	uri, err := rq.s.cfg.Staff.BeginTOTPReenrol(rq.Ctx(), rq.Actor())
	if err != nil {
		return err
	}
	u, err := url.Parse(uri.Reveal())
	if err != nil {
		return err
	}
	sec := u.Query().Get("secret")
	var groups []string
	for len(sec) > 4 {
		groups, sec = append(groups, sec[:4]), sec[4:]
	}
	groups = append(groups, sec)
	return rq.Render(http.StatusOK, "totp", "totp.title", totpPage{Secret: strings.Join(groups, " "), URI: uri.Reveal(), Errors: form.Errors{}})
}

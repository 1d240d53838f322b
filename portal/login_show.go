package portal

import (
	"net/http"

	"github.com/madoguchi/madoguchi/portal/form"
)

// loginPage is the sign-in page's data.
type loginPage struct {
	Form   form.Login
	Errors form.Errors
	Failed bool // credentials refused: one message, whatever was wrong
	Next   string
}

// loginShow shows the sign-in form (password and TOTP, or a passkey). A
// signed-in person goes home.
func loginShow(rq *Request) error {
	if rq.Principal != nil {
		return rq.Redirect(Prefix + "/")
	}
	return rq.Render(http.StatusOK, "login", "login.title", loginPage{Next: localPath(rq.R.URL.Query().Get("next")), Errors: form.Errors{}})
}

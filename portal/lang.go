package portal

import (
	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/portal/session"
)

// langSet switches the portal's language and returns to the page.
func langSet(rq *Request) error {
	l, ok := i18n.Parse(rq.R.PostFormValue("lang"))
	if !ok {
		return errBadInput
	}
	session.SetLang(rq.W, string(l))
	return rq.Redirect(localPath(rq.R.PostFormValue("next")))
}

package form

import "net/http"

// PasswordChange is the account page's password change: the current
// password, the new one and the new one again. Passwords are not trimmed.
type PasswordChange struct {
	Current, New, Confirm string
}

// ParsePasswordChange reads the form.
func ParsePasswordChange(r *http.Request) PasswordChange {
	return PasswordChange{Current: r.PostFormValue("current"), New: r.PostFormValue("new"), Confirm: r.PostFormValue("confirm")}
}

// Validate checks presence, size and that the new password was typed the
// same twice; the password policy itself is the staff directory's
// (staff.CheckPassword).
func (f PasswordChange) Validate() Errors {
	e := Errors{}
	for _, c := range []struct{ field, v string }{{"current", f.Current}, {"new", f.New}, {"confirm", f.Confirm}} {
		switch {
		case c.v == "":
			e.Add(c.field, "form.required")
		case len(c.v) > MaxPassword:
			e.Add(c.field, "form.too_long")
		}
	}
	if f.New != "" && f.Confirm != "" && f.New != f.Confirm {
		e.Add("confirm", "password.mismatch")
	}
	return e
}

package form

import "net/http"

// Limits of the sign-in form (the staff package has its own, stricter ones).
const (
	MaxUsername = 64
	MaxPassword = 1024
)

// Login is the sign-in (and re-authentication) form.
type Login struct {
	Username string
	Password string
	Code     string
}

// ParseLogin reads the sign-in form. The password is not trimmed.
func ParseLogin(r *http.Request) Login {
	return Login{Username: value(r, "username"), Password: r.PostFormValue("password"), Code: value(r, "code")}
}

// Validate checks presence and size only: whether the credentials are right
// is the staff directory's answer, one and the same for every wrong part.
func (f Login) Validate() Errors {
	e := Errors{}
	checkText(e, "username", f.Username, MaxUsername)
	if f.Password == "" {
		e.Add("password", "form.required")
	} else if len(f.Password) > MaxPassword {
		e.Add("password", "form.too_long")
	}
	checkCode(e, "code", f.Code)
	return e
}

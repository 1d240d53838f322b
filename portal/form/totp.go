package form

import "net/http"

// TOTPConfirm confirms a new TOTP key with a code from it.
type TOTPConfirm struct{ Code string }

// ParseTOTPConfirm reads the confirmation form.
func ParseTOTPConfirm(r *http.Request) TOTPConfirm { return TOTPConfirm{Code: value(r, "code")} }

// Validate checks the code's format.
func (f TOTPConfirm) Validate() Errors {
	e := Errors{}
	checkCode(e, "code", f.Code)
	return e
}

// Package form parses and validates the portal's forms. A form is a struct
// filled from the request by a Parse function and checked by its Validate
// method, which returns Errors: message keys (portal/i18n) by field name.
// The page re-renders itself with the values and the messages; nothing is
// written while a form has errors. Every field is length-bounded here, on
// the server, whatever the browser enforced.
package form

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// Errors maps a field name to a message key; the key "" is for the form as
// a whole.
type Errors map[string]string

// Add records key for field, keeping the first message per field.
func (e Errors) Add(field, key string) {
	if _, ok := e[field]; !ok {
		e[field] = key
	}
}

// Any reports whether there is at least one error.
func (e Errors) Any() bool { return len(e) > 0 }

// value returns the trimmed form value (the body was parsed and capped by
// the portal before the page ran).
func value(r *http.Request, name string) string { return strings.TrimSpace(r.PostFormValue(name)) }

// checkText adds a required/too-long error for a free-text field.
func checkText(e Errors, field, v string, max int) {
	switch {
	case v == "":
		e.Add(field, "form.required")
	case len(v) > max || !utf8.ValidString(v):
		e.Add(field, "form.too_long")
	}
}

// Code is a six-digit one-time code.
func checkCode(e Errors, field, v string) {
	if v == "" {
		e.Add(field, "form.required")
		return
	}
	if len(v) != 6 || strings.Trim(v, "0123456789") != "" {
		e.Add(field, "form.code_format")
	}
}

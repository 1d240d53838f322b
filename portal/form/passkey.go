package form

import (
	"encoding/json"
	"strings"
	"unicode"
)

// MaxPasskeyName bounds a passkey's label (bytes).
const MaxPasskeyName = 64

// PasskeyRegistration is the script's registration finish request: the
// label typed on the account page and the browser's credential
// (PublicKeyCredential.toJSON()), passed on undecoded to the relying party.
type PasskeyRegistration struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// Validate checks the label and that a credential is present.
func (f *PasskeyRegistration) Validate() Errors {
	e := Errors{}
	f.Name = strings.TrimSpace(f.Name)
	checkText(e, "name", f.Name, MaxPasskeyName)
	if strings.IndexFunc(f.Name, unicode.IsControl) >= 0 {
		e.Add("name", "form.invalid")
	}
	if len(f.Credential) == 0 {
		e.Add("", "passkey.failed")
	}
	return e
}

// PasskeyAssertion is the script's sign-in finish request.
type PasskeyAssertion struct {
	Credential json.RawMessage `json:"credential"`
	Next       string          `json:"next"`
}

// PasskeyBegin is the script's begin request: "login" (any passkey) or
// "reauth" (the signed-in person's own).
type PasskeyBegin struct {
	Purpose string `json:"purpose"`
}

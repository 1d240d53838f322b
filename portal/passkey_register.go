package portal

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// ceremonyTTL is how long the browser keeps a passkey ceremony cookie.
const ceremonyTTL = 5 * time.Minute

// passkeyRegisterBegin starts registering a passkey for the signed-in
// person (after re-authentication): the creation options for the script.
func passkeyRegisterBegin(rq *Request) error {
	if rq.s.cfg.Passkeys == nil {
		return ErrNotFound
	}
	if err := rq.RequireRecentAuth(Prefix + "/account"); err != nil {
		return err
	}
	opts, cer, err := rq.s.cfg.Passkeys.BeginRegistration(rq.Ctx(), rq.Actor())
	if errors.Is(err, staff.ErrInvalidInput) {
		return &statusError{http.StatusConflict, "passkey.too_many"}
	} else if err != nil {
		return err
	}
	session.SetCeremony(rq.W, cer.Reveal(), ceremonyTTL)
	return rq.JSON(http.StatusOK, map[string]json.RawMessage{"publicKey": opts})
}

// passkeyRegisterFinish verifies the browser's new credential and stores
// it under the name the person typed.
func passkeyRegisterFinish(rq *Request) error {
	if rq.s.cfg.Passkeys == nil {
		return ErrNotFound
	}
	if err := rq.RequireRecentAuth(Prefix + "/account"); err != nil {
		return err
	}
	var f form.PasskeyRegistration
	if err := rq.DecodeJSON(&f); err != nil {
		return err
	}
	if errs := f.Validate(); errs.Any() {
		for _, key := range errs {
			return &statusError{http.StatusUnprocessableEntity, key}
		}
	}
	cer := session.Ceremony(rq.R)
	session.ClearCeremony(rq.W)
	_, err := rq.s.cfg.Passkeys.FinishRegistration(rq.Ctx(), rq.Actor(), cer, f.Name, f.Credential)
	switch {
	case errors.Is(err, staff.ErrInvalidCredentials):
		return &statusError{http.StatusBadRequest, "passkey.failed"}
	case errors.Is(err, staff.ErrInvalidInput), errors.Is(err, staff.ErrConflict):
		return &statusError{http.StatusConflict, "passkey.too_many"}
	case err != nil:
		return err
	}
	rq.Flash("flash.passkey_added")
	return rq.JSON(http.StatusOK, map[string]string{"redirect": Prefix + "/account"})
}

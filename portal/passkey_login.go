package portal

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// passkeyLoginBegin starts a passkey assertion: for signing in (any
// registered passkey) or, for a signed-in person, to re-authenticate with
// one of their own.
func passkeyLoginBegin(rq *Request) error {
	if rq.s.cfg.Passkeys == nil {
		return ErrNotFound
	}
	var f form.PasskeyBegin
	if err := rq.DecodeJSON(&f); err != nil {
		return err
	}
	staffID := ""
	switch f.Purpose {
	case "login":
	case "reauth":
		if rq.Principal == nil {
			return &statusError{http.StatusUnauthorized, "error.signed_out"}
		}
		staffID = rq.Principal.StaffID
	default:
		return errBadInput
	}
	opts, cer, err := rq.s.cfg.Passkeys.BeginLogin(rq.Ctx(), staffID)
	if errors.Is(err, staff.ErrNotFound) {
		return &statusError{http.StatusConflict, "passkey.none"}
	} else if err != nil {
		return err
	}
	session.SetCeremony(rq.W, cer.Reveal(), ceremonyTTL)
	return rq.JSON(http.StatusOK, map[string]json.RawMessage{"publicKey": opts})
}

// passkeyLoginFinish verifies the assertion and signs the person in. A
// refusal has the same message as a refused password sign-in.
func passkeyLoginFinish(rq *Request) error {
	if rq.s.cfg.Passkeys == nil {
		return ErrNotFound
	}
	if err := rq.limitSignIn(); err != nil {
		return err
	}
	var f form.PasskeyAssertion
	if err := rq.DecodeJSON(&f); err != nil {
		return err
	}
	cer := session.Ceremony(rq.R)
	session.ClearCeremony(rq.W)
	details := map[string]string{}
	if rq.ip.IsValid() {
		details["ip"] = rq.ip.String()
	}
	sess, err := rq.s.cfg.Passkeys.FinishLogin(rq.Ctx(), cer, f.Credential, rq.RequestID(), details)
	if err == nil {
		err = rq.s.startSession(rq, sess, staff.MethodPasskey)
	}
	switch {
	case err == nil:
		return rq.JSON(http.StatusOK, map[string]string{"redirect": localPath(f.Next)})
	case errors.Is(err, staff.ErrInvalidCredentials), errors.Is(err, errSignInRefused):
		if aerr := rq.Audit("portal.signin", "", "", audit.OutcomeDenied, map[string]string{"method": staff.MethodPasskey}); aerr != nil {
			return aerr
		}
		return &statusError{http.StatusUnauthorized, "signin.failed"}
	}
	return err
}

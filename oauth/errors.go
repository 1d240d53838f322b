package oauth

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an OAuth error (RFC 6749 §5.2 and the extensions' codes). Code
// and Description are public; Cause stays in the log.
type Error struct {
	Status      int
	Code        string
	Description string
	Cause       error
	// Challenge, when set, is sent as WWW-Authenticate.
	Challenge string
	// Nonce, when set, is sent as DPoP-Nonce.
	Nonce string
	// RetryAfter, when set, is sent as Retry-After (seconds).
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("oauth: %s: %s: %v", e.Code, e.Description, e.Cause)
	}
	return "oauth: " + e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Cause }

func oerr(status int, code, desc string, cause error) *Error {
	return &Error{Status: status, Code: code, Description: desc, Cause: cause}
}

func invalidRequest(desc string, cause error) *Error {
	return oerr(http.StatusBadRequest, "invalid_request", desc, cause)
}

func invalidGrant(desc string, cause error) *Error {
	return oerr(http.StatusBadRequest, "invalid_grant", desc, cause)
}

// Sentinels with a documented contract, wrapped in an Error's Cause where
// tests and logs need the reason.
var (
	ErrNotFound       = errors.New("oauth: not found")
	ErrReplay         = errors.New("oauth: replayed")
	ErrExpired        = errors.New("oauth: expired")
	ErrDPoP           = errors.New("oauth: DPoP proof rejected")
	ErrDPoPNonce      = errors.New("oauth: DPoP nonce missing or stale")
	ErrBinding        = errors.New("oauth: token presented without its sender constraint")
	ErrPKCE           = errors.New("oauth: PKCE verifier does not match")
	ErrRequestObject  = errors.New("oauth: request object rejected")
	ErrDetails        = errors.New("oauth: authorization_details rejected")
	ErrNotActive      = errors.New("oauth: client is not an active OAuth client")
	ErrInvalidInput   = errors.New("oauth: invalid input")
	ErrCustomer       = errors.New("oauth: customer authentication failed")
	ErrForbidden      = errors.New("oauth: not allowed")
	ErrSecondApprover = errors.New("oauth: activation needs a second admin")
	ErrRateLimited    = errors.New("oauth: rate limited")
)

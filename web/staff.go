package web

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// StaffSessions signs staff in and out of the portal and the review API.
// Implementations wrap ErrInvalidCredentials for a wrong username, password
// or second factor, and ErrLocked for an account locked after repeated
// failures; anything else is a server fault.
type StaffSessions interface {
	Login(ctx context.Context, username, password, totp string) (token string, expires time.Time, err error)
	Logout(ctx context.Context, token string) error
}

// Sentinels a StaffSessions implementation wraps.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrLocked             = errors.New("account locked")
)

type staffLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

// maxStaffLogin caps the login body; a password is at most a few hundred bytes.
const maxStaffLogin = 4 << 10

func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request) error {
	// Per-address limit on top of the account lockout: slows spraying one
	// password across many accounts.
	if ok, wait := s.limit.allow("login:" + remoteHost(r)); !ok {
		return tooMany(wait)
	}
	var req staffLoginRequest
	if err := decodeJSON(w, r, maxStaffLogin, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || req.TOTP == "" {
		return errBadRequest("username, password and totp are required.")
	}
	tok, exp, err := s.cfg.Staff.Login(r.Context(), req.Username, req.Password, req.TOTP)
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalidCredentials):
		// One answer for every wrong part, so the response does not tell
		// which usernames exist.
		return errUnauthorized("The username, password or one-time code is wrong.").withCause(err)
	case errors.Is(err, ErrLocked):
		return newProblem(http.StatusForbidden, "account-locked", "Account locked",
			"Too many failed sign-ins; try again later or ask an administrator.").withCause(err)
	default:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "token_type": "Bearer", "expires_at": exp.UTC().Format(time.RFC3339)})
	return nil
}

func (s *Server) staffLogout(w http.ResponseWriter, r *http.Request) error {
	tok, ok := bearer(r)
	if !ok {
		return errUnauthorized("Send the staff session token: Authorization: Bearer <token>.")
	}
	if err := s.cfg.Staff.Logout(r.Context(), tok); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			return errUnauthorized("The staff session is not valid.").withCause(err)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"time"
)

// StaffSessions signs staff in and out of the portal and the review API.
// source is the client's address (backoff is counted per username and
// address). Implementations wrap ErrInvalidCredentials for a wrong or
// unknown username, password or second factor, return a
// *SignInBackoffError while the (username, address) pair is in backoff —
// both alike for real and unknown accounts —, wrap ErrBusy when too many
// sign-ins are being verified, and ErrInvalidToken from Logout for an
// unknown or expired session; anything else is a server fault.
type StaffSessions interface {
	Login(ctx context.Context, username, password, totp, source string) (token string, expires time.Time, err error)
	Logout(ctx context.Context, token string) error
}

// Sentinels a StaffSessions implementation wraps.
var (
	ErrInvalidCredentials = errors.New("invalid credentials")
	ErrSignInBackoff      = errors.New("sign-in backoff")
	ErrBusy               = errors.New("busy")
)

type staffLoginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	TOTP     string `json:"totp"`
}

// maxStaffLogin caps the login body; a password is at most a few hundred bytes.
const maxStaffLogin = 4 << 10

func (s *Server) staffLogin(w http.ResponseWriter, r *http.Request) error {
	// Per-address limit (slows spraying from one address), then a global
	// one (bounds the password-hashing work everyone together can ask
	// for); the directory's hash gate bounds the memory. Both come before
	// the body is read.
	if ok, wait := s.signIn.perAddress.allow("login:" + remoteHost(r)); !ok {
		return tooMany(wait)
	}
	if ok, wait := s.signIn.global.allow("login"); !ok {
		return errUnavailable("Too many sign-ins at once; retry after the time in Retry-After.", retrySeconds(wait))
	}
	var req staffLoginRequest
	if err := decodeJSON(w, r, maxStaffLogin, &req); err != nil {
		return err
	}
	if req.Username == "" || req.Password == "" || req.TOTP == "" {
		return errBadRequest("username, password and totp are required.")
	}
	tok, exp, err := s.cfg.Staff.Login(r.Context(), req.Username, req.Password, req.TOTP, remoteHost(r))
	var be *SignInBackoffError
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalidCredentials):
		// One answer for every wrong part, so the response does not tell
		// which usernames exist.
		return errUnauthorized("The username, password or one-time code is wrong.").withCause(err)
	case errors.As(err, &be):
		// The same for real and unknown usernames: the count is per
		// (username, address), whether or not the account exists.
		p := newProblem(http.StatusTooManyRequests, "sign-in-backoff", "Sign-in paused",
			"Too many failed sign-ins for this username from this address; retry after the time in Retry-After.")
		p.retryAfter = retrySeconds(be.RetryAfter)
		return p.withCause(err)
	case errors.Is(err, ErrBusy):
		return errUnavailable("Too many sign-ins are being checked; retry shortly.", 1).withCause(err)
	default:
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "token_type": "Bearer", "expires_at": exp.UTC().Format(time.RFC3339)})
	return nil
}

func retrySeconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

func (s *Server) staffLogout(w http.ResponseWriter, r *http.Request) error {
	tok, ok := bearer(r)
	if !ok {
		bearerChallenge(w, "", "")
		return errUnauthorized("Send the staff session token: Authorization: Bearer <token>.")
	}
	if err := s.cfg.Staff.Logout(r.Context(), tok); err != nil {
		if errors.Is(err, ErrInvalidToken) {
			bearerChallenge(w, "invalid_token", "")
			return errUnauthorized("The staff session is unknown, already ended or expired.").withCause(err)
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

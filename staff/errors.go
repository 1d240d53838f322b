package staff

import "errors"

// Errors with a documented contract (test with errors.Is).
var (
	// ErrInvalidCredentials: wrong username, password or TOTP code. The
	// message never says which.
	ErrInvalidCredentials = errors.New("staff: invalid credentials")
	// ErrBackoff: too many consecutive failures for this username from
	// this source address; the next attempt from there is evaluated after
	// the *BackoffError's RetryAfter. Unknown usernames get it too.
	ErrBackoff = errors.New("staff: sign-in backoff for this source")
	// ErrLocked is ErrBackoff under its former name (accounts are no longer
	// locked as a whole).
	//
	// Deprecated: use ErrBackoff.
	ErrLocked = ErrBackoff
	// ErrBusy: too many sign-ins are being verified; retry shortly.
	ErrBusy = errors.New("staff: sign-in busy")
	// ErrWeakPassword: the password breaks the policy.
	ErrWeakPassword = errors.New("staff: password does not meet the policy")
	// ErrBadHash: a stored password hash is malformed or out of bounds.
	ErrBadHash = errors.New("staff: malformed password hash")
	// ErrInvalidInput: a username, role, kind or payload is unacceptable.
	ErrInvalidInput = errors.New("staff: invalid input")
	// ErrNotFound: no such account, session or approval.
	ErrNotFound = errors.New("staff: not found")
	// ErrConflict: the username is taken, or the role already held.
	ErrConflict = errors.New("staff: already exists")
	// ErrBootstrapDone: the first admin exists; further roles need approval.
	ErrBootstrapDone = errors.New("staff: bootstrap already done")
	// ErrForbidden: the actor lacks the role the operation needs.
	ErrForbidden = errors.New("staff: not permitted")
	// ErrSameApprover: dual control needs an admin other than the requester.
	ErrSameApprover = errors.New("staff: requester cannot approve their own request")
	// ErrExpired: the approval request expired before a decision.
	ErrExpired = errors.New("staff: approval request expired")
	// ErrDecided: the approval request was already approved or rejected.
	ErrDecided = errors.New("staff: approval request already decided")
	// ErrSession: the session token is unknown, expired or idle too long.
	ErrSession = errors.New("staff: invalid session")
)

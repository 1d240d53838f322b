package staff

import "errors"

// Errors with a documented contract (test with errors.Is).
var (
	// ErrInvalidCredentials: wrong username, password or TOTP code. The
	// message never says which.
	ErrInvalidCredentials = errors.New("staff: invalid credentials")
	// ErrLocked: too many consecutive failures; the account unlocks by itself
	// after the lockout period.
	ErrLocked = errors.New("staff: account temporarily locked")
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

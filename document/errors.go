package document

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by all document verifiers. Verifiers wrap them
// (usually in a *RefusalError) so callers can test with errors.Is.
var (
	// ErrMalformed: the input does not decode (truncated TLV, lengths that
	// lie, wrong OIDs, trailing data, absurd sizes).
	ErrMalformed = errors.New("document: malformed input")
	// ErrTooLarge: an input exceeds its size limit.
	ErrTooLarge = errors.New("document: input too large")
	// ErrNotAccepted: the files are not a document kind we accept, or mix kinds.
	ErrNotAccepted = errors.New("document: not an accepted document")
	// ErrUnknownIssuer: the issuer signature does not chain to a configured
	// trust anchor.
	ErrUnknownIssuer = errors.New("document: unknown issuer")
	// ErrTampered: a signature or a hash does not match the data.
	ErrTampered = errors.New("document: data does not match its signature")
	// ErrExpired: a certificate (or the document) is outside its validity.
	ErrExpired = errors.New("document: expired or not yet valid")
	// ErrRevoked: a certificate is on a CRL.
	ErrRevoked = errors.New("document: certificate revoked")
	// ErrWeakAlgorithm: an algorithm the policy forbids (MD5, SHA-1 for
	// signatures, RSA below 2048 bits for new signatures …).
	ErrWeakAlgorithm = errors.New("document: algorithm not allowed by policy")
	// ErrUnsupported: a well-formed feature we do not implement.
	ErrUnsupported = errors.New("document: unsupported algorithm or feature")
	// ErrChallenge: the chip did not answer the server's challenge (Active
	// Authentication failed, or a response made for another challenge).
	ErrChallenge = errors.New("document: challenge response invalid")
	// ErrTestAnchor: a test trust anchor is configured in production.
	ErrTestAnchor = errors.New("document: test trust anchor in production")
	// ErrNotVerified: an operation that needs verified evidence got unverified evidence.
	ErrNotVerified = errors.New("document: evidence not verified")
)

// RefusalError is a refusal with a reviewer-readable reason. Check names the
// check that failed (as in Check.Name); Reason contains no personal data.
// Err is one of the sentinels above (possibly wrapping a lower-level cause).
type RefusalError struct {
	Kind   Kind
	Check  string
	Reason string
	Err    error
}

func (e *RefusalError) Error() string {
	s := "document"
	if e.Kind != "" {
		s += " (" + string(e.Kind) + ")"
	}
	if e.Check != "" {
		s += ": " + e.Check
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *RefusalError) Unwrap() error { return e.Err }

// Refuse builds a *RefusalError; reason is a format string for
// reviewer-readable text without personal data.
func Refuse(kind Kind, check string, err error, reason string, args ...any) *RefusalError {
	return &RefusalError{Kind: kind, Check: check, Reason: fmt.Sprintf(reason, args...), Err: err}
}

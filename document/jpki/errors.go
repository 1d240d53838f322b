package jpki

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	ErrDisabled              = errors.New("jpki: method disabled: missing trust anchors, revocation provider or nonce store")
	ErrNotProduction         = errors.New("jpki: trust anchor is not a pinned J-LIS production root")
	ErrTooLarge              = errors.New("jpki: input too large")
	ErrChallengeMalformed    = errors.New("jpki: malformed challenge")
	ErrChallengeExpired      = errors.New("jpki: challenge expired or not yet valid")
	ErrChallengeReplayed     = errors.New("jpki: challenge already used")
	ErrContentMismatch       = errors.New("jpki: signed content is not the issued challenge")
	ErrSignature             = errors.New("jpki: signature does not verify")
	ErrSignatureFormat       = errors.New("jpki: malformed signature")
	ErrCertificate           = errors.New("jpki: malformed certificate")
	ErrChain                 = errors.New("jpki: certificate does not chain to a trusted J-LIS root")
	ErrValidity              = errors.New("jpki: certificate not valid at signing time")
	ErrKeyUsage              = errors.New("jpki: certificate key usage does not allow this use")
	ErrBasicConstraints      = errors.New("jpki: issuer is not a certificate authority")
	ErrCriticalExtension     = errors.New("jpki: unknown critical extension")
	ErrWeakAlgorithm         = errors.New("jpki: weak or unsupported algorithm")
	ErrSignerMismatch        = errors.New("jpki: signer does not match the certificate")
	ErrSigningTime           = errors.New("jpki: signing time outside the challenge window")
	ErrAttributes            = errors.New("jpki: invalid personal attributes in certificate")
	ErrRevoked               = errors.New("jpki: certificate revoked")
	ErrRevocationUnavailable = errors.New("jpki: revocation status unavailable")
	ErrStaleCRL              = errors.New("jpki: CRL is stale (past nextUpdate)")
	ErrCRL                   = errors.New("jpki: invalid CRL")
	ErrOlderCRL              = errors.New("jpki: CRL is not newer than the one already imported")
	ErrOCSP                  = errors.New("jpki: invalid OCSP response")
)

package tenant

import "errors"

// Errors with a documented contract. The HTTP layer picks its answer with
// errors.Is; the detailed reasons below are wrapped inside the class errors
// (for example ErrInvalidClient wraps ErrReplay) and are meant for logs and
// tests, not for the client: an OAuth error response names only the class.
var (
	// ErrNotFound: no such tenant, client or approval in the caller's tenant.
	// A lookup across tenants answers ErrNotFound, never "forbidden".
	ErrNotFound = errors.New("tenant: not found")
	// ErrConflict: a tenant name or client certificate is already registered.
	ErrConflict = errors.New("tenant: already exists")
	// ErrInvalidInput: a name, scope list, JWKS or certificate given to an
	// administrative function is unacceptable.
	ErrInvalidInput = errors.New("tenant: invalid input")

	// ErrInvalidRequest: a token request is malformed (OAuth invalid_request).
	ErrInvalidRequest = errors.New("tenant: invalid token request")
	// ErrUnsupportedGrantType: only client_credentials is supported.
	ErrUnsupportedGrantType = errors.New("tenant: unsupported grant type")
	// ErrInvalidScope: a requested scope is unknown or not granted to the client.
	ErrInvalidScope = errors.New("tenant: invalid scope")
	// ErrInvalidClient: client authentication failed (OAuth invalid_client, 401).
	ErrInvalidClient = errors.New("tenant: client authentication failed")
	// ErrInvalidToken: a bearer token is unknown, expired, revoked or not
	// presented over the certificate it is bound to (401).
	ErrInvalidToken = errors.New("tenant: invalid access token")
)

// Reasons wrapped inside ErrInvalidClient / ErrInvalidToken / ErrInvalidInput.
var (
	ErrMalformedJWS   = errors.New("tenant: malformed JWS")
	ErrAlgNotAllowed  = errors.New("tenant: JWS algorithm not allowed")
	ErrUnknownKey     = errors.New("tenant: no registered key matches the JWS kid")
	ErrKeyAlgMismatch = errors.New("tenant: registered key does not fit the JWS algorithm")
	ErrBadSignature   = errors.New("tenant: JWS signature does not verify")
	ErrClaims         = errors.New("tenant: client assertion claims rejected")
	ErrReplay         = errors.New("tenant: client assertion jti already used")
	ErrUnknownClient  = errors.New("tenant: unknown or disabled client")
	ErrWrongMethod    = errors.New("tenant: client registered for another authentication method")
	ErrCertMismatch   = errors.New("tenant: TLS client certificate does not match")
	ErrTokenExpired   = errors.New("tenant: access token expired")
	ErrInvalidJWKS    = errors.New("tenant: invalid JWKS")
	ErrInvalidCert    = errors.New("tenant: invalid client certificate")
)

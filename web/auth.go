package web

import (
	"context"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Scopes the HTTP layer checks. Domain handlers add their own.
const (
	ScopeAuditRead = "audit:read"
)

// Principal is the authenticated API client of a request: every handler
// under /v1 acts inside Principal.TenantID only.
type Principal struct {
	TenantID string
	ClientID string
	Scopes   []string
	// Subject is the customer a client acts for (OAuth grants); "" when
	// the client acts for itself (client_credentials).
	Subject string
	// GrantID is the customer's consent behind the token ("" otherwise).
	GrantID string
}

// Has reports whether the principal was granted scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

// PrincipalFrom returns the request's authenticated principal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(keyPrincipal).(Principal)
	return p, ok
}

// Auth validates API clients' access tokens (the token endpoint is the
// authorization server's, Config.OAuth). Implementations return errors
// wrapping ErrInvalidToken for a client mistake; anything else is a server
// fault (500).
type Auth interface {
	// Authenticate validates a bearer access token (and its certificate
	// binding, RFC 8705) and returns its principal.
	Authenticate(ctx context.Context, token string, peer *x509.Certificate) (Principal, error)
}

// ErrInvalidToken is what an Auth implementation wraps for an unknown,
// expired or unbound token (RFC 6750 invalid_token).
var ErrInvalidToken = errors.New("invalid token")

func peerCert(r *http.Request) *x509.Certificate {
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return r.TLS.PeerCertificates[0]
	}
	return nil
}

func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// authed wraps a handler with bearer-token authentication, an optional scope
// check and the per-client rate limit.
func (s *Server) authed(scope string, h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		var p Principal
		if s.cfg.OAuth != nil {
			var err error
			if p, err = s.resourceAuth(w, r); err != nil {
				return err
			}
		} else {
			tok, ok := bearer(r)
			if !ok {
				// RFC 6750 §3.1: no error code when no token was sent (or
				// another scheme was tried); the challenge names Bearer,
				// the only scheme these endpoints accept here.
				code := ""
				if scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Bearer") {
					code = "invalid_request" // a malformed bearer credential
				}
				bearerChallenge(w, code, "")
				return errUnauthorized("Send an access token: Authorization: Bearer <token>.")
			}
			var err error
			p, err = s.cfg.Auth.Authenticate(r.Context(), tok, peerCert(r))
			if err != nil {
				if errors.Is(err, ErrInvalidToken) {
					bearerChallenge(w, "invalid_token", "")
					return errUnauthorized("The access token is invalid, expired, or not bound to this client's certificate.").withCause(err)
				}
				return err
			}
		}
		if ok, wait := s.limit.allow("client:" + p.ClientID); !ok {
			return tooMany(wait)
		}
		if scope != "" && !p.Has(scope) {
			bearerChallenge(w, "insufficient_scope", scope)
			return errForbidden("This client lacks the scope " + scope + ".")
		}
		return h(w, r.WithContext(withPrincipal(r.Context(), p)))
	})
}

func tooMany(wait interface{ Seconds() float64 }) *Problem {
	p := newProblem(http.StatusTooManyRequests, "rate-limited", "Too many requests", "Slow down and retry after the time in Retry-After.")
	p.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
	return p
}

// bearer extracts an RFC 6750 bearer token from the Authorization header.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || len(tok) > 4096 {
		return "", false
	}
	return tok, true
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	out := map[string]any{
		"tenant_id": p.TenantID,
		"client_id": p.ClientID,
		"scopes":    p.Scopes,
	}
	if p.Subject != "" {
		out["subject"] = p.Subject
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

package web

import (
	"context"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"net/http"
	"net/url"
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

// TokenResponse is the RFC 6749 section 5.1 success body.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

// Auth authenticates API clients (private_key_jwt or mutual TLS) and their
// access tokens. Implementations return errors wrapping the sentinels below
// for client mistakes; anything else is a server fault (500).
type Auth interface {
	// Token answers a client_credentials token request. chain is the TLS
	// client certificate followed by the intermediates the client sent, if
	// any.
	Token(ctx context.Context, form url.Values, chain []*x509.Certificate) (TokenResponse, error)
	// Authenticate validates a bearer access token (and its certificate
	// binding, RFC 8705) and returns its principal.
	Authenticate(ctx context.Context, token string, peer *x509.Certificate) (Principal, error)
}

// Sentinels an Auth implementation wraps.
var (
	ErrInvalidClient  = errors.New("invalid client")  // RFC 6749 invalid_client
	ErrInvalidGrant   = errors.New("invalid grant")   // invalid_grant / unsupported_grant_type
	ErrInvalidScope   = errors.New("invalid scope")   // invalid_scope
	ErrInvalidRequest = errors.New("invalid request") // invalid_request
	ErrInvalidToken   = errors.New("invalid token")   // RFC 6750 invalid_token
)

// maxTokenForm caps the token request body: a client assertion is a few KiB.
const maxTokenForm = 16 << 10

// peerChain is the client's certificate and the intermediates it sent.
func peerChain(r *http.Request) []*x509.Certificate {
	if r.TLS == nil {
		return nil
	}
	return r.TLS.PeerCertificates
}

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

func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	return asOAuth(s.tokenRequest(w, r))
}

func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) error {
	if ok, wait := s.limit.allow("ip:" + remoteHost(r)); !ok {
		return tooMany(wait)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return oauthError(http.StatusUnsupportedMediaType, "invalid_request", "Send the token request as application/x-www-form-urlencoded.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxTokenForm)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return oauthError(http.StatusRequestEntityTooLarge, "invalid_request", "The token request is too large.")
		}
		return oauthError(http.StatusBadRequest, "invalid_request", "The form could not be parsed.")
	}
	resp, err := s.cfg.Auth.Token(r.Context(), r.PostForm, peerChain(r))
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalidClient):
		return clientChallenge(r, oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication failed.").withCause(err))
	case errors.Is(err, ErrInvalidScope):
		return oauthError(http.StatusBadRequest, "invalid_scope", "A requested scope is not granted to this client.").withCause(err)
	case errors.Is(err, ErrInvalidGrant):
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported.").withCause(err)
	case errors.Is(err, ErrInvalidRequest):
		return oauthError(http.StatusBadRequest, "invalid_request", "The token request is missing or repeats a parameter.").withCause(err)
	default:
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
	return nil
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

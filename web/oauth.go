package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// OAuthServer is the authorization server (package oauth) as the HTTP
// layer needs it. When Config.OAuth is set, its routes (discovery, PAR,
// authorization, the one token endpoint, introspection, revocation, CIBA)
// replace the built-in client_credentials token endpoint, and every
// authenticated /v1 request is checked by AuthenticateResource (DPoP- and
// certificate-bound tokens, and client_credentials tokens).
type OAuthServer interface {
	// Routes returns ServeMux patterns and handlers; they render their own
	// RFC 6749 errors and HTML pages.
	Routes() map[string]http.Handler
	// AuthenticateResource authenticates a resource request. A failure the
	// client caused is a *ResourceError; anything else is a server fault.
	AuthenticateResource(r *http.Request) (Principal, error)
}

// ResourceError is a refused resource request: its status, the OAuth error
// code, and the headers the client needs (WWW-Authenticate matching the
// scheme tried, DPoP-Nonce, Retry-After).
type ResourceError struct {
	Status      int
	Code        string
	Description string
	Challenge   string
	Nonce       string
	RetryAfter  int
	Cause       error
}

func (e *ResourceError) Error() string {
	return fmt.Sprintf("resource auth: %s: %v", e.Code, e.Cause)
}

func (e *ResourceError) Unwrap() error { return e.Cause }

// resourceAuth authenticates through the OAuth server and translates its
// refusal into a problem with the challenge headers.
func (s *Server) resourceAuth(w http.ResponseWriter, r *http.Request) (Principal, error) {
	if v := r.Header.Get("X-Fapi-Interaction-Id"); validFAPIID(v) {
		w.Header().Set("X-Fapi-Interaction-Id", v)
	}
	p, err := s.cfg.OAuth.AuthenticateResource(r)
	var re *ResourceError
	if errors.As(err, &re) {
		if re.Challenge != "" {
			w.Header().Set("WWW-Authenticate", re.Challenge)
		}
		if re.Nonce != "" {
			w.Header().Set("DPoP-Nonce", re.Nonce)
		}
		if re.Status == http.StatusTooManyRequests {
			pr := tooMany(seconds(re.RetryAfter))
			return Principal{}, pr.withCause(err)
		}
		pr := newProblem(re.Status, "oauth-"+hyphen(re.Code), "OAuth error: "+re.Code, re.Description)
		pr.Errors = []FieldError{{Field: "error", Detail: re.Code}}
		return Principal{}, pr.withCause(err)
	}
	return p, err
}

type seconds int

func (s seconds) Seconds() float64 { return float64(s) }

func hyphen(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

func validFAPIID(v string) bool {
	if len(v) != 36 {
		return false
	}
	for i, c := range v {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// withPrincipal returns ctx carrying p.
func withPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, keyPrincipal, p)
}

package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// OAuth endpoints (the token endpoint today; the authorization server in
// package oauth later) answer errors as RFC 6749 §5.2 JSON —
// {"error", "error_description"} with Content-Type application/json and
// Cache-Control: no-store — not as problem+json, so standard OAuth client
// libraries see the error code. Resource endpoints (everything else under
// /v1) keep problem+json bodies and add RFC 6750 WWW-Authenticate
// challenges.

// OAuthError is an RFC 6749 §5.2 error response. Code is the registered
// error code; Description is public text chosen by the code that builds it
// (never an internal error).
type OAuthError struct {
	Status      int
	Code        string
	Description string
	retryAfter  int    // seconds; Retry-After on 429/503
	challenge   string // WWW-Authenticate value, if any
	cause       error  // logged, never rendered
}

func (e *OAuthError) Error() string {
	if e.cause != nil {
		return "oauth " + e.Code + ": " + e.cause.Error()
	}
	return "oauth " + e.Code
}

func (e *OAuthError) Unwrap() error { return e.cause }

func oauthError(status int, code, description string) *OAuthError {
	return &OAuthError{Status: status, Code: code, Description: description}
}

func (e *OAuthError) withCause(err error) *OAuthError { e.cause = err; return e }

// clientChallenge answers invalid_client per RFC 6749 §5.2: when the client
// tried to authenticate with the Authorization header, the answer is 401
// with a WWW-Authenticate challenge of the same scheme (this server supports
// none of them: clients authenticate with private_key_jwt or mutual TLS);
// otherwise 401 without a challenge, as no HTTP authentication scheme
// describes those methods.
func clientChallenge(r *http.Request, e *OAuthError) *OAuthError {
	if scheme, _, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && isToken(scheme) {
		e.challenge = scheme + ` realm="madoguchi"`
		if strings.EqualFold(scheme, "Basic") {
			e.challenge = `Basic realm="madoguchi", charset="UTF-8"`
		}
	}
	return e
}

// isToken reports whether s is an RFC 9110 token (an auth-scheme name).
func isToken(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// renderOAuth writes an OAuth error (Renderer.Render calls it).
func (rd *Renderer) renderOAuth(w http.ResponseWriter, r *http.Request, e *OAuthError) {
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	if rd.log != nil {
		attrs := []slog.Attr{slog.Int("status", e.Status), slog.String("oauth_error", e.Code)}
		if e.cause != nil {
			attrs = append(attrs, slog.String("cause", e.cause.Error()))
		}
		rd.log.LogAttrs(r.Context(), level, "request failed", attrs...)
	}
	h := w.Header()
	if e.challenge != "" {
		h.Set("WWW-Authenticate", e.challenge)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{e.Code, e.Description})
}

// asOAuth turns whatever the token handler failed with into an OAuth error:
// problems the shared helpers built (rate limits) keep their status, server
// faults become server_error.
func asOAuth(err error) error {
	if err == nil {
		return nil
	}
	var oe *OAuthError
	if errors.As(err, &oe) {
		return err
	}
	var p *Problem
	if errors.As(err, &p) {
		switch p.Status {
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			e := oauthError(p.Status, "temporarily_unavailable", p.Detail).withCause(err)
			e.retryAfter = p.retryAfter
			return e
		}
		if p.Status < 500 {
			return oauthError(p.Status, "invalid_request", p.Detail).withCause(err)
		}
	}
	return oauthError(http.StatusInternalServerError, "server_error",
		"The request failed; quote the request id when reporting it.").withCause(err)
}

// bearerChallenge is the RFC 6750 §3 challenge of the resource endpoints.
func bearerChallenge(w http.ResponseWriter, code, scope string) {
	v := `Bearer realm="madoguchi"`
	if code != "" {
		v += `, error="` + code + `"`
	}
	if scope != "" {
		v += `, scope="` + scope + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
}

// OAuthMetadata returns the RFC 8414 authorization server metadata document
// (any JSON-marshalable value); see tenant.ServerMetadata.
type OAuthMetadata func() any

func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, s.cfg.OAuthMetadata())
	return nil
}

package web

import (
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"
)

// OAuth endpoints (package oauth's, mounted through Config.OAuth) answer
// errors as RFC 6749 §5.2 JSON —
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

// oauthLimited applies the per-address rate limit to an OAuth endpoint
// before it does any client-authentication work, answering RFC 6749 JSON
// (temporarily_unavailable with Retry-After).
func (s *Server) oauthLimited(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.limit.allow("ip:" + remoteHost(r)); !ok {
			e := oauthError(http.StatusTooManyRequests, "temporarily_unavailable", "Slow down and retry after the time in Retry-After.")
			e.retryAfter = max(1, int(math.Ceil(wait.Seconds())))
			s.render.renderOAuth(w, r, e)
			return
		}
		h.ServeHTTP(w, r)
	})
}

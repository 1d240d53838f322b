package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// Problem is an RFC 9457 problem details object. Title and Detail are public:
// they are always set explicitly by the code that chooses the status and never
// carry an internal error's text.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// RequestID lets an operator find the log line for this response.
	RequestID string `json:"request_id,omitempty"`
	// Errors lists field-level problems for 400/422 responses.
	Errors []FieldError `json:"errors,omitempty"`

	retryAfter int   // seconds; sets Retry-After on 429/503
	cause      error // logged, never rendered
}

// FieldError names one invalid input field.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (p *Problem) Error() string {
	if p.cause != nil {
		return p.Title + ": " + p.cause.Error()
	}
	return p.Title
}

func (p *Problem) Unwrap() error { return p.cause }

// problemTypeBase prefixes problem type URIs; each type is documented in
// docs/api.md under its anchor.
const problemTypeBase = "https://madoguchi.dev/problems/"

// newProblem builds a problem of the given type slug and status.
func newProblem(status int, slug, title, detail string) *Problem {
	return &Problem{Type: problemTypeBase + slug, Title: title, Status: status, Detail: detail}
}

// withCause attaches the internal cause, for the log only.
func (p *Problem) withCause(err error) *Problem { p.cause = err; return p }

// Common problems.
func errBadRequest(detail string) *Problem {
	return newProblem(http.StatusBadRequest, "bad-request", "Bad request", detail)
}
func errUnauthorized(detail string) *Problem {
	return newProblem(http.StatusUnauthorized, "unauthorized", "Unauthorized", detail)
}
func errForbidden(detail string) *Problem {
	return newProblem(http.StatusForbidden, "forbidden", "Forbidden", detail)
}
func errNotFound() *Problem {
	return newProblem(http.StatusNotFound, "not-found", "Not found", "No such resource.")
}
func errInternal(cause error) *Problem {
	return newProblem(http.StatusInternalServerError, "internal", "Internal error",
		"The request failed; quote the request id when reporting it.").withCause(cause)
}
func errUnavailable(detail string, retryAfter int) *Problem {
	p := newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable", detail)
	p.retryAfter = retryAfter
	return p
}

// Renderer turns errors into problem+json. One renderer per server; handlers
// return errors and never write error bodies themselves.
type Renderer struct {
	log *slog.Logger
	// Classify maps domain errors (by errors.Is/As) to problems. It returns
	// nil for errors it does not know, which render as 500.
	Classify func(error) *Problem
}

// Render writes err as problem+json (an *OAuthError as RFC 6749 JSON)
// and logs it: 5xx at error level with the
// cause, 4xx at debug level. Secret-bearing values redact themselves.
func (rd *Renderer) Render(w http.ResponseWriter, r *http.Request, err error) {
	var oe *OAuthError
	if errors.As(err, &oe) {
		rd.renderOAuth(w, r, oe)
		return
	}
	var p *Problem
	if !errors.As(err, &p) {
		if rd.Classify != nil {
			p = rd.Classify(err)
		}
		if p == nil {
			p = errInternal(err)
		} else if p.cause == nil {
			p.cause = err
		}
	}
	out := *p
	out.RequestID = RequestID(r.Context())
	if out.Instance == "" {
		out.Instance = r.URL.Path
	}
	if out.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(out.retryAfter))
	}
	level := slog.LevelDebug
	if out.Status >= 500 {
		level = slog.LevelError
	}
	if rd.log != nil {
		attrs := []slog.Attr{slog.Int("status", out.Status), slog.String("problem", out.Type)}
		if p.cause != nil {
			attrs = append(attrs, slog.String("cause", p.cause.Error()))
		}
		rd.log.LogAttrs(r.Context(), level, "request failed", attrs...)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(out)
}

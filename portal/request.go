package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
	"github.com/madoguchi/madoguchi/store"
)

// Request is one request to a page: what the framework established about
// it and the helpers a page uses to answer.
type Request struct {
	W http.ResponseWriter
	R *http.Request

	// Principal is the signed-in person (nil on a public page when nobody
	// is signed in).
	Principal *Principal
	// Lang is the language of the answer.
	Lang i18n.Lang

	s       *Server
	route   *Route
	browser string // the CSRF binding
	flash   string // message key taken from the flash cookie
	ip      netip.Addr
	upload  *multipart.Reader // the rest of an Upload route's body (upload.go)
}

// Errors a page returns to get the framework's answer.
var (
	// ErrNotFound: 404 (also what another tenant's object looks like).
	ErrNotFound = errors.New("portal: not found")
	// ErrForbidden: 403, the person's roles do not allow it.
	ErrForbidden = errors.New("portal: forbidden")
)

// statusError is an answer with a status and a message key.
type statusError struct {
	status int
	key    string
}

func (e *statusError) Error() string { return fmt.Sprintf("portal: %d %s", e.status, e.key) }

var (
	errCSRF     = &statusError{http.StatusForbidden, "error.csrf"}
	errTooLarge = &statusError{http.StatusRequestEntityTooLarge, "error.too_large"}
	errNetwork  = &statusError{http.StatusForbidden, "error.network"}
	errBadInput = &statusError{http.StatusBadRequest, "error.bad_request"}
)

// reauthError sends the person to re-authenticate, then back to next.
type reauthError struct{ next string }

func (e *reauthError) Error() string { return "portal: re-authentication required" }

func (s *Server) newRequest(w http.ResponseWriter, r *http.Request, rt *Route) *Request {
	rq := &Request{W: w, R: r, s: s, route: rt, ip: s.clientIP(r)}
	rq.Lang = i18n.Default
	if l, ok := i18n.Parse(session.Lang(r)); ok {
		rq.Lang = l
	}
	return rq
}

// Ctx is the request's context.
func (rq *Request) Ctx() context.Context { return rq.R.Context() }

// RequestID is the server's id for this request ("" if none).
func (rq *Request) RequestID() string { return rq.s.cfg.RequestID(rq.Ctx()) }

// ClientIP is where the request came from (after trusted proxies).
func (rq *Request) ClientIP() netip.Addr { return rq.ip }

// PathValue returns a path wildcard's value.
func (rq *Request) PathValue(name string) string { return rq.R.PathValue(name) }

// T translates key into the request's language. An unknown key is an
// error (the page fails rather than show a raw key).
func (rq *Request) T(key string, args ...any) (string, error) {
	return rq.s.cat.T(rq.Lang, key, args...)
}

// Actor is the signed-in person as the staff package records them.
func (rq *Request) Actor() staff.Actor {
	a := staff.Actor{Kind: audit.ActorStaff, RequestID: rq.RequestID()}
	if rq.Principal != nil {
		a.ID = rq.Principal.StaffID
	}
	return a
}

// Flash sets a message key shown once on the next page.
func (rq *Request) Flash(key string) { session.SetFlash(rq.W, key) }

// Redirect answers 303 See Other to a path under the portal.
func (rq *Request) Redirect(path string) error {
	http.Redirect(rq.W, rq.R, path, http.StatusSeeOther)
	return nil
}

// JSON answers v as JSON (for the portal's scripts).
func (rq *Request) JSON(status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	rq.W.Header().Set("Content-Type", "application/json")
	rq.W.WriteHeader(status)
	_, err = rq.W.Write(b)
	return err
}

// DecodeJSON reads the (already capped) body as one JSON object into v.
func (rq *Request) DecodeJSON(v any) error {
	if ct := rq.R.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errBadInput
	}
	dec := json.NewDecoder(rq.R.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return errTooLarge
		}
		return errBadInput
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadInput
	}
	return nil
}

// RequireRecentAuth is what a page calls before a sensitive action: unless
// the person signed in (or re-authenticated) within the re-authentication
// window, it returns an error that sends them to re-authenticate and then
// to back (a GET page under the portal). Re-authentication opens a new
// session, so the window counts from the session's start.
func (rq *Request) RequireRecentAuth(back string) error {
	p := rq.Principal
	if p == nil {
		return ErrForbidden
	}
	if rq.s.cfg.Now().Sub(p.Since) <= rq.s.cfg.ReauthWindow {
		return nil
	}
	return &reauthError{next: localPath(back)}
}

// Audit appends an audit entry for the signed-in person (or the system, on
// a public page) in its own transaction, recording where the request came
// from.
func (rq *Request) Audit(action, tenantID, object, outcome string, details map[string]string) error {
	return rq.s.cfg.DB.InTx(rq.Ctx(), func(tx *store.Tx) error {
		return rq.AuditTx(tx, action, tenantID, object, outcome, details)
	})
}

// AuditTx is Audit inside the caller's transaction.
func (rq *Request) AuditTx(tx *store.Tx, action, tenantID, object, outcome string, details map[string]string) error {
	_, err := rq.auditTxIndex(tx, action, tenantID, object, outcome, details)
	return err
}

// auditTxIndex is AuditTx, returning the entry's index in the log.
func (rq *Request) auditTxIndex(tx *store.Tx, action, tenantID, object, outcome string, details map[string]string) (uint64, error) {
	e := audit.Entry{ActorKind: audit.ActorSystem, TenantID: tenantID, Action: action, Object: object,
		RequestID: rq.RequestID(), Outcome: outcome, Details: map[string]string{}}
	if rq.Principal != nil {
		e.ActorKind, e.ActorID = audit.ActorStaff, rq.Principal.StaffID
	}
	for k, v := range details {
		e.Details[k] = v
	}
	if rq.ip.IsValid() {
		e.Details["ip"] = rq.ip.String()
	}
	return rq.s.cfg.Audit.Append(rq.Ctx(), tx, e)
}

// localPath accepts only a path under the portal (no scheme, host or
// protocol-relative form), else the home page.
func localPath(p string) string {
	if !strings.HasPrefix(p, Prefix+"/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") || len(p) > 512 {
		return Prefix + "/"
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return Prefix + "/"
	}
	return p
}

// recentlyAuthenticated reports whether RequireRecentAuth would pass now.
func (rq *Request) recentlyAuthenticated() bool {
	return rq.Principal != nil && rq.s.cfg.Now().Sub(rq.Principal.Since) <= rq.s.cfg.ReauthWindow
}

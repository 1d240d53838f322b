package web

// The confirmation page of package txauth, served at GET /txauth/confirm
// with its script embedded (web/confirm/) and the customer pages' style
// sheet (internal/pagestyle, shared with the consent page). Like the capture
// page: the token stays in the URL fragment and is sent only in the
// Authorization header ("Confirm <token>"); the page shows the transaction
// exactly as the server holds it (POST /v1/txauth/page), the image
// challenge's candidates are fetched with the token and shown from blob
// URLs (no stable image URL exists), and a "this is not my transaction"
// button reports a mismatch.
//
// Invariants: only the files below are served, with fixed content types;
// every response carries confirmCSP (no inline script or style, no framing,
// no third-party origin); the HTML is never cached; nothing is written to
// web storage.

import (
	"embed"
	"net/http"

	"github.com/madoguchi/madoguchi/internal/pagestyle"
)

//go:embed confirm/index.html confirm/confirm.js
var confirmFS embed.FS

// confirmCSP is the confirmation page's Content-Security-Policy.
const confirmCSP = "default-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"

var confirmFiles = map[string]captureFile{
	"/txauth/confirm":             {"confirm/index.html", "text/html; charset=utf-8", "no-store"},
	"/txauth/confirm/confirm.js":  {"confirm/confirm.js", "text/javascript; charset=utf-8", "no-cache"},
	"/txauth/confirm/confirm.css": {"", "text/css; charset=utf-8", "no-cache"}, // pagestyle.CSS
}

func (s *Server) confirmPageRoutes() {
	for p, f := range confirmFiles {
		b, err := pagestyle.CSS(), error(nil)
		if f.path != "" {
			b, err = confirmFS.ReadFile(f.path)
		}
		if err != nil {
			s.log.Error("confirmation page file missing from the build", "file", f.path, "err", err)
			s.mux.Handle("GET "+p, s.handle(func(http.ResponseWriter, *http.Request) error { return errInternal(err) }))
			continue
		}
		h := captureHandler(f, b)
		s.mux.Handle("GET "+p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The capture handler sets its own policy; the confirmation page
			// needs no camera and a narrower image policy.
			h.ServeHTTP(&cspWriter{ResponseWriter: w}, r)
		}))
	}
}

// cspWriter replaces the capture page's headers with the confirmation
// page's just before they are written.
type cspWriter struct {
	http.ResponseWriter
	wrote bool
}

func (c *cspWriter) fix() {
	if !c.wrote {
		c.wrote = true
		c.Header().Set("Content-Security-Policy", confirmCSP)
		// The camera is for face re-authentication, on this origin only.
		c.Header().Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=()")
	}
}

func (c *cspWriter) WriteHeader(code int) { c.fix(); c.ResponseWriter.WriteHeader(code) }

func (c *cspWriter) Write(b []byte) (int, error) { c.fix(); return c.ResponseWriter.Write(b) }

package web

// The capture page: the customer-facing page of an eKYC session, served at
// GET /ekyc/capture with its one script and one style sheet from files
// embedded in the binary (web/capture/). The one-time capture token stays
// in the URL fragment, which browsers never send; the page reads it, drops
// it from the address bar and sends it once, in the Authorization header of
// POST /v1/ekyc/capture/start (web/ekyc.go).
//
// Invariants:
//   - Only the files named in captureFiles are served, each with a fixed
//     content type; nothing is read from disk at run time.
//   - Every response of these routes carries captureCSP: no inline script
//     or style, no third-party origin, no framing; the camera is allowed
//     to this origin only (Permissions-Policy).
//   - The HTML is never cached (no-store); the page keeps the capture key
//     in memory only and writes nothing to localStorage or sessionStorage.
//   - The routes exist only when the eKYC API is configured.

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
)

//go:embed capture/index.html capture/capture.js capture/capture.css
var captureFS embed.FS

// captureCSP is the Content-Security-Policy of the capture page's routes.
const captureCSP = "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"

// capturePermissions allows the camera to this origin only and nothing else
// a capture page has no use for.
const capturePermissions = "camera=(self), microphone=(), geolocation=(), payment=(), usb=()"

// captureFile is one embedded file of the page.
type captureFile struct {
	path, contentType, cache string
}

// captureFiles maps the URL path to the embedded file.
var captureFiles = map[string]captureFile{
	"/ekyc/capture":             {"capture/index.html", "text/html; charset=utf-8", "no-store"},
	"/ekyc/capture/capture.js":  {"capture/capture.js", "text/javascript; charset=utf-8", "no-cache"},
	"/ekyc/capture/capture.css": {"capture/capture.css", "text/css; charset=utf-8", "no-cache"},
}

// captureRoutes registers the capture page if the eKYC API is configured.
func (s *Server) captureRoutes() {
	if s.cfg.EKYC == nil || s.cfg.EKYC.Service == nil {
		return
	}
	for p, f := range captureFiles {
		b, err := captureFS.ReadFile(f.path)
		if err != nil {
			// The files are embedded at build time; a missing one is a build
			// defect, reported on every request rather than a panic.
			s.log.Error("capture page file missing from the build", "file", f.path, "err", err)
			s.mux.Handle("GET "+p, s.handle(func(http.ResponseWriter, *http.Request) error {
				return errInternal(err)
			}))
			continue
		}
		s.mux.Handle("GET "+p, captureHandler(f, b))
	}
}

func captureHandler(f captureFile, body []byte) http.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", captureCSP)
		h.Set("Permissions-Policy", capturePermissions)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", f.cache)
		if f.cache != "no-store" {
			h.Set("ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
		_, _ = w.Write(body)
	})
}

// Package pagestyle is the one style sheet of the pages a bank's customer
// sees in a browser outside the capture page: txauth's confirmation page
// (package web, /txauth/confirm) and the authorization server's consent
// and device pages (package oauth). Each package serves it at a path of
// its own origin, so each page's Content-Security-Policy allows it with
// style-src 'self' and no inline style.
//
// Invariants: the sheet is embedded in the binary and never changes at
// run time; it loads nothing (no @import, no url(): no web fonts, no
// images), so it needs no other CSP source.
package pagestyle

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed page.css
var css string

// CSS returns the style sheet.
func CSS() []byte { return []byte(css) }

var etag = func() string {
	sum := sha256.Sum256([]byte(css))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// Handler serves the style sheet: text/css, revalidated by ETag, never
// sniffed.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(CSS()))
	})
}

// Package session holds the portal's cookies: the staff session, the
// browser binding that CSRF tokens derive from, the one-shot flash message,
// the chosen language and a passkey ceremony in progress.
//
// Every cookie is a __Host- cookie: Secure, Path=/, no Domain, HttpOnly and
// SameSite=Strict, so no other site and no script can read or plant it. The
// session cookie carries the opaque staff session token (the server keeps
// only its hash, with the idle and absolute limits); it has no Max-Age and
// dies with the browser session at the latest.
package session

import (
	"crypto/rand"
	"net/http"
	"strings"
	"time"
)

// Cookie names.
const (
	CookieSession  = "__Host-mdg_session"
	CookieBrowser  = "__Host-mdg_browser"
	CookieFlash    = "__Host-mdg_flash"
	CookieLang     = "__Host-mdg_lang"
	CookieCeremony = "__Host-mdg_passkey"
)

// maxValue bounds any cookie value the portal accepts.
const maxValue = 256

func set(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

func clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

func get(r *http.Request, name string) string {
	c, err := r.Cookie(name)
	if err != nil || len(c.Value) > maxValue {
		return ""
	}
	return c.Value
}

// Token returns the staff session token the browser presented, or "".
func Token(r *http.Request) string { return get(r, CookieSession) }

// SetToken stores the staff session token.
func SetToken(w http.ResponseWriter, tok string) { set(w, CookieSession, tok, 0) }

// ClearToken removes the session cookie.
func ClearToken(w http.ResponseWriter) { clear(w, CookieSession) }

// NewBrowser sets a fresh random browser binding and returns it. The portal
// renews it at every sign-in, so a CSRF token from before is void after.
func NewBrowser(w http.ResponseWriter) string {
	v := strings.ToLower(rand.Text()) + strings.ToLower(rand.Text())
	set(w, CookieBrowser, v, 400*24*time.Hour)
	return v
}

// Browser returns the browser binding, or "" if the browser has none.
func Browser(r *http.Request) string {
	v := get(r, CookieBrowser)
	if len(v) < 32 {
		return ""
	}
	return v
}

// SetFlash stores a message key shown once on the next page.
func SetFlash(w http.ResponseWriter, key string) { set(w, CookieFlash, key, 5*time.Minute) }

// TakeFlash returns the pending message key, if any, and clears it.
func TakeFlash(w http.ResponseWriter, r *http.Request) string {
	v := get(r, CookieFlash)
	if v != "" {
		clear(w, CookieFlash)
	}
	return v
}

// Lang returns the chosen language code, or "".
func Lang(r *http.Request) string { return get(r, CookieLang) }

// SetLang stores the chosen language code.
func SetLang(w http.ResponseWriter, lang string) { set(w, CookieLang, lang, 400*24*time.Hour) }

// Ceremony returns the passkey ceremony value, or "".
func Ceremony(r *http.Request) string { return get(r, CookieCeremony) }

// SetCeremony stores a passkey ceremony value for ttl.
func SetCeremony(w http.ResponseWriter, v string, ttl time.Duration) { set(w, CookieCeremony, v, ttl) }

// ClearCeremony removes the ceremony cookie.
func ClearCeremony(w http.ResponseWriter) { clear(w, CookieCeremony) }

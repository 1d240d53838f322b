package portal

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/madoguchi/madoguchi/portal/session"
)

// BenchmarkPortal measures the portal's per-request cost for a signed-in
// person against a bare handler writing the same bytes, in the same run
// (docs/benchmarks.md). The home page runs every framework step: session
// check (one store transaction refreshing the idle timer), account read,
// tenant allow-list read, role check, template render in a buffer.
func BenchmarkPortal(b *testing.B) {
	e := newEnv(b)
	br := e.signedIn("a-reviewer")
	page := br.get("/portal/").body
	req := func(path string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://"+testHost+path, nil)
		r.RemoteAddr = br.remote
		for k, v := range br.cookies {
			r.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		return r
	}
	b.Run("home", func(b *testing.B) {
		for b.Loop() {
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, req("/portal/"))
			if w.Code != http.StatusOK {
				b.Fatalf("status %d", w.Code)
			}
		}
	})
	b.Run("login-page", func(b *testing.B) {
		r := req("/portal/login")
		r.Header.Del("Cookie")
		r.AddCookie(&http.Cookie{Name: session.CookieBrowser, Value: br.cookies[session.CookieBrowser]})
		for b.Loop() {
			w := httptest.NewRecorder()
			e.srv.ServeHTTP(w, r)
		}
	})
	b.Run("bare", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(page))
		})
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req("/portal/"))
		}
	})
}

package session

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestCookies(t *testing.T) {
	w := httptest.NewRecorder()
	SetToken(w, "mdg_st_x")
	b := NewBrowser(w)
	SetFlash(w, "flash.signed_out")
	SetLang(w, "en")
	SetCeremony(w, "c", time.Minute)
	res := w.Result()
	if len(res.Cookies()) != 5 {
		t.Fatalf("%d cookies", len(res.Cookies()))
	}
	for _, c := range res.Cookies() {
		if !strings.HasPrefix(c.Name, "__Host-") || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Strict, Path=/", c)
		}
	}
	if len(b) < 32 {
		t.Errorf("browser binding %q is short", b)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range res.Cookies() {
		r.AddCookie(c)
	}
	if Token(r) != "mdg_st_x" || Browser(r) != b || Lang(r) != "en" || Ceremony(r) != "c" {
		t.Error("cookies do not read back")
	}
	w2 := httptest.NewRecorder()
	if TakeFlash(w2, r) != "flash.signed_out" || len(w2.Result().Cookies()) != 1 || w2.Result().Cookies()[0].MaxAge >= 0 {
		t.Error("TakeFlash does not clear the flash")
	}
	// Oversized or short values are ignored.
	r2 := httptest.NewRequest(http.MethodGet, "/", nil)
	r2.AddCookie(&http.Cookie{Name: CookieSession, Value: strings.Repeat("a", 300)})
	r2.AddCookie(&http.Cookie{Name: CookieBrowser, Value: "short"})
	if Token(r2) != "" || Browser(r2) != "" {
		t.Error("oversized session or short browser cookie accepted")
	}
}

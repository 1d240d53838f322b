package portal

import (
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/portal/session"
)

// rawKey reports a catalogue key that appears in a page's text.
func rawKey(cat *i18n.Catalog, body string) string {
	for _, k := range cat.Keys() {
		if strings.Contains(body, k) {
			return k
		}
	}
	return ""
}

// TestNoRawKeys renders every GET page, the failure and validation states
// of the forms and the error pages, for every kind of person, in both
// languages, and fails on any catalogue key in the output.
func TestNoRawKeys(t *testing.T) {
	e := newEnv(t, withTestRoutes)
	var gets []string
	for _, rt := range e.srv.Routes() {
		if rt.Method == http.MethodGet {
			gets = append(gets, Prefix+strings.NewReplacer("{$}", "", "{id}", "tn_a").Replace(rt.Path))
		}
	}
	gets = append(gets, "/portal/nope", "/portal/reauth?next=/portal/account")
	for _, lang := range i18n.Languages() {
		check := func(what string, r resp) {
			t.Helper()
			if k := rawKey(e.srv.cat, r.body); k != "" {
				t.Errorf("%s %s: page shows the raw key %q", lang, what, k)
			}
			if r.status >= 500 {
				t.Errorf("%s %s: status %d", lang, what, r.status)
			}
		}
		anon := e.browser()
		anon.cookies[session.CookieLang] = string(lang)
		for _, p := range gets {
			check("signed out "+p, anon.get(p))
		}
		check("sign-in failure", anon.post("/portal/login", url.Values{"username": {"x"}, "password": {"y"}, "code": {"123456"}}))
		check("sign-in validation", anon.post("/portal/login", url.Values{"code": {"12"}}))
		check("csrf", anon.request(http.MethodPost, "/portal/login", url.Values{}, nil))
		for _, who := range []string{"op-admin", "op-reviewer", "a-reviewer", "a-admin", "a-auditor", "nobody"} {
			b := e.signedIn(who)
			b.cookies[session.CookieLang] = string(lang)
			for _, p := range gets {
				check(who+" "+p, b.get(p))
			}
			check(who+" totp", b.post("/portal/account/totp", nil))
			check(who+" totp failure", b.post("/portal/account/totp/confirm", url.Values{"code": {"000000"}}))
			check(who+" totp validation", b.post("/portal/account/totp/confirm", url.Values{"code": {"x"}}))
			check(who+" reauth failure", b.post("/portal/reauth", url.Values{"password": {"nope nope nope"}, "code": {"123456"}}))
			check(who+" passkey json error", b.postJSON("/portal/account/passkeys/finish", map[string]any{"name": ""}))
		}
	}
	// Flash messages are catalogue keys; each renders.
	b := e.signedIn("a-reviewer")
	for _, k := range e.srv.cat.Keys() {
		if strings.HasPrefix(k, "flash.") {
			b.cookies[session.CookieFlash] = k
			r := b.get("/portal/")
			if !strings.Contains(r.body, `id="flash"`) || rawKey(e.srv.cat, r.body) != "" {
				t.Errorf("flash %s does not render", k)
			}
		}
	}
	// A forged flash cookie shows nothing.
	b.cookies[session.CookieFlash] = "<script>alert(1)</script>"
	if r := b.get("/portal/"); strings.Contains(r.body, `id="flash"`) || strings.Contains(r.body, "<script>alert") {
		t.Error("a forged flash key was rendered")
	}
}

// TestKeysInSourceExist: every message key written in the portal's Go code
// and templates is in the catalogue (dynamic keys such as "role."+role are
// covered by TestNoRawKeys and the route checks in New).
func TestKeysInSourceExist(t *testing.T) {
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	prefixes := map[string]bool{}
	for _, k := range cat.Keys() {
		prefixes[strings.SplitN(k, ".", 2)[0]] = true
	}
	lit := regexp.MustCompile(`"([a-z]+)\.([a-z_.]+)"`)
	n := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, "_test.go") || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".html")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			if !prefixes[m[1]] || strings.HasSuffix(m[2], ".") || slices.Contains([]string{"layout.html"}, m[1]+"."+m[2]) {
				continue
			}
			n++
			if !cat.Has(m[1] + "." + m[2]) {
				t.Errorf("%s: message key %q is not in the catalogue", path, m[1]+"."+m[2])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 {
		t.Errorf("found only %d message keys in the source: the scan is broken", n)
	}
}

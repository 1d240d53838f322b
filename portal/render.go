package portal

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/madoguchi/madoguchi/portal/i18n"
	"github.com/madoguchi/madoguchi/staff"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// templates holds every page parsed with the layout, once per language
// (the "t" function is bound to the language).
type templates struct {
	pages map[i18n.Lang]map[string]*template.Template
}

// loadTemplates parses templates/layout.html with each other file in
// templates/ as a page named after the file.
func loadTemplates(cat *i18n.Catalog) (*templates, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	t := &templates{pages: map[i18n.Lang]map[string]*template.Template{}}
	for _, lang := range i18n.Languages() {
		funcs := template.FuncMap{
			"t": func(key string, args ...any) (string, error) { return cat.T(lang, key, args...) },
			// tk translates a key built from parts ("role." + role).
			"tk": func(parts ...any) (string, error) { return cat.T(lang, fmt.Sprint(parts...)) },
			"date": func(v any) string {
				if tm, ok := v.(interface{ IsZero() bool }); ok && tm.IsZero() {
					return "—"
				}
				if tm, ok := v.(interface{ Format(string) string }); ok {
					return tm.Format("2006-01-02 15:04 MST")
				}
				return fmt.Sprint(v)
			},
		}
		base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
		if err != nil {
			return nil, err
		}
		t.pages[lang] = map[string]*template.Template{}
		for _, n := range names {
			name := strings.TrimSuffix(path.Base(n), ".html")
			if name == "layout" {
				continue
			}
			c, err := base.Clone()
			if err != nil {
				return nil, err
			}
			if _, err := c.ParseFS(templateFS, n); err != nil {
				return nil, err
			}
			t.pages[lang][name] = c
		}
	}
	return t, nil
}

// view is what every template gets: the page's own data in .Page and the
// layout's in the other fields.
type view struct {
	Lang      i18n.Lang
	OtherLang i18n.Lang
	Title     string // message key of the page title
	CSRF      string
	Flash     string // message key
	User      *Principal
	Tenant    string // the person's tenant name ("" for operator staff)
	Nav       []navItem
	Path      string
	RequestID string
	Passkeys  bool
	Page      any
}

type navItem struct {
	Path, Key, Hint string
	Current         bool
}

// nav lists the GET pages the person may use that have a navigation entry.
func (s *Server) nav(rq *Request) []navItem {
	if rq.Principal == nil {
		return nil
	}
	var out []navItem
	for i := range s.routes {
		rt := &s.routes[i]
		if rt.Nav == "" || !rq.Principal.may(rt) {
			continue
		}
		p := Prefix + rt.Path
		if rt.Path == "/{$}" {
			p = Prefix + "/"
		}
		out = append(out, navItem{Path: p, Key: rt.Nav, Hint: rt.Hint, Current: p == rq.R.URL.Path})
	}
	return out
}

// Render answers with the named page (templates/<name>.html) in the
// request's language; title is the message key of the page title. The
// page is rendered to a buffer first: a template error (such as an unknown
// message key) becomes the error page, never half a page.
func (rq *Request) Render(status int, name, title string, data any) error {
	s := rq.s
	tpl, ok := s.tpl.pages[rq.Lang][name]
	if !ok {
		return fmt.Errorf("portal: no template %q", name)
	}
	other := i18n.En
	if rq.Lang == i18n.En {
		other = i18n.Ja
	}
	v := view{Lang: rq.Lang, OtherLang: other, Title: title, CSRF: csrfToken(rq.browser), User: rq.Principal,
		Nav: s.nav(rq), Path: rq.R.URL.RequestURI(), RequestID: rq.RequestID(), Passkeys: s.cfg.Passkeys != nil, Page: data}
	if rq.flash != "" && s.cat.Has(rq.flash) {
		v.Flash = rq.flash
	}
	if p := rq.Principal; p != nil && !p.Operator() {
		v.Tenant = p.TenantID
		if s.cfg.TenantName != nil {
			if n, err := s.cfg.TenantName(rq.Ctx(), p.TenantID); err == nil {
				v.Tenant = n
			}
		}
	}
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("portal: render %s: %w", name, err)
	}
	rq.W.Header().Set("Content-Type", "text/html; charset=utf-8")
	rq.W.WriteHeader(status)
	_, err := rq.W.Write(buf.Bytes())
	return err
}

func errTooLargeOr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge
	}
	return errBadInput
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// fail answers an error from the framework or a page. The person sees a
// status and a catalogue message, never the error itself; anything
// unexpected is logged with the request id, which the page shows.
func (rq *Request) fail(err error) {
	var (
		re *reauthError
		se *statusError
		mb *http.MaxBytesError
	)
	status, key := http.StatusInternalServerError, "error.internal"
	switch {
	case errors.As(err, &re):
		if rq.route.JSON {
			status, key = http.StatusForbidden, "error.reauth"
			break
		}
		_ = rq.Redirect(Prefix + "/reauth?next=" + urlQueryEscape(re.next))
		return
	case errors.As(err, &se):
		status, key = se.status, se.key
	case errors.As(err, &mb):
		status, key = http.StatusRequestEntityTooLarge, "error.too_large"
	case errors.Is(err, ErrNotFound), errors.Is(err, staff.ErrNotFound):
		status, key = http.StatusNotFound, "error.not_found"
	case errors.Is(err, ErrForbidden), errors.Is(err, staff.ErrForbidden):
		status, key = http.StatusForbidden, "error.forbidden"
	default:
		rq.s.log.ErrorContext(rq.Ctx(), "portal page failed", "route", rq.route.Path, "request_id", rq.RequestID(), "err", err)
	}
	if rq.route.JSON {
		msg, terr := rq.T(key)
		if terr != nil {
			msg = http.StatusText(status)
		}
		_ = rq.JSON(status, map[string]string{"error": msg})
		return
	}
	if rerr := rq.Render(status, "error", key, map[string]any{"Status": status, "Key": key}); rerr != nil {
		rq.s.log.ErrorContext(rq.Ctx(), "portal error page failed", "err", rerr)
		http.Error(rq.W, http.StatusText(status), status)
	}
}

// staticHandler serves the embedded stylesheet and scripts.
func staticHandler() (http.Handler, error) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix(Prefix+"/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		w.Header().Set("Cache-Control", "no-cache")
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}), nil
}

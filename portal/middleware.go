package portal

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// CSP is the portal's one Content-Security-Policy: same-origin scripts,
// styles and images only, no inline script or style, no framing, forms
// post only to the portal.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setHeaders sets the headers of every portal response.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), publickey-credentials-create=(self), publickey-credentials-get=(self)")
}

// handler runs the framework's steps (see Route) and then the page.
func (s *Server) handler(rt *Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		rq := s.newRequest(w, r, rt)
		if err := s.run(rq); err != nil {
			rq.fail(err)
		}
	})
}

func (s *Server) run(rq *Request) error {
	rt, r := rq.route, rq.R
	// 2. The body cap, before anything reads the body.
	limit := rt.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	if r.ContentLength > limit {
		return errTooLarge
	}
	r.Body = http.MaxBytesReader(rq.W, r.Body, limit)

	// The browser binding CSRF tokens derive from.
	rq.browser = session.Browser(r)
	if r.Method == http.MethodPost {
		// 3. CSRF.
		if err := s.checkCSRF(rq); err != nil {
			return err
		}
	} else if rq.browser == "" {
		rq.browser = session.NewBrowser(rq.W)
	}
	rq.flash = session.TakeFlash(rq.W, r)

	// 4. The session.
	if err := s.loadSession(rq); err != nil {
		return err
	}
	if rq.Principal == nil && !rt.Public {
		return s.toSignIn(rq)
	}
	// 5. The tenant's network rule.
	if p := rq.Principal; p != nil && !p.Operator() {
		acc, err := s.cfg.Staff.TenantAccess(rq.Ctx(), p.TenantID)
		if err != nil {
			return err
		}
		if !acc.Allows(rq.ip) {
			_ = s.cfg.Staff.Logout(rq.Ctx(), session.Token(r))
			session.ClearToken(rq.W)
			if err := rq.Audit("portal.access", p.TenantID, p.StaffID, audit.OutcomeDenied, map[string]string{"reason": "ip_not_allowed"}); err != nil {
				return err
			}
			rq.Principal = nil
			return errNetwork
		}
	}
	// 6. Roles.
	if !rq.Principal.may(rt) {
		return ErrForbidden
	}
	return rt.Handle(rq)
}

// loadSession resolves the session cookie into rq.Principal. An invalid or
// expired session clears the cookie and leaves a flash for the sign-in page.
func (s *Server) loadSession(rq *Request) error {
	tok := session.Token(rq.R)
	if tok == "" {
		return nil
	}
	sp, err := s.cfg.Staff.CheckSession(rq.Ctx(), tok)
	if errors.Is(err, staff.ErrSession) {
		session.ClearToken(rq.W)
		if rq.flash == "" {
			rq.flash = "flash.session_expired"
			if !rq.route.Public {
				rq.Flash(rq.flash)
			}
		}
		return nil
	}
	if err != nil {
		return err
	}
	acct, err := s.cfg.Staff.Account(rq.Ctx(), sp.StaffID)
	if err != nil {
		return err
	}
	roles, withheld := portalRoles(sp, s.cfg.RequireAdminPasskey)
	rq.Principal = &Principal{StaffID: sp.StaffID, Username: acct.Username, TenantID: sp.TenantID,
		Roles: roles, Method: sp.Method, Since: sp.Since, AdminWithheld: withheld}
	return nil
}

// toSignIn answers a request that needs a session and has none.
func (s *Server) toSignIn(rq *Request) error {
	if rq.route.JSON {
		return &statusError{http.StatusUnauthorized, "error.signed_out"}
	}
	next := Prefix + "/"
	if rq.R.Method == http.MethodGet {
		next = rq.R.URL.RequestURI()
	}
	return rq.Redirect(Prefix + "/login?next=" + urlQueryEscape(localPath(next)))
}

// clientIP is the request's source address: the TCP peer, or, when the
// peer is a trusted proxy, the right-most X-Forwarded-For address that is
// not itself a trusted proxy.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	trusted := func(a netip.Addr) bool {
		return slices.ContainsFunc(s.cfg.TrustedProxies, func(p netip.Prefix) bool { return p.Contains(a) })
	}
	if !trusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a malformed chain: trust nothing beyond the proxy
		}
		if a = a.Unmap(); !trusted(a) {
			return a
		}
	}
	return peer
}

package portal

import (
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/portal/form"
	"github.com/madoguchi/madoguchi/portal/session"
	"github.com/madoguchi/madoguchi/staff"
)

// errSignInRefused is a sign-in refused after the credentials were
// checked (the tenant's network rule): it looks exactly like wrong
// credentials.
var errSignInRefused = errors.New("portal: sign-in refused")

// loginCheck signs in with username, password and TOTP code. Every refusal
// (unknown user, wrong password or code, a locked or disabled account, a
// network the tenant does not allow) gets the same page, status and
// message, so the answer says nothing about whether the account exists.
func loginCheck(rq *Request) error {
	if err := rq.limitSignIn(); err != nil {
		return err
	}
	f := form.ParseLogin(rq.R)
	page := loginPage{Form: form.Login{Username: f.Username}, Next: localPath(rq.R.PostFormValue("next"))}
	if page.Errors = f.Validate(); page.Errors.Any() {
		return rq.Render(http.StatusUnprocessableEntity, "login", "login.title", page)
	}
	sess, err := rq.s.cfg.Staff.SignIn(rq.Ctx(), f.Username, f.Password, f.Code, rq.RequestID(), rq.ip.String())
	if err == nil {
		err = rq.s.startSession(rq, sess, staff.MethodPassword)
	}
	switch {
	case err == nil:
		return rq.Redirect(page.Next)
	case errors.Is(err, staff.ErrInvalidCredentials), errors.Is(err, staff.ErrBackoff), errors.Is(err, errSignInRefused):
		if aerr := rq.Audit("portal.signin", "", "", audit.OutcomeDenied, map[string]string{"method": staff.MethodPassword}); aerr != nil {
			return aerr
		}
		page.Failed = true
		return rq.Render(http.StatusUnauthorized, "login", "login.title", page)
	case errors.Is(err, staff.ErrBusy):
		return errSignInRate // too many sign-ins being checked at once
	}
	return err
}

// startSession finishes a successful sign-in or re-authentication: the
// tenant's network rule, the session cookie, a fresh CSRF binding, the end
// of the session it replaces, and the audit entry.
func (s *Server) startSession(rq *Request, sess staff.Session, method string) error {
	ctx := rq.Ctx()
	tok := sess.Token.Reveal()
	acct, err := s.cfg.Staff.Account(ctx, sess.StaffID)
	if err != nil {
		return err
	}
	if acct.TenantID != "" {
		acc, err := s.cfg.Staff.TenantAccess(ctx, acct.TenantID)
		if err != nil {
			return err
		}
		if !acc.Allows(rq.ip) {
			if err := s.cfg.Staff.Logout(ctx, tok); err != nil {
				return err
			}
			if err := rq.Audit("portal.access", acct.TenantID, acct.ID, audit.OutcomeDenied,
				map[string]string{"reason": "ip_not_allowed", "method": method}); err != nil {
				return err
			}
			return errSignInRefused
		}
	}
	if old := session.Token(rq.R); old != "" && old != tok {
		if err := s.cfg.Staff.Logout(ctx, old); err != nil {
			return err
		}
	}
	session.SetToken(rq.W, tok)
	rq.browser = session.NewBrowser(rq.W)
	rq.Principal = &Principal{StaffID: acct.ID, Username: acct.Username, TenantID: acct.TenantID, Method: method}
	return rq.Audit("portal.signin", acct.TenantID, acct.ID, audit.OutcomeOK, map[string]string{"method": method})
}

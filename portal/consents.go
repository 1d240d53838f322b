package portal

// OAuth consents (package oauth, consent.go) for a tenant's staff: the
// list (consents.go, GET /consents) and revocation (POST
// /consents/{id}/revoke). The oauth service scopes every call by the
// signed-in person's tenant (another tenant's consent is not found) and
// audits each read (oauth.consent.list) and revocation
// (oauth.consent.revoke) with the person as actor; a revocation also ends
// every token issued under the consent.

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
)

// Consents is what the pages need of *oauth.Server.
type Consents interface {
	Consents(ctx context.Context, who oauth.Viewer, tenantID string, f oauth.ConsentFilter) ([]oauth.Consent, error)
	RevokeConsent(ctx context.Context, who oauth.Viewer, tenantID, consentID string) error
}

var _ Consents = (*oauth.Server)(nil)

var (
	// consentReaders see the tenant's consents (personal data: each
	// listing is audited); only admins revoke.
	consentReaders = []Role{TenantReviewer, TenantAdmin}
	consentAdmins  = []Role{TenantAdmin}
)

// maxConsentParam bounds the client filter and a consent id (the oauth
// API's own limit).
const maxConsentParam = 128

type consentRow struct {
	ID, Client, Customer, Status, RevokedBy string
	Scopes                                  string
	Details                                 []string
	Granted, Expires, Revoked               time.Time
	Active                                  bool
}

// consentList shows the tenant's consents, newest first (at most 200, the
// service's limit), optionally of one partner client (?client=).
func consentList(rq *Request) error {
	svc := rq.s.cfg.Consents
	q := rq.R.URL.Query()
	client := q.Get("client")
	data := map[string]any{"Enabled": svc != nil, "Client": client, "Rows": []consentRow{}, "Admin": rq.Principal.Has(consentAdmins...)}
	if svc == nil {
		return rq.Render(http.StatusOK, "consents", "consent.title", data)
	}
	if len(q["client"]) > 1 || len(client) > maxConsentParam {
		return errBadInput
	}
	tenant := rq.Principal.TenantID
	cs, err := svc.Consents(rq.Ctx(), consentViewer(rq), tenant, oauth.ConsentFilter{ClientID: client})
	if err != nil {
		return err
	}
	now := rq.s.cfg.Now()
	rows := make([]consentRow, 0, len(cs))
	for _, c := range cs {
		r := consentRow{ID: c.ID, Client: c.ClientID, Customer: oauth.CustomerViewer(c.TenantID, c.Subject).ID,
			Status: c.Status, Scopes: strings.Join(c.Scopes, " "), Granted: c.CreatedAt, Expires: c.ExpiresAt,
			Revoked: c.RevokedAt, RevokedBy: c.RevokedBy}
		if c.Status == oauth.ConsentActive && !now.Before(c.ExpiresAt) {
			r.Status = "expired"
		}
		r.Active = r.Status == oauth.ConsentActive
		for _, d := range c.Details {
			r.Details = append(r.Details, detailSummary(d))
		}
		rows = append(rows, r)
	}
	data["Rows"] = rows
	return rq.Render(http.StatusOK, "consents", "consent.title", data)
}

// detailSummary is one authorization_details entry in a line: the type and
// what it covers (a transfer's amount, payee and purpose; the accounts an
// account-information grant is limited to). Account numbers are the
// customer's own and shown to their bank's staff, as on the consent page.
func detailSummary(d oauth.Detail) string {
	var b strings.Builder
	b.WriteString(d.Type)
	switch d.Type {
	case oauth.DetailTransfer:
		b.WriteString(": ¥" + d.Amount)
		if d.Payee != nil {
			b.WriteString(" → " + accountLine(*d.Payee))
		}
		if d.Purpose != "" {
			b.WriteString(" (" + d.Purpose + ")")
		}
	case oauth.DetailAccounts:
		if len(d.Accounts) > 0 {
			parts := make([]string, len(d.Accounts))
			for i, a := range d.Accounts {
				parts[i] = accountLine(a)
			}
			b.WriteString(": " + strings.Join(parts, ", "))
		}
	}
	if len(d.Actions) > 0 {
		b.WriteString(" [" + strings.Join(d.Actions, " ") + "]")
	}
	return b.String()
}

func accountLine(a oauth.Account) string {
	s := a.BankCode + "-" + a.BranchCode + " " + a.AccountType + " " + a.AccountNumber
	if a.Name != "" {
		s += " " + a.Name
	}
	return s
}

// consentRevoke revokes one of the tenant's consents and every token
// issued under it, after a recent sign-in.
func consentRevoke(rq *Request) error {
	svc := rq.s.cfg.Consents
	id := rq.PathValue("id")
	if svc == nil || id == "" || len(id) > maxConsentParam {
		return ErrNotFound
	}
	if err := rq.RequireRecentAuth(Prefix + "/consents"); err != nil {
		return err
	}
	if err := svc.RevokeConsent(rq.Ctx(), consentViewer(rq), rq.Principal.TenantID, id); err != nil {
		if errors.Is(err, oauth.ErrNotFound) {
			return ErrNotFound
		}
		return err
	}
	rq.Flash("flash.consent_revoked")
	return rq.Redirect(Prefix + "/consents")
}

// consentViewer is the signed-in person as the oauth service's actor.
func consentViewer(rq *Request) oauth.Viewer {
	return oauth.Viewer{Kind: audit.ActorStaff, ID: rq.Principal.StaffID}
}

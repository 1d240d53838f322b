package web

// OAuth consents (package oauth, consent.go): a tenant's service lists and
// revokes its customers' consents with a client_credentials token carrying
// oauth:consents; a customer, through a token their own consent granted
// with oauth:consents (the bank's app acting for them), lists and revokes
// only their own. Reads and revocations are audited by package oauth.

import (
	"context"
	"errors"
	"net/http"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/oauth"
)

// ScopeOAuthConsents lists and revokes consents.
const ScopeOAuthConsents = "oauth:consents"

// ConsentService is what the consent routes need from *oauth.Server.
type ConsentService interface {
	Consents(ctx context.Context, who oauth.Viewer, tenantID string, f oauth.ConsentFilter) ([]oauth.Consent, error)
	RevokeConsent(ctx context.Context, who oauth.Viewer, tenantID, consentID string) error
	RevokeCustomerConsent(ctx context.Context, who oauth.Viewer, tenantID, subject, consentID string) error
}

var _ ConsentService = (*oauth.Server)(nil)

const maxConsentParam = 128

func (s *Server) consentRoutes() {
	if s.cfg.Consents == nil || (s.cfg.OAuth == nil && s.cfg.Auth == nil) {
		return
	}
	s.mux.Handle("GET /v1/oauth/consents", s.authed(ScopeOAuthConsents, s.consentList))
	s.mux.Handle("POST /v1/oauth/consents/{id}/revoke", s.authed(ScopeOAuthConsents, s.consentRevoke))
}

// consentViewer is who the principal is for the audit log: the customer
// (by pseudonym) when the token acts for one, else the client.
func consentViewer(p Principal) oauth.Viewer {
	if p.Subject != "" {
		return oauth.CustomerViewer(p.TenantID, p.Subject)
	}
	return oauth.Viewer{Kind: audit.ActorClient, ID: p.ClientID}
}

func (s *Server) consentList(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	q := r.URL.Query()
	f := oauth.ConsentFilter{Subject: q.Get("customer"), ClientID: q.Get("client_id")}
	if len(q["customer"]) > 1 || len(q["client_id"]) > 1 || len(f.Subject) > maxConsentParam || len(f.ClientID) > maxConsentParam {
		return errBadRequest("customer and client_id are given at most once, each at most 128 bytes.")
	}
	if p.Subject != "" {
		if f.Subject != "" && f.Subject != p.Subject {
			return errForbidden("A customer's token lists only that customer's consents.")
		}
		f.Subject = p.Subject
	}
	cs, err := s.cfg.Consents.Consents(r.Context(), consentViewer(p), p.TenantID, f)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []oauth.Consent{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"consents": cs})
	return nil
}

func (s *Server) consentRevoke(w http.ResponseWriter, r *http.Request) error {
	p, _ := PrincipalFrom(r.Context())
	id := r.PathValue("id")
	if id == "" || len(id) > maxConsentParam {
		return errNotFound()
	}
	var err error
	if p.Subject != "" {
		err = s.cfg.Consents.RevokeCustomerConsent(r.Context(), consentViewer(p), p.TenantID, p.Subject, id)
	} else {
		err = s.cfg.Consents.RevokeConsent(r.Context(), consentViewer(p), p.TenantID, id)
	}
	if errors.Is(err, oauth.ErrNotFound) {
		return errNotFound()
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

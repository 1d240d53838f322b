package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Consent states.
const (
	ConsentActive  = "active"
	ConsentRevoked = "revoked"
)

// Consent is a recorded grant: who (the customer), which partner, which
// scopes and authorization_details, until when.
type Consent struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"subject"`
	Scopes    []string  `json:"scopes"`
	Details   []Detail  `json:"authorization_details,omitempty"`
	ACR       string    `json:"acr"`
	AMR       []string  `json:"amr"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// customerPseudonym is how a customer appears in the audit log: a hash of
// tenant and subject, never the reference itself.
func customerPseudonym(tenantID, subject string) string {
	d := sha256.Sum256([]byte(tenantID + "\x00" + subject))
	return "cust:" + hex.EncodeToString(d[:12])
}

func customerRef(tenantID, subject string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenantID, Subject: "customer:" + subject}
}

// createGrant records a consent inside tx and audits it (the customer is
// the actor). Details are sealed under the customer.
func (s *Server) createGrant(ctx context.Context, tx *store.Tx, ix *interaction, a Authentication) (string, error) {
	if a.Subject == "" || len(a.Subject) > 128 {
		return "", fmt.Errorf("%w: authenticator returned no subject", ErrCustomer)
	}
	now := s.now()
	id := "gr_" + randomToken()[:26]
	var sealed any
	if len(ix.req.Details) > 0 {
		b, err := json.Marshal(ix.req.Details)
		if err != nil {
			return "", err
		}
		ct, err := s.cfg.Sealer.Seal(ctx, tx, customerRef(ix.tenantID, a.Subject), []byte("oauth-grant:"+id), b)
		if err != nil {
			return "", err
		}
		sealed = ct
	}
	if _, err := tx.Exec(ctx, `INSERT INTO oauth_grants (id, tenant_id, client_id, subject, scopes, detail_types, details, acr, amr, status, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, ix.tenantID, ix.clientID, a.Subject, strings.Join(ix.req.Scopes, " "), joinTypes(ix.req.Details),
		sealed, a.ACR, strings.Join(a.AMR, " "), ConsentActive, store.Micros(now), store.Micros(now.Add(s.cfg.ConsentTTL))); err != nil {
		return "", err
	}
	return id, s.audit(ctx, tx, audit.ActorCustomer, customerPseudonym(ix.tenantID, a.Subject), ix.tenantID, "oauth.consent.grant", id,
		map[string]string{"client": ix.clientID, "scopes": strings.Join(ix.req.Scopes, " "), "detail_types": joinTypes(ix.req.Details),
			"acr": a.ACR, "kind": ix.kind})
}

const consentCols = `id, tenant_id, client_id, subject, scopes, details, acr, amr, status, created_at, expires_at, revoked_at, revoked_by`

// ConsentFilter selects consents of one tenant.
type ConsentFilter struct {
	Subject  string // one customer's consents
	ClientID string // one partner's consents
}

// Consents lists a tenant's consents (newest first, at most 200), with
// their details opened; reading them is audited as an access to personal
// data by who.
func (s *Server) Consents(ctx context.Context, who Viewer, tenantID string, f ConsentFilter) ([]Consent, error) {
	q := `SELECT ` + consentCols + ` FROM oauth_grants WHERE tenant_id = ?`
	args := []any{tenantID}
	if f.Subject != "" {
		q += ` AND subject = ?`
		args = append(args, f.Subject)
	}
	if f.ClientID != "" {
		q += ` AND client_id = ?`
		args = append(args, f.ClientID)
	}
	q += ` ORDER BY created_at DESC, id LIMIT 200`
	var out []Consent
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		var raw []Consent
		var sealed [][]byte
		for rows.Next() {
			var c Consent
			var scopes, amr string
			var details []byte
			var created, exp int64
			var revokedAt *int64
			var revokedBy *string
			if err := rows.Scan(&c.ID, &c.TenantID, &c.ClientID, &c.Subject, &scopes, &details, &c.ACR, &amr, &c.Status, &created, &exp, &revokedAt, &revokedBy); err != nil {
				rows.Close()
				return err
			}
			c.Scopes, c.AMR = strings.Fields(scopes), strings.Fields(amr)
			c.CreatedAt, c.ExpiresAt = store.FromMicros(created), store.FromMicros(exp)
			if revokedAt != nil {
				c.RevokedAt = store.FromMicros(*revokedAt)
			}
			if revokedBy != nil {
				c.RevokedBy = *revokedBy
			}
			raw = append(raw, c)
			sealed = append(sealed, details)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range raw {
			if len(sealed[i]) > 0 {
				b, err := s.cfg.Sealer.Open(ctx, tx, customerRef(raw[i].TenantID, raw[i].Subject), []byte("oauth-grant:"+raw[i].ID), sealed[i])
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &raw[i].Details); err != nil {
					return err
				}
			}
		}
		out = raw
		return s.audit(ctx, tx, who.Kind, who.ID, tenantID, "oauth.consent.list", "",
			map[string]string{"count": fmt.Sprint(len(raw)), "by_customer": fmt.Sprint(f.Subject != ""), "client": f.ClientID})
	})
	return out, err
}

// Viewer is who reads or changes consents: tenant staff (audit.ActorStaff),
// a client acting for the customer (audit.ActorClient), or the customer
// (audit.ActorCustomer, ID a pseudonym).
type Viewer struct {
	Kind string
	ID   string
}

// RevokeConsent revokes a consent of tenantID and every token issued under
// it, in one audited transaction; every instance drops the tokens from its
// cache within a second. A consent of another tenant is ErrNotFound; an
// already revoked one is left as it is (nil).
func (s *Server) RevokeConsent(ctx context.Context, who Viewer, tenantID, consentID string) error {
	return s.revokeConsent(ctx, who, tenantID, "", consentID)
}

// RevokeCustomerConsent is RevokeConsent for a customer's own consent: a
// consent of another customer (or tenant) is ErrNotFound.
func (s *Server) RevokeCustomerConsent(ctx context.Context, who Viewer, tenantID, subject, consentID string) error {
	if subject == "" {
		return ErrNotFound
	}
	return s.revokeConsent(ctx, who, tenantID, subject, consentID)
}

// CustomerViewer is the customer as who reads or revokes their consents,
// recorded in the audit log by pseudonym.
func CustomerViewer(tenantID, subject string) Viewer {
	return Viewer{Kind: audit.ActorCustomer, ID: customerPseudonym(tenantID, subject)}
}

func (s *Server) revokeConsent(ctx context.Context, who Viewer, tenantID, subject, consentID string) error {
	now := s.now()
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var status, owner string
		if err := tx.QueryRow(ctx, `SELECT status, subject FROM oauth_grants WHERE tenant_id = ? AND id = ?`, tenantID, consentID).Scan(&status, &owner); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		if subject != "" && owner != subject {
			return ErrNotFound
		}
		if status == ConsentRevoked {
			return nil
		}
		return s.revokeGrantTx(ctx, tx, who, tenantID, consentID, now, "oauth.consent.revoke")
	})
	if err == nil {
		s.cfg.Revocations.Invalidate(grantTag(consentID))
	}
	return err
}

// revokeGrantTx marks a grant and its tokens revoked inside tx and audits.
func (s *Server) revokeGrantTx(ctx context.Context, tx *store.Tx, who Viewer, tenantID, grantID string, now time.Time, action string) error {
	if _, err := tx.Exec(ctx, `UPDATE oauth_grants SET status = ?, revoked_at = ?, revoked_by = ? WHERE tenant_id = ? AND id = ?`,
		ConsentRevoked, store.Micros(now), who.Kind+":"+who.ID, tenantID, grantID); err != nil {
		return err
	}
	res, err := tx.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL`, store.Micros(now), grantID)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	if err := revoke.Publish(ctx, tx, grantTag(grantID)); err != nil {
		return err
	}
	kind, id := who.Kind, who.ID
	if kind == "" {
		kind, id = audit.ActorSystem, ""
	}
	return s.audit(ctx, tx, kind, id, tenantID, action, grantID, map[string]string{"tokens_revoked": fmt.Sprint(n)})
}

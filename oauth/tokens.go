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
)

// Token kinds and value prefixes. A client_credentials token (package
// tenant) starts with mdg_at_.
const (
	kindAccess    = "access"
	kindRefresh   = "refresh"
	prefixAccess  = "mdg_ca_"
	prefixRefresh = "mdg_rt_"
)

// tokenInfo is what a token stands for.
type tokenInfo struct {
	hash                                 [32]byte
	kind                                 string
	grantID, tenantID, clientID, subject string
	scopes                               []string
	details                              []Detail
	jkt, x5t                             string
	issued, exp                          time.Time
	revoked                              bool
	rateCustomer                         int
}

// binding is a token's sender constraint.
type binding struct {
	jkt string // DPoP key thumbprint
	x5t string // TLS client certificate thumbprint
}

// grantRow is an active consent, for issuing tokens.
type grantRow struct {
	id, tenantID, clientID, subject string
	scopes                          []string
	details                         []Detail
	acr                             string
	amr                             []string
	exp                             time.Time
}

func (s *Server) loadGrant(ctx context.Context, tx *store.Tx, tenantID, grantID string) (*grantRow, error) {
	var (
		g           grantRow
		scopes, amr string
		details     []byte
		status      string
		exp         int64
	)
	err := tx.QueryRow(ctx, `SELECT id, tenant_id, client_id, subject, scopes, details, acr, amr, status, expires_at FROM oauth_grants WHERE tenant_id = ? AND id = ?`,
		tenantID, grantID).Scan(&g.id, &g.tenantID, &g.clientID, &g.subject, &scopes, &details, &g.acr, &amr, &status, &exp)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	g.exp = store.FromMicros(exp)
	if status != ConsentActive {
		return nil, fmt.Errorf("%w: consent revoked", ErrNotFound)
	}
	if !s.now().Before(g.exp) {
		return nil, fmt.Errorf("%w: consent expired", ErrExpired)
	}
	g.scopes, g.amr = strings.Fields(scopes), strings.Fields(amr)
	if len(details) > 0 {
		b, err := s.cfg.Sealer.Open(ctx, tx, customerRef(g.tenantID, g.subject), []byte("oauth-grant:"+g.id), details)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &g.details); err != nil {
			return nil, err
		}
	}
	return &g, nil
}

// issueTokens stores a new access token (and, with refresh, a refresh
// token) for grant g bound as b, inside tx, and audits the issuance.
func (s *Server) issueTokens(ctx context.Context, tx *store.Tx, g *grantRow, b binding, refresh bool) (access, refreshTok string, err error) {
	now := s.now()
	put := func(kind, value string, exp time.Time) error {
		var jkt, x5t any
		if b.jkt != "" {
			jkt = b.jkt
		}
		if b.x5t != "" {
			x5t = b.x5t
		}
		_, err := tx.Exec(ctx, `INSERT INTO oauth_tokens (token_hash, kind, grant_id, tenant_id, client_id, subject, scopes, cnf_jkt, cnf_x5t, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, hashOf(value), kind, g.id, g.tenantID, g.clientID, g.subject, strings.Join(g.scopes, " "),
			jkt, x5t, store.Micros(now), store.Micros(exp))
		return err
	}
	access = prefixAccess + randomToken()
	exp := now.Add(s.cfg.AccessTTL)
	if exp.After(g.exp) {
		exp = g.exp
	}
	if err := put(kindAccess, access, exp); err != nil {
		return "", "", err
	}
	if refresh {
		refreshTok = prefixRefresh + randomToken()
		if err := put(kindRefresh, refreshTok, g.exp); err != nil {
			return "", "", err
		}
	}
	bound := "dpop"
	if b.x5t != "" {
		bound = "mtls"
	}
	err = s.audit(ctx, tx, audit.ActorClient, g.clientID, g.tenantID, "oauth.token.issue", g.id,
		map[string]string{"bound": bound, "refresh": fmt.Sprint(refresh), "scopes": strings.Join(g.scopes, " ")})
	return access, refreshTok, err
}

// Revocation tags of the token cache (package revoke): a token, a grant
// (consent) and, published by the store's triggers, a client or tenant.
func tokenTag(h [32]byte) string { return "oauthtoken:" + hex.EncodeToString(h[:]) }
func grantTag(id string) string  { return "grant:" + id }

// lookupToken returns the token for value: from the revocation-checked
// cache when there is one (no store read for a token seen before), else
// from the store. A revoked token is never cached.
func (s *Server) lookupToken(ctx context.Context, value string) (*tokenInfo, error) {
	h := sha256.Sum256([]byte(value))
	if s.tokens == nil {
		return s.readToken(ctx, h)
	}
	return s.tokens.Get(ctx, h, func(ctx context.Context) (*tokenInfo, revoke.Entry, error) {
		ti, err := s.readToken(ctx, h)
		if err != nil || ti.revoked {
			return ti, revoke.Entry{}, err
		}
		return ti, revoke.Entry{Expires: ti.exp, Tags: []string{
			tokenTag(h), grantTag(ti.grantID), "client:" + ti.clientID, "tenant:" + ti.tenantID,
		}}, nil
	})
}

// readToken reads a token with its grant's details and client state. A
// token of a disabled client or tenant, or of a revoked grant, is
// returned revoked.
func (s *Server) readToken(ctx context.Context, h [32]byte) (*tokenInfo, error) {
	ti := &tokenInfo{hash: h}
	var (
		scopes                    string
		jkt, x5t                  *string
		issued, exp               int64
		revokedAt                 *int64
		grantStatus, clientStatus string
		tenantStatus              string
		details                   []byte
		rate                      *int
	)
	err := s.cfg.DB.QueryRow(ctx, `SELECT t.kind, t.grant_id, t.tenant_id, t.client_id, t.subject, t.scopes, t.cnf_jkt, t.cnf_x5t, t.issued_at, t.expires_at,
			t.revoked_at, g.status, g.details, c.status, tn.status, oc.rate_customer
		FROM oauth_tokens t
		JOIN oauth_grants g ON g.id = t.grant_id
		JOIN api_clients c ON c.id = t.client_id
		JOIN tenants tn ON tn.id = t.tenant_id
		LEFT JOIN oauth_clients oc ON oc.client_id = t.client_id
		WHERE t.token_hash = ?`, h[:]).Scan(&ti.kind, &ti.grantID, &ti.tenantID, &ti.clientID, &ti.subject, &scopes, &jkt, &x5t, &issued, &exp,
		&revokedAt, &grantStatus, &details, &clientStatus, &tenantStatus, &rate)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	ti.scopes = strings.Fields(scopes)
	if jkt != nil {
		ti.jkt = *jkt
	}
	if x5t != nil {
		ti.x5t = *x5t
	}
	if rate != nil {
		ti.rateCustomer = *rate
	}
	ti.issued, ti.exp = store.FromMicros(issued), store.FromMicros(exp)
	ti.revoked = revokedAt != nil || grantStatus != ConsentActive || clientStatus != "active" || tenantStatus != "active"
	if !ti.revoked && len(details) > 0 {
		b, err := s.cfg.Sealer.Open(ctx, s.cfg.DB, customerRef(ti.tenantID, ti.subject), []byte("oauth-grant:"+ti.grantID), details)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &ti.details); err != nil {
			return nil, err
		}
	}
	return ti, nil
}

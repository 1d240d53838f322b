package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/audit"
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
	if _, err := tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE expires_at < ?`, store.Micros(now.Add(-24*time.Hour))); err != nil {
		return "", "", err
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

// lookupToken returns the token for value, from the cache when the
// revocation feed is live, else from the store (and caches it).
func (s *Server) lookupToken(ctx context.Context, value string) (*tokenInfo, error) {
	h := sha256.Sum256([]byte(value))
	if ti := s.cache.get(h); ti != nil {
		return ti, nil
	}
	ti, err := s.readToken(ctx, h)
	if err != nil {
		return nil, err
	}
	s.cache.put(ti)
	return ti, nil
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

// tokenCache keeps tokens this instance has seen, so the resource path
// reads no store for them. It is trusted only while the revocation feed is
// live (a successful poll within the last second); otherwise every lookup
// goes to the store.
type tokenCache struct {
	mu       sync.RWMutex
	now      func() time.Time
	byHash   map[[32]byte]*tokenInfo
	byGrant  map[string][][32]byte
	lastSync atomic.Int64 // unix nanos of the last successful poll
}

const (
	cacheMax     = 1 << 18
	feedInterval = 250 * time.Millisecond
	feedStale    = time.Second
	// feedOverlap re-reads revocations this far behind the newest seen,
	// covering clock differences between instances and commit order.
	feedOverlap = 5 * time.Second
)

func newTokenCache(now func() time.Time) *tokenCache {
	return &tokenCache{now: now, byHash: map[[32]byte]*tokenInfo{}, byGrant: map[string][][32]byte{}}
}

func (c *tokenCache) live() bool {
	last := c.lastSync.Load()
	return last != 0 && c.now().Sub(time.Unix(0, last)) < feedStale
}

func (c *tokenCache) get(h [32]byte) *tokenInfo {
	if !c.live() {
		return nil
	}
	c.mu.RLock()
	ti := c.byHash[h]
	c.mu.RUnlock()
	return ti
}

func (c *tokenCache) put(ti *tokenInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.byHash) >= cacheMax {
		now := c.now()
		for h, t := range c.byHash {
			if !now.Before(t.exp) {
				c.deleteLocked(h)
			}
		}
		if len(c.byHash) >= cacheMax {
			return
		}
	}
	c.byHash[ti.hash] = ti
	c.byGrant[ti.grantID] = append(c.byGrant[ti.grantID], ti.hash)
}

func (c *tokenCache) deleteLocked(h [32]byte) {
	ti, ok := c.byHash[h]
	if !ok {
		return
	}
	delete(c.byHash, h)
	hs := c.byGrant[ti.grantID]
	for i, x := range hs {
		if x == h {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(c.byGrant, ti.grantID)
	} else {
		c.byGrant[ti.grantID] = hs
	}
}

func (c *tokenCache) dropToken(h [32]byte) {
	c.mu.Lock()
	c.deleteLocked(h)
	c.mu.Unlock()
}

func (c *tokenCache) dropGrant(id string) {
	c.mu.Lock()
	for _, h := range append([][32]byte(nil), c.byGrant[id]...) {
		c.deleteLocked(h)
	}
	c.mu.Unlock()
}

func (c *tokenCache) dropClient(id string) {
	c.mu.Lock()
	for h, ti := range c.byHash {
		if ti.clientID == id {
			c.deleteLocked(h)
		}
	}
	c.mu.Unlock()
}

// follow polls the store for revocations made by any instance and drops
// them from the cache: revoked tokens and grants (newest revoked_at seen,
// less feedOverlap), disabled clients and tenants. It is the fallback
// feed until a push feed (PostgreSQL LISTEN/NOTIFY) replaces the polling;
// either way live() turns false after a second without a successful
// round, and the cache is then bypassed.
func (c *tokenCache) follow(ctx context.Context, db *store.DB, log *slog.Logger) {
	var cursor int64 = store.Micros(c.now().Add(-feedOverlap))
	t := time.NewTicker(feedInterval)
	defer t.Stop()
	for {
		newest, err := c.poll(ctx, db, cursor)
		if err == nil {
			if newest > cursor {
				cursor = newest
			}
			c.lastSync.Store(c.now().UnixNano())
		} else if ctx.Err() == nil {
			log.Warn("oauth revocation feed: poll failed; the token cache is bypassed until it recovers", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *tokenCache) poll(ctx context.Context, db *store.DB, cursor int64) (int64, error) {
	since := cursor - feedOverlap.Microseconds()
	newest := cursor
	rows, err := db.Query(ctx, `SELECT token_hash, revoked_at FROM oauth_tokens WHERE revoked_at > ?`, since)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var h []byte
		var at int64
		if err := rows.Scan(&h, &at); err != nil {
			rows.Close()
			return 0, err
		}
		if len(h) == 32 {
			c.dropToken([32]byte(h))
		}
		newest = max(newest, at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	rows, err = db.Query(ctx, `SELECT id, revoked_at FROM oauth_grants WHERE revoked_at > ?`, since)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return 0, err
		}
		c.dropGrant(id)
		newest = max(newest, at)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	rows, err = db.Query(ctx, `SELECT c.id FROM api_clients c JOIN tenants t ON t.id = c.tenant_id WHERE c.status != 'active' OR t.status != 'active'`)
	if err != nil {
		return 0, err
	}
	var disabled []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		disabled = append(disabled, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, id := range disabled {
		c.dropClient(id)
	}
	return newest, nil
}

package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Grant types a profile may hold.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantCIBA              = "urn:openid:params:grant-type:ciba"
	GrantClientCredentials = "client_credentials"
)

// Client profile states. Only an active profile acts for customers.
const (
	ProfilePending   = "pending"
	ProfileActive    = "active"
	ProfileSuspended = "suspended"
)

// Limits on a profile.
const (
	maxRedirectURIs   = 10
	maxRedirectURILen = 512
	// DefaultClientRate is requests per second per client at the OAuth
	// endpoints; DefaultCustomerRate requests per minute per customer on
	// the resource path.
	DefaultClientRate   = 20
	DefaultCustomerRate = 120
)

// Actor is who performs an administrative change: a staff member, the
// system, or the local CLI's operator.
type Actor struct {
	Kind string // audit.ActorStaff or audit.ActorSystem
	ID   string
}

// ProfileSpec describes the OAuth side of an existing API client.
type ProfileSpec struct {
	RedirectURIs []string `json:"redirect_uris"`
	GrantTypes   []string `json:"grant_types"`
	// RARTypes are the authorization_details types the client may request
	// (least privilege): DetailTransfer, DetailAccounts.
	RARTypes     []string `json:"authorization_details_types"`
	CIBAMode     string   `json:"backchannel_token_delivery_mode,omitempty"` // "", poll, ping
	CIBAEndpoint string   `json:"backchannel_client_notification_endpoint,omitempty"`
	RateClient   int      `json:"rate_per_second,omitempty"`
	RateCustomer int      `json:"rate_per_customer_minute,omitempty"`
}

// Profile is a client's OAuth registration.
type Profile struct {
	ClientID, TenantID string
	ProfileSpec
	Status      string
	RequestedBy string
	ActivatedBy string
}

func checkRedirectURI(s string) error {
	if len(s) == 0 || len(s) > maxRedirectURILen {
		return fmt.Errorf("%w: redirect URI must be 1-%d bytes", ErrInvalidInput, maxRedirectURILen)
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%w: redirect URI must be absolute, without fragment or user info", ErrInvalidInput)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "::1"):
		// FAPI 2.0 §5.3.1.2: http only for native apps' loopback redirects.
	default:
		return fmt.Errorf("%w: redirect URI must be https (http only on the loopback address)", ErrInvalidInput)
	}
	return nil
}

func (p *ProfileSpec) check() error {
	if len(p.RedirectURIs) > maxRedirectURIs {
		return fmt.Errorf("%w: at most %d redirect URIs", ErrInvalidInput, maxRedirectURIs)
	}
	for _, u := range p.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return err
		}
	}
	if len(p.GrantTypes) == 0 {
		return fmt.Errorf("%w: at least one grant type", ErrInvalidInput)
	}
	for _, g := range p.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantCIBA:
		default:
			return fmt.Errorf("%w: grant type %q is not offered for customers (no implicit, no password grant)", ErrInvalidInput, trunc(g))
		}
	}
	if slices.Contains(p.GrantTypes, GrantAuthorizationCode) && len(p.RedirectURIs) == 0 {
		return fmt.Errorf("%w: authorization_code needs a redirect URI", ErrInvalidInput)
	}
	for _, t := range p.RARTypes {
		if t != DetailTransfer && t != DetailAccounts {
			return fmt.Errorf("%w: authorization_details type %q is not supported", ErrInvalidInput, trunc(t))
		}
	}
	switch p.CIBAMode {
	case "":
		if slices.Contains(p.GrantTypes, GrantCIBA) {
			return fmt.Errorf("%w: the CIBA grant needs a delivery mode (poll or ping)", ErrInvalidInput)
		}
	case "poll":
	case "ping":
		u, err := url.Parse(p.CIBAEndpoint)
		if err != nil || u.Scheme != "https" || u.Host == "" || len(p.CIBAEndpoint) > maxRedirectURILen {
			return fmt.Errorf("%w: ping mode needs an https client notification endpoint", ErrInvalidInput)
		}
	default:
		return fmt.Errorf("%w: CIBA delivery mode must be poll or ping (push is not offered)", ErrInvalidInput)
	}
	if p.CIBAMode != "ping" && p.CIBAEndpoint != "" {
		return fmt.Errorf("%w: a notification endpoint is only for ping mode", ErrInvalidInput)
	}
	if p.RateClient < 0 || p.RateClient > 10000 || p.RateCustomer < 0 || p.RateCustomer > 10000 {
		return fmt.Errorf("%w: rates must be 0-10000", ErrInvalidInput)
	}
	if p.RateClient == 0 {
		p.RateClient = DefaultClientRate
	}
	if p.RateCustomer == 0 {
		p.RateCustomer = DefaultCustomerRate
	}
	return nil
}

// RegisterClient gives an API client of tenantID an OAuth profile, pending
// until its onboarding assessment is signed off and a second admin
// activates it. Audited.
func (s *Server) RegisterClient(ctx context.Context, by Actor, tenantID, clientID string, spec ProfileSpec) (Profile, error) {
	if err := by.valid(); err != nil {
		return Profile{}, err
	}
	if err := spec.check(); err != nil {
		return Profile{}, err
	}
	if spec.CIBAMode == "ping" && s.pinger == nil {
		return Profile{}, fmt.Errorf("%w: CIBA ping mode is not offered by this server (no notification outbox)", ErrInvalidInput)
	}
	now := s.now()
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM api_clients WHERE tenant_id = ? AND id = ?`, tenantID, clientID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `INSERT INTO oauth_clients (client_id, tenant_id, redirect_uris, grant_types, rar_types, ciba_mode, ciba_endpoint,
			rate_client, rate_customer, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			clientID, tenantID, strings.Join(spec.RedirectURIs, " "), strings.Join(spec.GrantTypes, " "), strings.Join(spec.RARTypes, " "),
			spec.CIBAMode, spec.CIBAEndpoint, spec.RateClient, spec.RateCustomer, ProfilePending, store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: the client already has an OAuth profile", ErrInvalidInput)
			}
			return err
		}
		return s.audit(ctx, tx, by.Kind, by.ID, tenantID, "oauth.client.register", clientID,
			map[string]string{"grant_types": strings.Join(spec.GrantTypes, " "), "rar_types": strings.Join(spec.RARTypes, " ")})
	})
	if err != nil {
		return Profile{}, err
	}
	return Profile{ClientID: clientID, TenantID: tenantID, ProfileSpec: spec, Status: ProfilePending}, nil
}

const profileCols = `client_id, tenant_id, redirect_uris, grant_types, rar_types, ciba_mode, ciba_endpoint, rate_client, rate_customer, status, requested_by, activated_by`

func scanProfile(r interface{ Scan(...any) error }) (Profile, error) {
	var p Profile
	var ru, gt, rt string
	var req, act *string
	if err := r.Scan(&p.ClientID, &p.TenantID, &ru, &gt, &rt, &p.CIBAMode, &p.CIBAEndpoint, &p.RateClient, &p.RateCustomer, &p.Status, &req, &act); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Profile{}, ErrNotFound
		}
		return Profile{}, err
	}
	p.RedirectURIs, p.GrantTypes, p.RARTypes = strings.Fields(ru), strings.Fields(gt), strings.Fields(rt)
	if req != nil {
		p.RequestedBy = *req
	}
	if act != nil {
		p.ActivatedBy = *act
	}
	return p, nil
}

// Profile returns a client's OAuth profile; another tenant's is ErrNotFound.
func (s *Server) Profile(ctx context.Context, tenantID, clientID string) (Profile, error) {
	return scanProfile(s.cfg.DB.QueryRow(ctx, `SELECT `+profileCols+` FROM oauth_clients WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID))
}

// activeProfile returns the profile of an authenticated client, which must
// be active and hold grant (when grant is not "").
func (s *Server) activeProfile(ctx context.Context, tenantID, clientID, grant string) (Profile, error) {
	p, err := s.Profile(ctx, tenantID, clientID)
	if errors.Is(err, ErrNotFound) {
		return p, oerr(401, "unauthorized_client", "This client is not registered to act for customers.", ErrNotActive)
	}
	if err != nil {
		return p, err
	}
	if p.Status != ProfileActive {
		return p, oerr(401, "unauthorized_client", "This client's onboarding is not complete.", ErrNotActive)
	}
	if err := s.limitClient(p.ClientID, p.RateClient); err != nil {
		return p, err
	}
	if grant != "" && !slices.Contains(p.GrantTypes, grant) {
		return p, oerr(400, "unauthorized_client", "This client may not use "+grant+".", ErrNotActive)
	}
	return p, nil
}

// limitClient takes one request from the client's bucket: rate per
// second, bursts of twice that (every OAuth endpoint; for the deployment,
// this instance enforcing its share).
func (s *Server) limitClient(clientID string, rate int) error {
	if ok, wait := s.limits.Allow("client:"+clientID, float64(rate), float64(2*rate)); !ok {
		e := oerr(http.StatusTooManyRequests, "slow_down", "Too many requests from this client.", ErrRateLimited)
		e.RetryAfter = int(wait/time.Second) + 1
		return e
	}
	return nil
}

// limitCustomer takes one request from a customer's bucket: rate per
// minute (the profile's rate_per_customer_minute, DefaultCustomerRate when
// unset), bursts of a sixth of that. kind separates what is limited — the
// resource path's calls and a partner's CIBA requests, which push to the
// customer's device — so one cannot starve the other.
func (s *Server) limitCustomer(kind, tenantID, customer string, rate int) error {
	if rate == 0 {
		rate = DefaultCustomerRate
	}
	if ok, wait := s.limits.Allow(kind+":"+tenantID+"\x00"+customer, float64(rate)/60, float64(max(1, rate/6))); !ok {
		e := oerr(http.StatusTooManyRequests, "slow_down", "Too many requests for this customer.", ErrRateLimited)
		e.RetryAfter = int(wait/time.Second) + 1
		return e
	}
	return nil
}

// limitAuthenticated limits an authenticated client at the endpoints that
// need no active profile (introspection, revocation): its profile's rate,
// DefaultClientRate without one.
func (s *Server) limitAuthenticated(ctx context.Context, tenantID, clientID string) error {
	rate := DefaultClientRate
	p, err := s.Profile(ctx, tenantID, clientID)
	switch {
	case err == nil:
		rate = p.RateClient
	case !errors.Is(err, ErrNotFound):
		return err
	}
	return s.limitClient(clientID, rate)
}

func (by Actor) valid() error {
	if (by.Kind != audit.ActorStaff && by.Kind != audit.ActorSystem) || by.ID == "" {
		return fmt.Errorf("%w: an administrative actor is a staff member or the system, with an id", ErrInvalidInput)
	}
	return nil
}

// MaxProfilesListed bounds ProfilesIn.
const MaxProfilesListed = 500

// ProfilesIn lists the OAuth profiles of tenantID's clients (every
// tenant's with all), oldest first, at most MaxProfilesListed.
func (s *Server) ProfilesIn(ctx context.Context, tenantID string, all bool) ([]Profile, error) {
	rows, err := s.cfg.DB.Query(ctx, `SELECT `+profileCols+` FROM oauth_clients WHERE (? OR tenant_id = ?) ORDER BY created_at, client_id LIMIT ?`,
		all, tenantID, MaxProfilesListed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

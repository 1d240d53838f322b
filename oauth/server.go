package oauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/tenant"
	"github.com/madoguchi/madoguchi/vault"
)

// Lifetimes (FAPI 2.0 §5.3.1.2: codes ≤ 60 s, request_uri < 600 s).
const (
	CodeTTL           = 60 * time.Second
	PARTTL            = 90 * time.Second
	InteractionTTL    = 10 * time.Minute
	DefaultAccessTTL  = 5 * time.Minute
	DefaultConsentTTL = 90 * 24 * time.Hour
	CIBATTL           = 5 * time.Minute
	CIBAInterval      = 5 * time.Second
	// Skew is the tolerance on JWT times from clients (FAPI 2.0 §5.3.1.1:
	// accept iat/nbf up to 10 s in the future).
	Skew = 10 * time.Second
)

// Auditor appends an audit entry inside the caller's transaction.
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// ClientAuthenticator authenticates a client at an endpoint (private_key_jwt
// or mutual TLS) and spends its assertion; *tenant.Issuer satisfies it.
type ClientAuthenticator interface {
	AuthenticateClient(ctx context.Context, req tenant.TokenRequest) (tenant.Client, error)
	// Token issues a client_credentials token (the grant for a client
	// acting for itself, not for a customer).
	Token(ctx context.Context, req tenant.TokenRequest) (tenant.Token, error)
	// Authenticate validates a client_credentials access token.
	Authenticate(ctx context.Context, bearer string, peer *x509.Certificate) (tenant.Principal, error)
	// Sweep deletes the client authenticator's expired rows (its access
	// tokens and spent assertion ids) and says how many per table; the
	// server runs it with its own sweep, so no token request deletes.
	Sweep(ctx context.Context) (map[string]int64, error)
}

var _ ClientAuthenticator = (*tenant.Issuer)(nil)

// Sealer encrypts personal data under a subject's data key before it is
// stored; *vault.Vault satisfies it.
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

var _ Sealer = (*vault.Vault)(nil)

// Config configures a Server.
type Config struct {
	// Issuer is the issuer identifier: the server's public https URL
	// without a trailing slash. Endpoints are under it.
	Issuer string
	DB     *store.DB
	Audit  Auditor
	// Clients authenticates API clients (package tenant).
	Clients ClientAuthenticator
	// Sealer seals authorization_details and CIBA secrets.
	Sealer Sealer
	// Signer signs ID tokens, JARM responses and JWT introspection
	// responses (required with Customers).
	Signer *Signer
	// Customers authenticates the customer at the authorization endpoint
	// and on the CIBA device page. Nil: no grant acts for a customer — the
	// server serves the metadata and the token endpoint for
	// client_credentials only, and advertises nothing else.
	Customers CustomerAuthenticator
	// MutualTLS: this server terminates TLS and sees client certificates,
	// so tls_client_auth, self_signed_tls_client_auth and certificate-bound
	// tokens work and are advertised. Behind a TLS-terminating proxy they
	// are not.
	MutualTLS bool
	// Scopes are the client scopes the installation knows, advertised in
	// scopes_supported (with openid when customers sign in).
	Scopes []string
	// CIBANotifier tells a customer's device that a CIBA request awaits
	// them (nil: CIBA is not offered).
	CIBANotifier CIBANotifier
	// Pinger delivers CIBA ping callbacks: PingVia(the notify outbox).
	// Nil: CIBA offers poll mode only.
	Pinger Pinger
	// AccessTTL is the access-token lifetime (default 5 min, at most 1 h).
	AccessTTL time.Duration
	// ConsentTTL is how long a consent (and its refresh token) lasts
	// (default 90 days).
	ConsentTTL time.Duration
	// Revocations, when set, lets the resource path keep tokens it has
	// validated in memory (at most CacheSize, default
	// revoke.DefaultMaxEntries) instead of reading the store per request; a
	// revocation (token or consent revoked, client or tenant disabled)
	// still reaches every instance within the watcher's bound (package
	// revoke). The caller runs the watcher. Nil: every request reads the
	// store.
	Revocations *revoke.Watcher
	CacheSize   int
	// SweepEvery is how often Run deletes expired pushed requests,
	// interactions, codes, tokens and replay-cache entries (default
	// DefaultSweepEvery).
	SweepEvery time.Duration
	Logger     *slog.Logger
	Now        func() time.Time

	// Instances counts the live instances sharing the database
	// (*cluster.Registry, which the caller runs): each enforces its share
	// of the profiles' rate limits, so they hold for the deployment. Nil:
	// this instance alone enforces them whole.
	Instances Instances
}

// dpopKeyCacheSize bounds the parsed DPoP keys kept in memory (a few
// hundred bytes each).
const dpopKeyCacheSize = 4096

// Server is the authorization server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	nonces   *nonces
	dpopJTIs *localJTIs
	jtiSeed  maphash.Seed // keys dpopJTIs
	// sharedReplay: the store is shared by instances (PostgreSQL), so
	// each DPoP proof is also spent there (verifyDPoP).
	sharedReplay bool
	spends       *spendBatcher                       // with sharedReplay
	dpopKeys     *tenant.KeyCache                    // DPoP proofs' embedded keys, parsed once
	tokens       *revoke.Cache[[32]byte, *tokenInfo] // nil without cfg.Revocations
	limits       *limiter
	pinger       Pinger
	// urls
	issuer, parURL, authzURL, tokenURL, introspectURL, revokeURL, cibaURL, userinfoURL, jwksURL string
	audiences                                                                                   []string
}

// New validates cfg and returns a Server. It fails closed: a missing
// store, client authenticator or sealer is an error, and so is a customer
// authenticator without a signer.
func New(cfg Config) (*Server, error) {
	u, err := url.Parse(cfg.Issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(cfg.Issuer, "/"):
		return nil, fmt.Errorf("oauth: issuer %q must be an absolute URL without query, fragment or trailing slash", cfg.Issuer)
	case cfg.DB == nil || cfg.Audit == nil || cfg.Clients == nil || cfg.Sealer == nil:
		return nil, errors.New("oauth: store, auditor, client authenticator and sealer are required")
	case cfg.Customers != nil && cfg.Signer == nil:
		return nil, errors.New("oauth: a signing key is required to act for customers")
	case cfg.Customers == nil && cfg.CIBANotifier != nil:
		return nil, errors.New("oauth: CIBA needs a customer authenticator")
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AccessTTL < time.Second || cfg.AccessTTL > time.Hour {
		return nil, fmt.Errorf("oauth: access-token lifetime %v outside 1s..1h", cfg.AccessTTL)
	}
	if cfg.ConsentTTL == 0 {
		cfg.ConsentTTL = DefaultConsentTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, now: cfg.Now, dpopJTIs: &localJTIs{}, jtiSeed: maphash.MakeSeed(), dpopKeys: tenant.NewKeyCache(dpopKeyCacheSize)}
	s.nonces = newNonces(cfg.DB, cfg.Now)
	s.sharedReplay = cfg.DB.Dialect() == store.Postgres
	if s.sharedReplay {
		s.spends = newSpendBatcher(cfg.DB)
	}
	if cfg.Revocations != nil {
		s.tokens = revoke.NewCache[[32]byte, *tokenInfo](cfg.Revocations, cfg.CacheSize)
	}
	s.limits = newLimiter(cfg.Now, cfg.Instances)
	s.pinger = cfg.Pinger
	s.issuer = cfg.Issuer
	s.parURL = cfg.Issuer + PathPAR
	s.authzURL = cfg.Issuer + PathAuthorize
	s.tokenURL = cfg.Issuer + PathToken
	s.introspectURL = cfg.Issuer + PathIntrospect
	s.revokeURL = cfg.Issuer + PathRevoke
	s.cibaURL = cfg.Issuer + PathCIBA
	s.userinfoURL = cfg.Issuer + PathUserInfo
	s.jwksURL = cfg.Issuer + PathJWKS
	s.audiences = []string{s.issuer, s.tokenURL, s.parURL, s.cibaURL, s.introspectURL, s.revokeURL}
	return s, nil
}

// Audiences are the aud values client assertions may carry: the issuer
// identifier (FAPI 2.0 §5.3.1.1) and the endpoint URLs. The tenant.Issuer
// that authenticates clients must be configured with them.
func Audiences(issuer string) []string {
	return []string{issuer, issuer + PathToken, issuer + PathPAR, issuer + PathCIBA, issuer + PathIntrospect, issuer + PathRevoke}
}

// Endpoint paths.
const (
	PathPAR        = "/v1/oauth/par"
	PathAuthorize  = "/oauth/authorize"
	PathDecide     = "/oauth/authorize/decide"
	PathToken      = "/v1/oauth/token"
	PathIntrospect = "/v1/oauth/introspect"
	PathRevoke     = "/v1/oauth/revoke"
	PathCIBA       = "/v1/oauth/bc-authorize"
	PathDevice     = "/oauth/device"
	PathUserInfo   = "/v1/oauth/userinfo"
	PathJWKS       = "/oauth/jwks.json"
)

// Run runs the server's background work until ctx ends: the sweep of
// expired rows. The caller owns it (one goroutine) and runs the revocation
// watcher (Config.Revocations) and the notify worker that delivers CIBA
// pings (Config.Pinger) separately.
func (s *Server) Run(ctx context.Context) {
	s.sweepLoop(ctx)
}

func (s *Server) audit(ctx context.Context, tx *store.Tx, kind, actor, tenantID, action, object string, details map[string]string) error {
	_, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{
		ActorKind: kind, ActorID: actor, TenantID: tenantID, Action: action, Object: object,
		RequestID: requestID(ctx), Outcome: audit.OutcomeOK, Details: details,
	})
	return err
}

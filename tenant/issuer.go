package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/revoke"
	"github.com/madoguchi/madoguchi/store"
)

// Token-issuance defaults and bounds.
const (
	DefaultTokenTTL = 5 * time.Minute
	MaxTokenTTL     = time.Hour
	DefaultSkew     = 10 * time.Second
	MaxSkew         = 60 * time.Second

	tokenPrefix = "mdg_at_"
	tokenLen    = len(tokenPrefix) + 43 // 32 random bytes, base64url
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// Audiences are the aud values accepted in client assertions: the
	// server's issuer identifier and its token endpoint URL (FAPI 2.0
	// §5.3.1.1). At least one is required.
	Audiences []string
	// TokenTTL is the access-token lifetime (default DefaultTokenTTL, at most MaxTokenTTL).
	TokenTTL time.Duration
	// Skew is the clock-skew tolerance on assertion times (default
	// DefaultSkew, at most MaxSkew).
	Skew time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Revocations, when set, lets Authenticate keep validated access tokens
	// in memory (at most CacheSize, default revoke.DefaultMaxEntries)
	// instead of reading the store on every request; a revocation (token
	// deleted, client or tenant disabled) still reaches every instance
	// within the watcher's bound (package revoke). Nil: every request reads
	// the store.
	Revocations *revoke.Watcher
	CacheSize   int
}

// Issuer authenticates clients at the token endpoint, issues opaque access
// tokens and validates them.
type Issuer struct {
	db     *store.DB
	audit  Auditor
	cfg    IssuerConfig
	tokens *revoke.Cache[[32]byte, tokenRow] // nil without cfg.Revocations
}

// tokenRow is what the store says about a valid access token.
type tokenRow struct {
	p       Principal
	cnf     string // x5t#S256 the token is bound to, or ""
	expires time.Time
}

// NewIssuer returns an Issuer. A configuration without audiences is refused:
// the server must know its own name to check assertions.
func NewIssuer(db *store.DB, a Auditor, cfg IssuerConfig) (*Issuer, error) {
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("tenant: issuer needs at least one accepted audience")
	}
	for _, aud := range cfg.Audiences {
		if aud == "" {
			return nil, errors.New("tenant: empty audience")
		}
	}
	if cfg.TokenTTL == 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	if cfg.TokenTTL < time.Second || cfg.TokenTTL > MaxTokenTTL {
		return nil, fmt.Errorf("tenant: token lifetime %v outside 1s..%v", cfg.TokenTTL, MaxTokenTTL)
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.Skew < 0 || cfg.Skew > MaxSkew {
		return nil, fmt.Errorf("tenant: clock skew %v outside 0..%v", cfg.Skew, MaxSkew)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Audiences = slices.Clone(cfg.Audiences)
	is := &Issuer{db: db, audit: a, cfg: cfg}
	if cfg.Revocations != nil {
		is.tokens = revoke.NewCache[[32]byte, tokenRow](cfg.Revocations, cfg.CacheSize)
	}
	return is, nil
}

// TokenRequest is a client_credentials token request with the client's
// authentication.
type TokenRequest struct {
	GrantType           string
	Scopes              []string // requested scopes; empty means all the client's scopes
	ClientID            string   // client_id parameter: required with mTLS, optional with an assertion
	ClientAssertionType string
	ClientAssertion     string
	// PeerCert is the verified TLS client certificate, if the connection
	// presented one. With a certificate, the token is bound to it (RFC 8705
	// §3), whatever the authentication method.
	PeerCert *x509.Certificate
	// PeerIntermediates are the further certificates the client sent in
	// the handshake (tls_client_auth chains through them to the CA).
	PeerIntermediates []*x509.Certificate
	RequestID         string
}

// Limits on token-request parameters.
const (
	maxClientIDLen   = 128
	maxScopeParamLen = 2048
)

// ParseTokenRequest reads the form parameters of a token request (RFC 6749
// §4.4.2, RFC 7523 §2.2). A parameter given more than once is refused
// (RFC 6749 §3.2); unknown parameters are ignored. The caller caps the body
// size and sets PeerCert and RequestID.
func ParseTokenRequest(form url.Values) (TokenRequest, error) {
	var r TokenRequest
	get := func(name string, max int) (string, error) {
		v := form[name]
		switch {
		case len(v) == 0:
			return "", nil
		case len(v) > 1:
			return "", fmt.Errorf("%w: %s given more than once", ErrInvalidRequest, name)
		case len(v[0]) > max:
			return "", fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidRequest, name, max)
		}
		return v[0], nil
	}
	var err error
	if r.GrantType, err = get("grant_type", 64); err != nil {
		return r, err
	}
	if r.GrantType == "" {
		return r, fmt.Errorf("%w: grant_type is required", ErrInvalidRequest)
	}
	if r.ClientID, err = get("client_id", maxClientIDLen); err != nil {
		return r, err
	}
	if r.ClientAssertionType, err = get("client_assertion_type", 128); err != nil {
		return r, err
	}
	if r.ClientAssertion, err = get("client_assertion", MaxAssertionLen); err != nil {
		return r, err
	}
	scope, err := get("scope", maxScopeParamLen)
	if err != nil {
		return r, err
	}
	if scope != "" {
		r.Scopes = strings.Split(scope, " ")
		if len(r.Scopes) > MaxScopes {
			return r, fmt.Errorf("%w: more than %d scopes", ErrInvalidScope, MaxScopes)
		}
		for _, s := range r.Scopes {
			if !scopeRE.MatchString(s) {
				return r, fmt.Errorf("%w: malformed scope", ErrInvalidScope)
			}
		}
	}
	return r, nil
}

// Secret is an access token value. It never prints or logs itself; Reveal
// returns the value for the response body.
type Secret string

// Reveal returns the token value.
func (s Secret) Reveal() string { return string(s) }

// String redacts the value.
func (s Secret) String() string { return "[REDACTED]" }

// LogValue redacts the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[REDACTED]") }

// Token is an issued access token.
type Token struct {
	AccessToken Secret
	TokenType   string // "Bearer"
	ExpiresIn   time.Duration
	Scopes      []string
	// CertBound reports whether the token is bound to the TLS client
	// certificate (cnf x5t#S256).
	CertBound bool
}

// Principal is an authenticated API client.
type Principal struct {
	TenantID string
	ClientID string
	Scopes   []string
}

// Has reports whether the principal was granted scope.
func (p Principal) Has(scope string) bool { return slices.Contains(p.Scopes, scope) }

// Token authenticates the client of req and issues an access token for the
// client_credentials grant. Failures write nothing. Errors: ErrInvalidRequest,
// ErrUnsupportedGrantType, ErrInvalidClient (wrapping the reason),
// ErrInvalidScope.
func (is *Issuer) Token(ctx context.Context, req TokenRequest) (Token, error) {
	if req.GrantType != "client_credentials" {
		return Token{}, ErrUnsupportedGrantType
	}
	now := is.cfg.Now()
	c, jti, jtiExp, err := is.authenticateClient(ctx, req, now)
	if err != nil {
		return Token{}, err
	}
	scopes := c.Scopes
	if len(req.Scopes) > 0 {
		scopes, err = checkScopes(req.Scopes)
		if err != nil {
			return Token{}, fmt.Errorf("%w: %v", ErrInvalidScope, err)
		}
		for _, s := range scopes {
			if !slices.Contains(c.Scopes, s) {
				return Token{}, fmt.Errorf("%w: scope not granted to the client", ErrInvalidScope)
			}
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return Token{}, err
	}
	value := tokenPrefix + b64.EncodeToString(raw[:])
	hash := sha256.Sum256([]byte(value))
	var cnf any
	if req.PeerCert != nil {
		cnf = CertThumbprint(req.PeerCert)
	}
	exp := now.Add(is.cfg.TokenTTL)
	err = is.db.InTx(ctx, func(tx *store.Tx) error {
		if err := recordJTI(ctx, tx, c.ID, jti, jtiExp); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO access_tokens (token_hash, tenant_id, client_id, scopes, cnf_x5t_s256, issued_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			hash[:], c.TenantID, c.ID, strings.Join(scopes, " "), cnf, store.Micros(now), store.Micros(exp)); err != nil {
			return err
		}
		_, err := is.audit.Append(ctx, tx, audit.Entry{
			ActorKind: audit.ActorClient, ActorID: c.ID, TenantID: c.TenantID, Action: "token.issue",
			Object: c.ID, RequestID: req.RequestID, Outcome: audit.OutcomeOK,
			Details: map[string]string{"method": string(c.Method), "scopes": strings.Join(scopes, " "), "cert_bound": fmt.Sprint(cnf != nil)},
		})
		return err
	})
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: Secret(value), TokenType: "Bearer", ExpiresIn: is.cfg.TokenTTL, Scopes: scopes, CertBound: cnf != nil}, nil
}

// recordJTI spends a client assertion's jti inside tx: a second use of the
// same (client, jti) is ErrInvalidClient wrapping ErrReplay. Expired records
// are deleted by Sweep, not here. An empty jti (TLS authentication) records
// nothing.
func recordJTI(ctx context.Context, tx *store.Tx, clientID, jti string, exp time.Time) error {
	if jti == "" {
		return nil
	}
	jh := sha256.Sum256([]byte(jti))
	if _, err := tx.Exec(ctx, `INSERT INTO client_assertion_jtis (client_id, jti_hash, expires_at) VALUES (?, ?, ?)`,
		clientID, jh[:], store.Micros(exp)); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("%w: %w", ErrInvalidClient, ErrReplay)
		}
		return err
	}
	return nil
}

// Sweep deletes expired access tokens and spent-assertion records (a
// lookup refuses an expired one anyway), each table in one statement, and
// returns how many rows it deleted per table. The token path never
// deletes: the authorization server runs Sweep periodically (oauth.Server
// Run), so a token request costs no DELETE and no lock on expired rows.
func (is *Issuer) Sweep(ctx context.Context) (map[string]int64, error) {
	now := store.Micros(is.cfg.Now())
	out := map[string]int64{}
	for _, table := range []string{"access_tokens", "client_assertion_jtis"} {
		res, err := is.db.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at < ?`, now)
		if err != nil {
			return out, err
		}
		out[table], _ = res.RowsAffected()
	}
	return out, nil
}

// authenticateClient identifies and authenticates the client. For an
// assertion it returns the jti to record and when that record may be pruned.
func (is *Issuer) authenticateClient(ctx context.Context, req TokenRequest, now time.Time) (Client, string, time.Time, error) {
	fail := func(err error) (Client, string, time.Time, error) {
		return Client{}, "", time.Time{}, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	switch {
	case req.ClientAssertion != "" || req.ClientAssertionType != "":
		if req.ClientAssertionType != ClientAssertionType {
			return fail(fmt.Errorf("%w: client_assertion_type must be %s", ErrMalformedJWS, ClientAssertionType))
		}
		p, err := parseAssertion(req.ClientAssertion)
		if err != nil {
			return fail(err)
		}
		if req.ClientID != "" && req.ClientID != p.claims.iss {
			return fail(fmt.Errorf("%w: client_id differs from the assertion's iss", ErrClaims))
		}
		c, err := is.activeClient(ctx, p.claims.iss)
		if err != nil {
			return fail(err)
		}
		if c.Method != PrivateKeyJWT {
			return fail(ErrWrongMethod)
		}
		if err := p.verify(c.Keys, c.ID, is.cfg.Audiences, now, is.cfg.Skew); err != nil {
			return fail(err)
		}
		return c, p.claims.jti, time.Unix(p.claims.exp, 0).Add(is.cfg.Skew), nil
	case req.PeerCert != nil:
		if req.ClientID == "" {
			return fail(fmt.Errorf("%w: client_id is required with TLS client authentication", ErrUnknownClient))
		}
		c, err := is.activeClient(ctx, req.ClientID)
		if err != nil {
			return fail(err)
		}
		switch {
		case c.Method == TLSClientAuth && c.TLS != nil:
			if err := c.TLS.verify(req.PeerCert, req.PeerIntermediates, now); err != nil {
				return fail(err)
			}
			return c, "", time.Time{}, nil
		case c.Method != SelfSignedTLS:
			return fail(ErrWrongMethod)
		}
		tp := CertThumbprint(req.PeerCert)
		if subtle.ConstantTimeCompare([]byte(tp), []byte(c.CertSHA256)) != 1 {
			return fail(ErrCertMismatch)
		}
		if now.Before(req.PeerCert.NotBefore) || now.After(req.PeerCert.NotAfter) {
			return fail(fmt.Errorf("%w: certificate outside its validity period", ErrCertMismatch))
		}
		return c, "", time.Time{}, nil
	}
	return fail(fmt.Errorf("%w: no client authentication", ErrUnknownClient))
}

// activeClient looks a client up by id across tenants (client ids are
// globally unique) and requires it and its tenant to be active.
func (is *Issuer) activeClient(ctx context.Context, id string) (Client, error) {
	if id == "" || len(id) > maxClientIDLen {
		return Client{}, ErrUnknownClient
	}
	c, err := scanClient(is.db.QueryRow(ctx, `SELECT c.id, c.tenant_id, c.name, c.auth_method, c.scopes, c.jwks, c.cert_sha256, c.tls_name_kind, c.tls_name, c.tls_ca_pem, c.status, c.created_at
		FROM api_clients c JOIN tenants t ON t.id = c.tenant_id
		WHERE c.id = ? AND c.status = ? AND t.status = ?`, id, StatusActive, StatusActive))
	if errors.Is(err, ErrNotFound) {
		return Client{}, ErrUnknownClient
	}
	return c, err
}

// Authenticate validates a bearer access token. If the token is bound to a
// certificate, peerCert must be that certificate. The client and its tenant
// must still be active. Every failure is ErrInvalidToken (wrapping
// ErrTokenExpired or ErrCertMismatch where that is the reason).
func (is *Issuer) Authenticate(ctx context.Context, bearer string, peerCert *x509.Certificate) (Principal, error) {
	if len(bearer) != tokenLen || !strings.HasPrefix(bearer, tokenPrefix) {
		return Principal{}, ErrInvalidToken
	}
	hash := sha256.Sum256([]byte(bearer))
	var (
		row tokenRow
		err error
	)
	if is.tokens != nil {
		row, err = is.tokens.Get(ctx, hash, func(ctx context.Context) (tokenRow, revoke.Entry, error) {
			row, err := is.readToken(ctx, hash)
			return row, revoke.Entry{Expires: row.expires, Tags: []string{
				"token:" + hex.EncodeToString(hash[:]), "client:" + row.p.ClientID, "tenant:" + row.p.TenantID,
			}}, err
		})
	} else {
		row, err = is.readToken(ctx, hash)
	}
	if err != nil {
		return Principal{}, err
	}
	if !is.cfg.Now().Before(row.expires) {
		return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokenExpired)
	}
	if row.cnf != "" {
		if peerCert == nil || subtle.ConstantTimeCompare([]byte(CertThumbprint(peerCert)), []byte(row.cnf)) != 1 {
			return Principal{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrCertMismatch)
		}
	}
	p := row.p
	p.Scopes = slices.Clone(p.Scopes)
	return p, nil
}

// readToken reads a token whose client and tenant are active from the store.
func (is *Issuer) readToken(ctx context.Context, hash [32]byte) (tokenRow, error) {
	var (
		row     tokenRow
		scopes  string
		cnf     *string
		expires int64
	)
	err := is.db.QueryRow(ctx, `SELECT a.tenant_id, a.client_id, a.scopes, a.cnf_x5t_s256, a.expires_at
		FROM access_tokens a
		JOIN api_clients c ON c.id = a.client_id AND c.tenant_id = a.tenant_id
		JOIN tenants t ON t.id = a.tenant_id
		WHERE a.token_hash = ? AND c.status = ? AND t.status = ?`, hash[:], StatusActive, StatusActive).
		Scan(&row.p.TenantID, &row.p.ClientID, &scopes, &cnf, &expires)
	if errors.Is(err, store.ErrNotFound) {
		return tokenRow{}, ErrInvalidToken
	}
	if err != nil {
		return tokenRow{}, err
	}
	row.p.Scopes = strings.Fields(scopes)
	row.expires = store.FromMicros(expires)
	if cnf != nil {
		row.cnf = *cnf
	}
	return row, nil
}

package tenant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Auditor appends an audit entry inside the caller's transaction; *audit.Log
// satisfies it.
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

var _ Auditor = (*audit.Log)(nil)

// Actor is who performs an administrative change, as recorded in the audit
// log: a staff member (Kind audit.ActorStaff) acting through the portal or the
// local CLI, or the system. OSUser is the operating-system account that ran
// the CLI, recorded alongside ("" outside the CLI).
type Actor struct {
	Kind      string
	ID        string
	RequestID string
	OSUser    string
}

func (a Actor) entry(action, tenantID, object string, details map[string]string) audit.Entry {
	if details == nil {
		details = map[string]string{}
	}
	if a.OSUser != "" {
		details["os_user"] = a.OSUser
	}
	return audit.Entry{
		ActorKind: a.Kind, ActorID: a.ID, TenantID: tenantID, Action: action,
		Object: object, RequestID: a.RequestID, Outcome: audit.OutcomeOK, Details: details,
	}
}

// Status of a tenant or client.
const (
	StatusActive   = "active"
	StatusDisabled = "disabled"
)

// AuthMethod is how a client authenticates at the token endpoint.
type AuthMethod string

const (
	// PrivateKeyJWT: RFC 7523 client assertion signed with a registered key.
	PrivateKeyJWT AuthMethod = "private_key_jwt"
	// SelfSignedTLS: RFC 8705 §2.2, the TLS client certificate must be the
	// registered one (SHA-256 thumbprint pinned).
	SelfSignedTLS AuthMethod = "self_signed_tls_client_auth"
	// TLSClientAuth: RFC 8705 §2.1, the TLS client certificate must chain to
	// the CA registered with the client and carry its registered subject DN
	// or subjectAltName (TLSAuth).
	TLSClientAuth AuthMethod = "tls_client_auth"
)

// Tenant is a connected service: a bank, payment intermediary, business or
// public office.
type Tenant struct {
	ID        string
	Name      string
	Status    string
	CreatedAt time.Time
}

// Client is an API client of a tenant.
type Client struct {
	ID         string
	TenantID   string
	Name       string
	Method     AuthMethod
	Scopes     []string
	Keys       *KeySet  // PrivateKeyJWT only
	CertSHA256 string   // SelfSignedTLS only: base64url SHA-256 of the DER certificate
	TLS        *TLSAuth // TLSClientAuth only: the registered name and CA
	Status     string
	CreatedAt  time.Time
}

// Limits on administrative input.
const (
	MaxNameLen    = 128
	MaxScopes     = 32
	MaxCertPEMLen = 16 << 10
)

var scopeRE = regexp.MustCompile(`^[a-z][a-z0-9:._-]{0,63}$`)

// ClientSpec describes a client to create: exactly one of JWKS (for
// private_key_jwt), CertPEM (for self_signed_tls_client_auth) or a
// TLSIdentity (for tls_client_auth: one name form and the issuing CA).
type ClientSpec struct {
	Name    string   `json:"name"`
	Scopes  []string `json:"scopes"`
	JWKS    string   `json:"jwks,omitempty"`
	CertPEM string   `json:"cert_pem,omitempty"`
	TLSIdentity
}

// checkedSpec is a validated ClientSpec.
type checkedSpec struct {
	name   string
	scopes []string
	method AuthMethod
	keys   *KeySet
	cert   string
	tls    *TLSAuth
}

// Validate checks the spec without touching the store, so a request for
// approval can be refused before it is filed.
func (s ClientSpec) Validate(now time.Time) error {
	_, err := s.check(now)
	return err
}

func (s ClientSpec) check(now time.Time) (checkedSpec, error) {
	var c checkedSpec
	if err := checkName(s.Name); err != nil {
		return c, err
	}
	c.name = s.Name
	scopes, err := checkScopes(s.Scopes)
	if err != nil {
		return c, err
	}
	c.scopes = scopes
	given := 0
	for _, b := range []bool{s.JWKS != "", s.CertPEM != "", s.TLSIdentity.set()} {
		if b {
			given++
		}
	}
	switch {
	case given > 1:
		return c, fmt.Errorf("%w: give one of a JWKS, a certificate or a tls_client_auth identity", ErrInvalidInput)
	case s.TLSIdentity.set():
		a, err := s.TLSIdentity.check(now)
		if err != nil {
			return c, err
		}
		c.method, c.tls = TLSClientAuth, a
	case s.JWKS != "":
		ks, err := ParseKeySet([]byte(s.JWKS))
		if err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		c.method, c.keys = PrivateKeyJWT, ks
	case s.CertPEM != "":
		cert, err := ParseCertPEM([]byte(s.CertPEM))
		if err != nil {
			return c, fmt.Errorf("%w: %w", ErrInvalidInput, err)
		}
		if now.After(cert.NotAfter) {
			return c, fmt.Errorf("%w: %w: certificate expired", ErrInvalidInput, ErrInvalidCert)
		}
		c.method, c.cert = SelfSignedTLS, CertThumbprint(cert)
	default:
		return c, fmt.Errorf("%w: a client needs a JWKS, a certificate or a tls_client_auth identity", ErrInvalidInput)
	}
	return c, nil
}

func checkName(s string) error {
	if s == "" || len(s) > MaxNameLen || !utf8.ValidString(s) {
		return fmt.Errorf("%w: name must be 1-%d bytes of UTF-8", ErrInvalidInput, MaxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Errorf("%w: name contains a control character", ErrInvalidInput)
		}
	}
	return nil
}

func checkScopes(in []string) ([]string, error) {
	if len(in) == 0 || len(in) > MaxScopes {
		return nil, fmt.Errorf("%w: want 1 to %d scopes", ErrInvalidInput, MaxScopes)
	}
	out := slices.Clone(in)
	slices.Sort(out)
	for i, s := range out {
		if !scopeRE.MatchString(s) {
			return nil, fmt.Errorf("%w: scope %q is not [a-z][a-z0-9:._-]{0,63}", ErrInvalidInput, truncate(s))
		}
		if i > 0 && out[i-1] == s {
			return nil, fmt.Errorf("%w: duplicate scope %q", ErrInvalidInput, s)
		}
	}
	return out, nil
}

// ParseCertPEM parses exactly one PEM CERTIFICATE block.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	if len(b) > MaxCertPEMLen {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidCert, len(b), MaxCertPEMLen)
	}
	blk, rest := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrInvalidCert)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, fmt.Errorf("%w: more than one PEM block", ErrInvalidCert)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidCert, err)
	}
	return c, nil
}

// CertThumbprint is the RFC 8705 x5t#S256 value: base64url SHA-256 of the DER
// certificate.
func CertThumbprint(c *x509.Certificate) string {
	d := sha256.Sum256(c.Raw)
	return b64.EncodeToString(d[:])
}

// newID returns an opaque random id with a type prefix (130 random bits).
func newID(prefix string) string { return prefix + strings.ToLower(rand.Text()) }

// Registry manages tenants and API clients. Every change appends an audit
// entry in the same transaction.
type Registry struct {
	db    *store.DB
	audit Auditor
	now   func() time.Time
}

// NewRegistry returns a Registry over db that audits to a.
func NewRegistry(db *store.DB, a Auditor) *Registry {
	return &Registry{db: db, audit: a, now: time.Now}
}

// CreateTenant registers a tenant. Names are unique (ErrConflict).
func (r *Registry) CreateTenant(ctx context.Context, actor Actor, name string) (Tenant, error) {
	if err := checkName(name); err != nil {
		return Tenant{}, err
	}
	t := Tenant{ID: newID("tn_"), Name: name, Status: StatusActive, CreatedAt: r.now().UTC().Truncate(time.Microsecond)}
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO tenants (id, name, status, created_at) VALUES (?, ?, ?, ?)`,
			t.ID, t.Name, t.Status, store.Micros(t.CreatedAt)); err != nil {
			return mapErr(err)
		}
		_, err := r.audit.Append(ctx, tx, actor.entry("tenant.create", t.ID, t.ID, nil))
		return err
	})
	if err != nil {
		return Tenant{}, err
	}
	return t, nil
}

// Tenant returns one tenant.
func (r *Registry) Tenant(ctx context.Context, id string) (Tenant, error) {
	var t Tenant
	var created int64
	err := r.db.QueryRow(ctx, `SELECT id, name, status, created_at FROM tenants WHERE id = ?`, id).
		Scan(&t.ID, &t.Name, &t.Status, &created)
	if err != nil {
		return Tenant{}, mapErr(err)
	}
	t.CreatedAt = store.FromMicros(created)
	return t, nil
}

// ListTenants returns all tenants by creation time.
func (r *Registry) ListTenants(ctx context.Context) ([]Tenant, error) {
	rows, err := r.db.Query(ctx, `SELECT id, name, status, created_at FROM tenants ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Tenant
	for rows.Next() {
		var t Tenant
		var created int64
		if err := rows.Scan(&t.ID, &t.Name, &t.Status, &created); err != nil {
			return nil, err
		}
		t.CreatedAt = store.FromMicros(created)
		out = append(out, t)
	}
	return out, rows.Err()
}

// CreateClientTx creates a client of tenantID inside tx and audits it. It is
// meant to run as the executor of an approved "client.create" request (dual
// control), so it takes the approval's transaction; there is deliberately no
// variant that opens its own.
func (r *Registry) CreateClientTx(ctx context.Context, tx *store.Tx, actor Actor, tenantID string, spec ClientSpec) (Client, error) {
	now := r.now().UTC().Truncate(time.Microsecond)
	cs, err := spec.check(now)
	if err != nil {
		return Client{}, err
	}
	var status string
	if err := tx.QueryRow(ctx, `SELECT status FROM tenants WHERE id = ?`, tenantID).Scan(&status); err != nil {
		return Client{}, mapErr(err)
	}
	if status != StatusActive {
		return Client{}, fmt.Errorf("%w: tenant is %s", ErrInvalidInput, status)
	}
	c := Client{
		ID: newID("cl_"), TenantID: tenantID, Name: cs.name, Method: cs.method, Scopes: cs.scopes,
		Keys: cs.keys, CertSHA256: cs.cert, TLS: cs.tls, Status: StatusActive, CreatedAt: now,
	}
	cred := cs.columns()
	if _, err := tx.Exec(ctx, `INSERT INTO api_clients (id, tenant_id, name, auth_method, scopes, jwks, cert_sha256, tls_name_kind, tls_name, tls_ca_pem, status, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.TenantID, c.Name, string(c.Method), strings.Join(c.Scopes, " "), cred[0], cred[1], cred[2], cred[3], cred[4], c.Status, store.Micros(now)); err != nil {
		return Client{}, mapErr(err)
	}
	details := map[string]string{"method": string(c.Method), "scopes": strings.Join(c.Scopes, " ")}
	if c.TLS != nil {
		details["tls_name_kind"] = c.TLS.Kind
		details["tls_ca_sha256"] = CertThumbprint(c.TLS.CA)
	}
	if _, err := r.audit.Append(ctx, tx, actor.entry("client.create", tenantID, c.ID, details)); err != nil {
		return Client{}, err
	}
	return c, nil
}

// columns are the credential columns jwks, cert_sha256, tls_name_kind,
// tls_name, tls_ca_pem of a checked spec (NULL where not used).
func (cs checkedSpec) columns() [5]any {
	var out [5]any
	if cs.keys != nil {
		out[0] = cs.keys.JSON()
	}
	if cs.cert != "" {
		out[1] = cs.cert
	}
	if cs.tls != nil {
		out[2], out[3], out[4] = cs.tls.Kind, cs.tls.Name, cs.tls.CAPEM()
	}
	return out
}

const clientCols = `id, tenant_id, name, auth_method, scopes, jwks, cert_sha256, tls_name_kind, tls_name, tls_ca_pem, status, created_at`

type scanner interface{ Scan(...any) error }

func scanClient(s scanner) (Client, error) {
	var (
		c              Client
		method, scopes string
		jwks, cert     *string
		tlsKind        *string
		tlsName, tlsCA *string
		created        int64
	)
	if err := s.Scan(&c.ID, &c.TenantID, &c.Name, &method, &scopes, &jwks, &cert, &tlsKind, &tlsName, &tlsCA, &c.Status, &created); err != nil {
		return Client{}, mapErr(err)
	}
	c.Method = AuthMethod(method)
	c.Scopes = strings.Fields(scopes)
	c.CreatedAt = store.FromMicros(created)
	if jwks != nil {
		ks, err := ParseKeySet([]byte(*jwks))
		if err != nil {
			return Client{}, fmt.Errorf("tenant: stored JWKS of client %s: %w", c.ID, err)
		}
		c.Keys = ks
	}
	if cert != nil {
		c.CertSHA256 = *cert
	}
	if tlsKind != nil && tlsName != nil && tlsCA != nil {
		a, err := newTLSAuth(*tlsKind, *tlsName, *tlsCA)
		if err != nil {
			return Client{}, fmt.Errorf("tenant: stored tls_client_auth identity of client %s: %w", c.ID, err)
		}
		c.TLS = a
	}
	return c, nil
}

// Client returns a client of tenantID. A client of another tenant is
// ErrNotFound.
func (r *Registry) Client(ctx context.Context, tenantID, clientID string) (Client, error) {
	return scanClient(r.db.QueryRow(ctx, `SELECT `+clientCols+` FROM api_clients WHERE tenant_id = ? AND id = ?`, tenantID, clientID))
}

// ListClients returns the clients of tenantID.
func (r *Registry) ListClients(ctx context.Context, tenantID string) ([]Client, error) {
	rows, err := r.db.Query(ctx, `SELECT `+clientCols+` FROM api_clients WHERE tenant_id = ? ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DisableClient disables a client of tenantID and revokes its access tokens,
// in one audited transaction.
func (r *Registry) DisableClient(ctx context.Context, actor Actor, tenantID, clientID string) error {
	return r.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE api_clients SET status = ? WHERE tenant_id = ? AND id = ? AND status = ?`,
			StatusDisabled, tenantID, clientID, StatusActive)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		res, err = tx.Exec(ctx, `DELETE FROM access_tokens WHERE tenant_id = ? AND client_id = ?`, tenantID, clientID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		_, err = r.audit.Append(ctx, tx, actor.entry("client.disable", tenantID, clientID,
			map[string]string{"tokens_revoked": fmt.Sprint(n)}))
		return err
	})
}

// EnableClient re-enables a disabled client of tenantID (audited). Its
// old access tokens stay revoked; it must obtain new ones. A client that is
// not disabled is ErrNotFound.
func (r *Registry) EnableClient(ctx context.Context, actor Actor, tenantID, clientID string) error {
	return r.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE api_clients SET status = ? WHERE tenant_id = ? AND id = ? AND status = ?`,
			StatusActive, tenantID, clientID, StatusDisabled)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		_, err = r.audit.Append(ctx, tx, actor.entry("client.enable", tenantID, clientID, nil))
		return err
	})
}

// mapErr turns store sentinels into this package's.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return ErrConflict
	}
	return err
}

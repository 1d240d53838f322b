package credential

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Errors with a documented contract (web maps them to problems).
var (
	ErrNotFound     = errors.New("credential: not found")
	ErrInvalidInput = errors.New("credential: invalid input")
	ErrState        = errors.New("credential: wrong state")
	ErrShredded     = errors.New("credential: the customer's data was erased")
	ErrNoTemplate   = errors.New("credential: the customer has no face template to carry")
	ErrForbidden    = errors.New("credential: not allowed")
	ErrDeviceAuth   = errors.New("credential: branch device request not authenticated")
	ErrDeviceLog    = errors.New("credential: branch log does not verify")
)

// Customer is what issuance needs to know of a tenant's customer
// (package ekyc's customer, adapted by the wiring).
type Customer struct {
	ID       string
	TenantID string
	Shredded bool
}

// Customers finds a tenant's customer (ErrNotFound for another tenant's).
type Customers interface {
	Customer(ctx context.Context, tenant, id string) (Customer, error)
}

// Templates gives the customer's face template for a credential: the one
// enrolled from the approved eKYC session's live selfies (package txauth
// enrols and seals it, enrolling it first if needed; the read is audited
// there). ErrNoTemplate when the customer has none (method ワ).
type Templates interface {
	CredentialTemplate(ctx context.Context, a Actor, tenant, customer string) (face.Template, error)
}

// FaceReauths reports when the customer last passed a face
// re-authentication in the given confirmation (package txauth);
// ErrNotFound if that confirmation is not the customer's or its face
// factor was not satisfied.
type FaceReauths interface {
	FaceReauthenticated(ctx context.Context, tenant, confirmation, customer string) (time.Time, error)
}

// Actor is who acts, for the audit log.
type Actor struct {
	Kind      string // audit.ActorClient, ActorStaff, ActorSystem
	ID        string
	RequestID string
}

// Config wires a Service.
type Config struct {
	DB     *store.DB
	Audit  *audit.Log
	Vault  *vault.Vault
	Issuer *IssuerKey
	// IssuerName is the credentials' "iss" (short: it is in every QR code).
	IssuerName string
	Customers  Customers
	Templates  Templates
	// Reauths enables the face re-authentication basis; nil: eKYC only.
	Reauths FaceReauths
	// Notifier delivers lifecycle webhooks; nil: a request naming a
	// webhook is refused.
	Notifier Notifier
	// TTL is a credential's default validity (default 90 days), StatusTTL
	// how long a branch may use one status list offline (default 72 h).
	TTL, StatusTTL time.Duration
	Now            func() time.Time
	Rand           io.Reader
}

// Service issues, revokes and reissues credentials, keeps the tenants'
// status lists and branch keys, and enrols branch devices.
type Service struct{ cfg Config }

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Vault == nil || cfg.Issuer == nil || cfg.Customers == nil || cfg.Templates == nil {
		return nil, errors.New("credential: DB, Audit, Vault, Issuer, Customers and Templates are required")
	}
	if !textOK(cfg.IssuerName, maxIDText) {
		return nil, errors.New("credential: IssuerName must be 1-128 printable characters")
	}
	if cfg.TTL == 0 {
		cfg.TTL = 90 * 24 * time.Hour
	}
	if cfg.StatusTTL == 0 {
		cfg.StatusTTL = 72 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &Service{cfg: cfg}, nil
}

// IssuerKeys returns the issuer's public keys (for branches and relying
// verifiers).
func (s *Service) IssuerKeys() ([]PublicKeyJSON, error) {
	k, err := ExportKey(s.cfg.Issuer.Public())
	return []PublicKeyJSON{k}, err
}

// IssuerName is the credentials' "iss".
func (s *Service) IssuerName() string { return s.cfg.IssuerName }

func (s *Service) random(n int) ([]byte, error) {
	b := make([]byte, n)
	_, err := io.ReadFull(s.cfg.Rand, b)
	return b, err
}

func (s *Service) newID(prefix string) (string, error) {
	b, err := s.random(16)
	if err != nil {
		return "", err
	}
	return prefix + strings.ToLower(b32(b)), nil
}

func (s *Service) record(ctx context.Context, tx *store.Tx, a Actor, tenant, action, object, outcome string, details map[string]string) error {
	kind := a.Kind
	if kind == "" {
		kind = audit.ActorSystem
	}
	_, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{ActorKind: kind, ActorID: a.ID, TenantID: tenant, Action: action,
		Object: object, RequestID: a.RequestID, Outcome: outcome, Details: details})
	return err
}

// Revocation reasons.
const (
	ReasonLostPhone     = "lost_phone"
	ReasonContractEnded = "contract_ended"
	ReasonShredded      = "subject_shredded"
	ReasonReissued      = "reissued"
	ReasonOther         = "other"
)

// Reasons a client or staff member may give (ReasonShredded and
// ReasonReissued are set by the service itself).
var clientReasons = []string{ReasonLostPhone, ReasonContractEnded, ReasonOther}

// Bases of issuance.
const (
	BasisEKYC       = "ekyc"
	BasisFaceReauth = "face_reauth"
)

// maxReauthAge is how recent a face re-authentication must be to issue on it.
const maxReauthAge = 15 * time.Minute

// Record is a credential as the server keeps it (no template, no personal data).
type Record struct {
	ID           string    `json:"id"`
	TenantID     string    `json:"-"`
	CustomerID   string    `json:"customer"`
	StatusIndex  uint32    `json:"status_index"`
	Model        string    `json:"model"`
	Basis        string    `json:"basis"`
	BasisRef     string    `json:"basis_ref,omitempty"`
	KeyVersion   uint32    `json:"branch_key_version"`
	IssuedAt     time.Time `json:"issued_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	RevokedAt    time.Time `json:"-"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
	ReplacedBy   string    `json:"replaced_by,omitempty"`
	// Webhook receives the credential's lifecycle events ("": none).
	Webhook string `json:"webhook,omitempty"`
}

// State is "active", "expired" or "revoked" at now.
func (r *Record) State(now time.Time) string {
	switch {
	case !r.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(r.ExpiresAt):
		return "expired"
	}
	return "active"
}

// IssueRequest asks for a credential.
type IssueRequest struct {
	Customer string
	// Basis is BasisEKYC (the customer's approved session) or
	// BasisFaceReauth with Confirmation, a txauth confirmation in which the
	// customer passed face re-authentication within the last 15 minutes.
	Basis        string
	Confirmation string
	// TTL overrides the default validity (1 hour to 400 days).
	TTL time.Duration
	// Webhook receives the credential's issuance and revocation events
	// (absolute https URL; "": none). A reissued credential keeps its
	// predecessor's.
	Webhook string
}

// Credential is a newly issued credential: its record, the QR text and
// the rendered QR code.
type Credential struct {
	Record
	Text string
	QR   *QR
}

const recordCols = `id, tenant_id, customer_id, status_index, model, basis, basis_ref, key_version, issued_at, expires_at, revoked_at, revoke_reason, replaced_by, webhook`

type rowQuerier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

func scanRecord(row interface{ Scan(...any) error }) (*Record, error) {
	var (
		r                          Record
		idx, ver                   int64
		issued, expires, revokedAt int64
	)
	if err := row.Scan(&r.ID, &r.TenantID, &r.CustomerID, &idx, &r.Model, &r.Basis, &r.BasisRef, &ver, &issued, &expires, &revokedAt, &r.RevokeReason, &r.ReplacedBy, &r.Webhook); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	r.StatusIndex, r.KeyVersion = uint32(idx), uint32(ver)
	r.IssuedAt, r.ExpiresAt = store.FromMicros(issued), store.FromMicros(expires)
	if revokedAt != 0 {
		r.RevokedAt = store.FromMicros(revokedAt)
	}
	return &r, nil
}

func getRecord(ctx context.Context, q rowQuerier, tenant, id string) (*Record, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanRecord(q.QueryRow(ctx, `SELECT `+recordCols+` FROM credentials WHERE id = ? AND tenant_id = ?`, id, tenant))
}

// Get returns the tenant's credential (ErrNotFound for another tenant's).
func (s *Service) Get(ctx context.Context, tenant, id string) (*Record, error) {
	return getRecord(ctx, s.cfg.DB, tenant, id)
}

// List returns the customer's credentials, newest first.
func (s *Service) List(ctx context.Context, tenant, customer string) ([]Record, error) {
	rows, err := s.cfg.DB.Query(ctx, `SELECT `+recordCols+` FROM credentials WHERE tenant_id = ? AND customer_id = ? ORDER BY issued_at DESC, id`, tenant, customer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// Issue issues a credential for the tenant's customer.
func (s *Service) Issue(ctx context.Context, a Actor, tenant string, req IssueRequest) (*Credential, error) {
	return s.issue(ctx, a, tenant, req, "", "")
}

// issue signs a credential; replaces and reason are a reissue's.
func (s *Service) issue(ctx context.Context, a Actor, tenant string, req IssueRequest, replaces, reason string) (*Credential, error) {
	ttl := req.TTL
	if ttl == 0 {
		ttl = s.cfg.TTL
	}
	if ttl < time.Hour || ttl > 400*24*time.Hour {
		return nil, fmt.Errorf("%w: validity must be 1 hour to 400 days", ErrInvalidInput)
	}
	if err := checkWebhook(req.Webhook); err != nil {
		return nil, err
	}
	if req.Webhook != "" && s.cfg.Notifier == nil {
		return nil, fmt.Errorf("%w: webhooks are not configured on this server", ErrInvalidInput)
	}
	cu, err := s.cfg.Customers.Customer(ctx, tenant, req.Customer)
	if err != nil {
		return nil, err
	}
	if cu.Shredded {
		return nil, ErrShredded
	}
	basisRef := ""
	switch req.Basis {
	case BasisEKYC, "":
		req.Basis = BasisEKYC
	case BasisFaceReauth:
		if s.cfg.Reauths == nil {
			return nil, fmt.Errorf("%w: face re-authentication is not configured", ErrInvalidInput)
		}
		at, err := s.cfg.Reauths.FaceReauthenticated(ctx, tenant, req.Confirmation, cu.ID)
		if err != nil {
			return nil, err
		}
		if s.cfg.Now().Sub(at) > maxReauthAge {
			return nil, fmt.Errorf("%w: the face re-authentication is older than %v", ErrState, maxReauthAge)
		}
		basisRef = req.Confirmation
	default:
		return nil, fmt.Errorf("%w: basis must be %q or %q", ErrInvalidInput, BasisEKYC, BasisFaceReauth)
	}
	tpl, err := s.cfg.Templates.CredentialTemplate(ctx, a, tenant, cu.ID)
	if err != nil {
		return nil, err
	}
	compact, err := Compact(tpl)
	if err != nil {
		return nil, err
	}
	cti, err := s.random(ctiLen)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().Truncate(time.Second)
	var out *Credential
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		bk, err := s.branchPublic(ctx, tx, tenant)
		if err != nil {
			return err
		}
		idx, err := s.nextIndex(ctx, tx, tenant)
		if err != nil {
			return err
		}
		sub, err := s.pseudonym(ctx, tx, tenant, cu.ID)
		if err != nil {
			return err
		}
		c := Claims{Issuer: s.cfg.IssuerName, Subject: sub, IssuedAt: now.Unix(), Expiry: now.Add(ttl).Unix(),
			CTI: cti, Tenant: tenant, Model: tpl.Model(), StatusIndex: idx}
		is, err := Sign(s.cfg.Issuer, c, bk.pub, bk.version, compact)
		if err != nil {
			return err
		}
		qr, err := RenderQR(is.Text)
		if err != nil {
			return err
		}
		r := Record{ID: c.ID(), TenantID: tenant, CustomerID: cu.ID, StatusIndex: idx, Model: c.Model, Basis: req.Basis,
			BasisRef: basisRef, KeyVersion: bk.version, IssuedAt: now, ExpiresAt: time.Unix(c.Expiry, 0), Webhook: req.Webhook}
		if _, err := tx.Exec(ctx, `INSERT INTO credentials (`+recordCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', '', ?)`,
			r.ID, tenant, cu.ID, int64(idx), r.Model, r.Basis, r.BasisRef, int64(r.KeyVersion), store.Micros(now), store.Micros(r.ExpiresAt), r.Webhook); err != nil {
			return err
		}
		if replaces != "" {
			if err := s.revokeIn(ctx, tx, a, tenant, replaces, ReasonReissued, r.ID); err != nil {
				return err
			}
		}
		if err := s.announce(ctx, tx, &r, Event{Type: EventIssued, At: now, Basis: r.Basis, ExpiresAt: r.ExpiresAt, Replaces: replaces}); err != nil {
			return err
		}
		out = &Credential{Record: r, Text: is.Text, QR: qr}
		return s.record(ctx, tx, a, tenant, "credential.issue", r.ID, audit.OutcomeOK, map[string]string{
			"customer": cu.ID, "basis": r.Basis, "model": r.Model, "status_index": fmt.Sprint(idx),
			"qr_version": fmt.Sprint(qr.Version), "bytes": fmt.Sprint(len(is.COSE)), "replaces": replaces, "reason": reason})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) nextIndex(ctx context.Context, tx *store.Tx, tenant string) (uint32, error) {
	if err := s.ensureTenant(ctx, tx, tenant); err != nil {
		return 0, err
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT next_index FROM credential_tenants WHERE tenant_id = ?`, tenant).Scan(&n); err != nil {
		return 0, err
	}
	if n >= MaxStatusBits {
		return 0, fmt.Errorf("%w: the tenant's status list is full", ErrState)
	}
	if _, err := tx.Exec(ctx, `UPDATE credential_tenants SET next_index = next_index + 1 WHERE tenant_id = ?`, tenant); err != nil {
		return 0, err
	}
	return uint32(n), nil
}

func (s *Service) ensureTenant(ctx context.Context, tx *store.Tx, tenant string) error {
	_, err := tx.Exec(ctx, `INSERT INTO credential_tenants (tenant_id, next_index, seq) VALUES (?, 0, 0) ON CONFLICT (tenant_id) DO NOTHING`, tenant)
	return err
}

func (s *Service) pseudonym(ctx context.Context, tx *store.Tx, tenant, customer string) (string, error) {
	var sub string
	err := tx.QueryRow(ctx, `SELECT subject FROM credential_subjects WHERE tenant_id = ? AND customer_id = ?`, tenant, customer).Scan(&sub)
	if err == nil {
		return sub, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	b, err := s.random(10)
	if err != nil {
		return "", err
	}
	sub = "sub_" + strings.ToLower(b32(b))
	_, err = tx.Exec(ctx, `INSERT INTO credential_subjects (tenant_id, customer_id, subject) VALUES (?, ?, ?)`, tenant, customer, sub)
	return sub, err
}

// Revoke ends a credential at once (reason: lost_phone, contract_ended or
// other); the next status list carries it.
func (s *Service) Revoke(ctx context.Context, a Actor, tenant, id, reason string) (*Record, error) {
	if !slices.Contains(clientReasons, reason) {
		return nil, fmt.Errorf("%w: reason must be one of %s", ErrInvalidInput, strings.Join(clientReasons, ", "))
	}
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error { return s.revokeIn(ctx, tx, a, tenant, id, reason, "") })
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, tenant, id)
}

func (s *Service) revokeIn(ctx context.Context, tx *store.Tx, a Actor, tenant, id, reason, replacedBy string) error {
	r, err := getRecord(ctx, tx, tenant, id)
	if err != nil {
		return err
	}
	if !r.RevokedAt.IsZero() {
		return fmt.Errorf("%w: already revoked", ErrState)
	}
	now := s.cfg.Now()
	res, err := tx.Exec(ctx, `UPDATE credentials SET revoked_at = ?, revoke_reason = ?, replaced_by = ? WHERE id = ? AND revoked_at = 0`,
		store.Micros(now), reason, replacedBy, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: already revoked", ErrState)
	}
	if err := s.ensureTenant(ctx, tx, tenant); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE credential_tenants SET seq = seq + 1 WHERE tenant_id = ?`, tenant); err != nil {
		return err
	}
	if err := s.announce(ctx, tx, r, Event{Type: EventRevoked, At: now.UTC().Truncate(time.Second), Reason: reason, ReplacedBy: replacedBy}); err != nil {
		return err
	}
	return s.record(ctx, tx, a, tenant, "credential.revoke", id, audit.OutcomeOK, map[string]string{"reason": reason, "replaced_by": replacedBy})
}

// Why a credential is reissued (the audit entry records it; the old
// credential's revocation reason is ReasonReissued).
const (
	ReissuePhoneReplaced = "phone_replaced"     // the customer has a new phone
	ReissueDeviceRemoved = "branch_key_rotated" // a branch device was lost or removed (docs/credential.md)
	ReissueOther         = "other"
)

// ReissueReasons are the reasons staff may give for a reissue.
var ReissueReasons = []string{ReissuePhoneReplaced, ReissueDeviceRemoved, ReissueOther}

// Reissue issues a new credential for the same customer and revokes the
// old one (reason reissued) in the same transaction, with
// the webhook announcements issuance makes. reason is one of
// ReissueReasons, or empty where none was asked (the API). The new
// credential's basis is the customer's approved eKYC session, whatever
// the old one's was: a face re-authentication basis is valid only for
// maxReauthAge after the confirmation, long past by a reissue.
func (s *Service) Reissue(ctx context.Context, a Actor, tenant, id, reason string) (*Credential, error) {
	if reason != "" && !slices.Contains(ReissueReasons, reason) {
		return nil, fmt.Errorf("%w: reissue reason must be one of %s", ErrInvalidInput, strings.Join(ReissueReasons, ", "))
	}
	r, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !r.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: a revoked credential is not reissued; issue a new one", ErrState)
	}
	return s.issue(ctx, a, tenant, IssueRequest{Customer: r.CustomerID, Basis: BasisEKYC, Webhook: r.Webhook}, id, reason)
}

// RevokeShredded revokes (reason subject_shredded) every unrevoked
// credential of the tenant's customers whose data was erased. Run before
// each status list is signed, and periodically.
func (s *Service) RevokeShredded(ctx context.Context, tenant string) (int, error) {
	rows, err := s.cfg.DB.Query(ctx, `SELECT DISTINCT customer_id FROM credentials WHERE tenant_id = ? AND revoked_at = 0`, tenant)
	if err != nil {
		return 0, err
	}
	var customers []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return 0, err
		}
		customers = append(customers, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range customers {
		cu, err := s.cfg.Customers.Customer(ctx, tenant, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return n, err
		}
		if err == nil && !cu.Shredded {
			continue
		}
		err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
			rs, err := tx.Query(ctx, `SELECT id FROM credentials WHERE tenant_id = ? AND customer_id = ? AND revoked_at = 0`, tenant, id)
			if err != nil {
				return err
			}
			var ids []string
			for rs.Next() {
				var x string
				if err := rs.Scan(&x); err != nil {
					rs.Close()
					return err
				}
				ids = append(ids, x)
			}
			rs.Close()
			for _, x := range ids {
				if err := s.revokeIn(ctx, tx, Actor{Kind: audit.ActorSystem}, tenant, x, ReasonShredded, ""); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// StatusList signs the tenant's current status list (after revoking the
// credentials of erased customers).
func (s *Service) StatusList(ctx context.Context, tenant string) ([]byte, error) {
	if _, err := s.RevokeShredded(ctx, tenant); err != nil {
		return nil, err
	}
	var next, seq int64
	err := s.cfg.DB.QueryRow(ctx, `SELECT next_index, seq FROM credential_tenants WHERE tenant_id = ?`, tenant).Scan(&next, &seq)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	bits := make([]byte, (next+7)/8)
	rows, err := s.cfg.DB.Query(ctx, `SELECT status_index FROM credentials WHERE tenant_id = ? AND revoked_at <> 0`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var i int64
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		if i < next {
			bits[i/8] |= 1 << (i % 8)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	return SignStatusList(s.cfg.Issuer, StatusList{Issuer: s.cfg.IssuerName, Tenant: tenant, IssuedAt: now.Unix(),
		Expiry: now.Add(s.cfg.StatusTTL).Unix(), Seq: uint64(seq), Bits: bits})
}

// branch key handling

type branchKey struct {
	version uint32
	pub     *ecdh.PublicKey
}

func branchSubject(tenant string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenant, Subject: "credential-branch-keys"}
}

func branchKeyAAD(tenant string, version uint32) []byte {
	return vault.AAD("credential.branch-key", tenant, fmt.Sprint(version))
}

// branchPublic returns the tenant's current branch key, creating version 1
// on first use.
func (s *Service) branchPublic(ctx context.Context, tx *store.Tx, tenant string) (branchKey, error) {
	var (
		ver int64
		pub []byte
	)
	err := tx.QueryRow(ctx, `SELECT version, public_key FROM credential_branch_keys WHERE tenant_id = ? ORDER BY version DESC LIMIT 1`, tenant).Scan(&ver, &pub)
	if errors.Is(err, store.ErrNotFound) {
		return s.newBranchKey(ctx, tx, tenant, 1)
	} else if err != nil {
		return branchKey{}, err
	}
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return branchKey{}, err
	}
	return branchKey{version: uint32(ver), pub: pk}, nil
}

func (s *Service) newBranchKey(ctx context.Context, tx *store.Tx, tenant string, version uint32) (branchKey, error) {
	k, err := ecdh.X25519().GenerateKey(s.cfg.Rand)
	if err != nil {
		return branchKey{}, err
	}
	sealed, err := s.cfg.Vault.Seal(ctx, tx, branchSubject(tenant), branchKeyAAD(tenant, version), k.Bytes())
	if err != nil {
		return branchKey{}, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO credential_branch_keys (tenant_id, version, public_key, sealed, created_at) VALUES (?, ?, ?, ?, ?)`,
		tenant, int64(version), k.PublicKey().Bytes(), sealed, store.Micros(s.cfg.Now())); err != nil {
		return branchKey{}, err
	}
	if err := s.record(ctx, tx, Actor{Kind: audit.ActorSystem}, tenant, "credential.branch_key.create", fmt.Sprintf("branch-key/%d", version), audit.OutcomeOK, nil); err != nil {
		return branchKey{}, err
	}
	return branchKey{version: version, pub: k.PublicKey()}, nil
}

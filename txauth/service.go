package txauth

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Errors with a documented contract; test with errors.Is. Messages never
// carry personal data.
var (
	ErrInvalidInput = errors.New("txauth: invalid input")
	// ErrNoPolicy: the tenant has no transaction-authentication policy.
	ErrNoPolicy = errors.New("txauth: tenant has no policy")
	// ErrNotFound: no such object for this tenant (another tenant's
	// objects are not found either).
	ErrNotFound = errors.New("txauth: not found")
	// ErrState: the object's state does not allow the operation.
	ErrState = errors.New("txauth: wrong state")
	// ErrExpired: the confirmation or challenge has expired.
	ErrExpired = errors.New("txauth: expired")
	// ErrLocked: the card or the customer's account is locked.
	ErrLocked = errors.New("txauth: locked")
	// ErrReplay: the challenge was already answered (every challenge is
	// single use).
	ErrReplay = errors.New("txauth: challenge already answered")
	// ErrToken: the confirmation page's token is invalid or the
	// confirmation is over.
	ErrToken = errors.New("txauth: invalid confirmation token")
	// ErrShredded: the customer's data was erased.
	ErrShredded = errors.New("txauth: the customer's data was erased")
	// ErrForbidden: the staff member lacks the role, or is the one who
	// asked (dual control).
	ErrForbidden = errors.New("txauth: forbidden")
	// ErrFactor: the factor is not required by this confirmation, not
	// available for this customer, or refused (legacy after activation or
	// deadline).
	ErrFactor = errors.New("txauth: factor not available")
	// ErrWrongAnswer: an image-card answer was wrong. The error never says
	// which cell; *AnswerError carries the attempts left.
	ErrWrongAnswer = errors.New("txauth: wrong answer")
)

// Customers is what txauth needs of package ekyc (*ekyc.Service): the
// verified customers and their re-verification.
type Customers interface {
	Customer(ctx context.Context, tenant, id string) (*ekyc.Customer, error)
	ReverifiedSince(ctx context.Context, tenant, customerID, sessionID string, since time.Time) (bool, error)
}

// Signer signs results as compact JWS (*ekyc.Signer, whose key set is
// published at /.well-known/jwks.json).
type Signer interface {
	SignTyped(typ string, payload []byte) (string, error)
	JWKS() []byte
}

// Sealer seals what belongs to a customer under the customer's data subject
// (*vault.Vault).
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

// Auditor appends an audit entry in the caller's transaction (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Notification is a signed event for a tenant: a confirmation's result, a
// monitoring alert, a card warning, or a notice the tenant forwards to the
// customer's own channel. Payload is a compact JWS; it carries opaque ids
// and hashes, never personal data in clear.
type Notification struct {
	TenantID string
	EventID  string // stable: receivers deduplicate on it
	Type     string // "txauth.<what>": the notify event kind
	URL      string
	Payload  string
	// Subject is whose data key seals the queued body: the customer's
	// (shredding the customer makes the event undeliverable), or the
	// tenant's own for events about no customer.
	Subject vault.SubjectRef
}

// Notifier queues a notification inside the caller's transaction, so that
// it is sent if and only if the change it reports commits (outbox). The
// cmd/madoguchi wiring adapts package notify (RFC 9421-signed webhooks,
// retries, dead letters) to it.
type Notifier interface {
	Notify(ctx context.Context, tx *store.Tx, n Notification) error
}

// Digester keys the digests of what a customer confirmed before (payees,
// devices, networks): HMAC-SHA256 under a server secret (*fraud.Key, the
// one reuse secret of the server), never a plain hash, so that a stolen
// database cannot be tested against guessed account numbers, device ids or
// addresses. The digest depends on the label and on every part, each
// length-prefixed.
type Digester interface {
	Digest(label string, parts ...string) []byte
}

// Actor is who performs an operation, for audit entries.
type Actor struct {
	Kind      string // audit.ActorClient, audit.ActorStaff or audit.ActorSystem
	ID        string
	RequestID string
}

// System is the actor for the service's own jobs.
var System = Actor{Kind: audit.ActorSystem}

// pageActor is the confirmation page (the customer, holding the page token).
var pageActor = Actor{Kind: audit.ActorSystem, ID: "confirm-page"}

// Config wires a Service; every dependency is required.
type Config struct {
	DB        *store.DB
	Audit     Auditor
	Vault     Sealer
	Customers Customers
	Signer    Signer
	Notifier  Notifier
	// Digests keys the known payees, devices and networks (required).
	Digests Digester
	// PublicURL is the server's external base URL (confirmation pages,
	// result issuer).
	PublicURL string
	Logger    *slog.Logger
	Now       func() time.Time
	Rand      io.Reader
	// JPKI verifies card signatures over transactions (jpki_sign) and
	// JPKIReauth is eKYC's re-authentication and the customers' signing
	// keys (jpki_auth, jpki_sign); nil disables those factors.
	JPKI       JPKIVerifier
	JPKIReauth JPKIReauth
	// Face and Selfies enable face re-authentication (the server's face
	// engine; eKYC's approved selfies); nil disables the factor.
	Face    FaceEngine
	Selfies SelfieSource
	// Development enables HolderPicks, the development kit's simulated card
	// holder. Production wiring never sets it.
	Development bool
}

// Service is transaction authentication. It is safe for concurrent use.
type Service struct {
	cfg Config
	db  *store.DB
	log *slog.Logger
	// rp is the WebAuthn relying party (nil, with rpErr, when the public
	// URL cannot carry passkeys).
	rp    *webauthn.WebAuthn
	rpErr error
}

// New returns a Service; it fails closed on a missing dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil, cfg.Audit == nil, cfg.Vault == nil:
		return nil, errors.New("txauth: store, audit log and vault are required")
	case cfg.Customers == nil:
		return nil, errors.New("txauth: the customer directory (ekyc) is required")
	case cfg.Signer == nil:
		return nil, errors.New("txauth: a result signer is required")
	case cfg.Notifier == nil:
		return nil, errors.New("txauth: a notifier is required")
	case cfg.Digests == nil:
		return nil, errors.New("txauth: a digest key for known payees, devices and networks is required")
	case !strings.HasPrefix(cfg.PublicURL, "https://") && !strings.HasPrefix(cfg.PublicURL, "http://"):
		return nil, errors.New("txauth: PublicURL must be an http(s) URL")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := pictureImage(0); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger}
	s.rp, s.rpErr = relyingParty(cfg.PublicURL)
	if s.rpErr != nil {
		s.rp = nil
		cfg.Logger.Warn("txauth: passkeys disabled", "err", s.rpErr)
	}
	return s, nil
}

// JWKS is the key set results are signed with.
func (s *Service) JWKS() []byte { return s.cfg.Signer.JWKS() }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

func (s *Service) random(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
		return nil, err
	}
	return b, nil
}

func (s *Service) newID(prefix string) (string, error) {
	b, err := s.random(16)
	if err != nil {
		return "", err
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

func (s *Service) record(ctx context.Context, tx *store.Tx, a Actor, tenant, action, object, outcome string, details map[string]string) error {
	kind := a.Kind
	if kind == "" {
		kind = audit.ActorSystem
	}
	_, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{
		ActorKind: kind, ActorID: a.ID, TenantID: tenant, Action: action, Object: object,
		RequestID: a.RequestID, Outcome: outcome, Details: details,
	})
	return err
}

// customer returns the tenant's live customer (ErrNotFound, ErrShredded).
func (s *Service) customer(ctx context.Context, tenant, id string) (*ekyc.Customer, error) {
	c, err := s.cfg.Customers.Customer(ctx, tenant, id)
	if errors.Is(err, ekyc.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if c.Shredded() {
		return nil, ErrShredded
	}
	return c, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func validID(id string) bool { return id != "" && len(id) <= 64 }

// customerIn is customer read through q (a transaction).
func customerIn(ctx context.Context, q rowQuerier, tenant, id string) (*ekyc.Customer, error) {
	c, err := ekyc.CustomerIn(ctx, q, tenant, id)
	if errors.Is(err, ekyc.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if c.Shredded() {
		return nil, ErrShredded
	}
	return c, nil
}

// subjectOf is whose data key seals a notification about customer: the
// customer's subject, or the tenant's own for events about no customer (or
// a customer already erased). q is the caller's transaction.
func (s *Service) subjectOf(ctx context.Context, q rowQuerier, tenant, customer string) (vault.SubjectRef, error) {
	if customer != "" {
		cu, err := customerIn(ctx, q, tenant, customer)
		if err == nil {
			return cu.Subject(), nil
		}
		if !errors.Is(err, ErrShredded) {
			return vault.SubjectRef{}, err
		}
	}
	return vault.SubjectRef{Tenant: tenant, Subject: "tenant/" + tenant}, nil
}

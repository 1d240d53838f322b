package ekyc

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/blob"
	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/notify"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Auditor appends an audit entry in the caller's transaction (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Sealer is the part of *vault.Vault the service uses.
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
	SealBlob(ctx context.Context, s vault.SubjectRef, aad, plaintext []byte) (blob.Ref, error)
	OpenBlob(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad []byte, r blob.Ref) ([]byte, error)
	Shred(ctx context.Context, tx *store.Tx, s vault.SubjectRef, by vault.Actor) error
}

// Attacher attaches a stored blob to a record in the record's transaction
// (*blob.Store).
type Attacher interface {
	Attach(ctx context.Context, tx *store.Tx, r blob.Ref, tenant, owner string) error
}

// FaceEngine analyses one encoded image (JPEG, PNG, JPEG 2000 where the
// engine decodes it) and decides 1:1 scores with its calibration. The
// cmd/madoguchi wiring adapts *face.Engine. AnalyzeImage returns
// face.ErrBusy when saturated, and an error wrapping face/imageio's
// ErrFormat, ErrTruncated, ErrCorrupt or ErrTooLarge when img cannot be
// decoded (a decision reason, never a failed decision; see images.go). An
// engine may also implement ImageAnalyzer (ホ document checks) and
// CalibrationReporter (without it no face match is automatic).
type FaceEngine interface {
	AnalyzeImage(ctx context.Context, img []byte) ([]face.Face, error)
	Model() string
	Decide(s face.Score) (face.Decision, error)
}

// ChipVerifier verifies raw chip files of a document kind; challenge is the
// session nonce (used for active authentication where the kind has it).
type ChipVerifier interface {
	Verify(ctx context.Context, kind document.Kind, files map[string][]byte, challenge []byte) (*document.Evidence, error)
}

// Actor is who performs an operation, for audit entries.
type Actor struct {
	Kind      string // audit.ActorClient, audit.ActorStaff or audit.ActorSystem
	ID        string
	RequestID string
}

// System is the actor for the service's own jobs.
var System = Actor{Kind: audit.ActorSystem}

// Config wires a Service. Every dependency is required: a missing face
// engine, chip verifier, signer or vault is a startup error.
type Config struct {
	DB     *store.DB
	Audit  Auditor
	Vault  Sealer
	Blobs  Attacher
	Face   FaceEngine
	Chips  ChipVerifier
	Signer *Signer
	// ChipReuseKey keys the chip-reuse digests (chipreuse.go); required.
	ChipReuseKey *ReuseKey
	// Fraud runs the cross-session fraud checks (fraud.go); nil runs none
	// (the server always wires package fraud).
	Fraud FraudChecks
	// JPKI verifies method ワ signatures; nil disables ワ (ErrJPKIDisabled).
	JPKI JPKI
	// PublicURL is the server's external base URL (capture URLs, issuer).
	PublicURL string
	// Notify queues result webhooks (package notify signs, delivers,
	// retries and keeps dead letters).
	Notify Notifier
	// AllowInsecureWebhooks permits http:// webhook URLs (development,
	// tests); the notifier must then allow non-public addresses too.
	// Otherwise webhooks go only to https URLs on public addresses.
	AllowInsecureWebhooks bool
	Logger                *slog.Logger
	Now                   func() time.Time
	Rand                  io.Reader
	// ClaimTTL bounds a reviewer's claim (default 15 minutes).
	ClaimTTL time.Duration
	// Reviewers says whether a claim's holder is still signed in; nil:
	// claims last ClaimTTL whatever happens to the holder's staff session.
	Reviewers ReviewerPresence
	// DecodeBudget bounds the decoded image bytes all decisions hold at
	// once (imagebudget.go; default DefaultDecodeBudget).
	DecodeBudget int64
}

// Service is the eKYC domain: sessions, captures, decisions, review,
// results, records and retention. It is safe for concurrent use.
type Service struct {
	cfg    Config
	db     *store.DB
	log    *slog.Logger
	images *imageBudget
}

// New returns a Service; it fails closed on any missing dependency.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.DB == nil, cfg.Audit == nil, cfg.Vault == nil, cfg.Blobs == nil:
		return nil, errors.New("ekyc: store, audit log, vault and blob store are required")
	case cfg.Face == nil:
		return nil, errors.New("ekyc: a face engine is required")
	case cfg.Chips == nil:
		return nil, errors.New("ekyc: a chip verifier is required")
	case cfg.Signer == nil:
		return nil, errors.New("ekyc: a result signing key is required")
	case cfg.ChipReuseKey == nil:
		return nil, errors.New("ekyc: a chip-reuse key is required")
	case cfg.Notify == nil:
		return nil, errors.New("ekyc: a notifier for result webhooks is required")
	case !strings.HasPrefix(cfg.PublicURL, "https://") && !strings.HasPrefix(cfg.PublicURL, "http://"):
		return nil, errors.New("ekyc: PublicURL must be an http(s) URL")
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
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = 15 * time.Minute
	}
	return &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, images: newImageBudget(cfg.DecodeBudget)}, nil
}

// ErrWebhookAddress: a webhook resolved to a loopback, private, link-local
// or otherwise non-public address (notify.ErrAddress).
var ErrWebhookAddress = notify.ErrAddress

// JWKS returns the public key set results are signed with.
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
	return prefix + strings.ToLower(base32NoPad(b)), nil
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

func subjectOf(tenant, subject string) vault.SubjectRef {
	return vault.SubjectRef{Tenant: tenant, Subject: subject}
}

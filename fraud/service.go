package fraud

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Errors with a documented contract; test with errors.Is.
var (
	// ErrInvalidInput: a policy, list or argument is malformed; the message
	// says what, never echoing personal data.
	ErrInvalidInput = errors.New("fraud: invalid input")
	// ErrNotReady: the gallery index is still being rebuilt from the store;
	// the caller retries (eKYC leaves the session submitted).
	ErrNotReady = errors.New("fraud: gallery index not loaded yet")
	// ErrNotFound: no such list, version or approval for this tenant.
	ErrNotFound = errors.New("fraud: not found")
)

// Reason codes of the findings (eKYC decision reasons).
const (
	ReasonDuplicateIdentity  = "face.duplicate_identity"
	ReasonDuplicateUnchecked = "face.duplicate_unchecked"
	ReasonDocumentReused     = "document.reused"
	ReasonVelocity           = "velocity.exceeded"
	ReasonWatchlist          = "watchlist.hit"
)

// Sealer is the part of *vault.Vault the service uses.
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

// Auditor appends an audit entry in the caller's transaction (*audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Actor is who performs an operation, for audit entries.
type Actor struct {
	Kind      string // audit.ActorClient, audit.ActorStaff or audit.ActorSystem
	ID        string
	RequestID string
}

// System is the actor of the service's own work.
var System = Actor{Kind: audit.ActorSystem}

// Config wires a Service; every field but Logger and Now is required.
type Config struct {
	DB     *store.DB
	Audit  Auditor
	Vault  Sealer
	Key    *Key
	Logger *slog.Logger
	Now    func() time.Time
}

// Service runs the fraud checks. It is safe for concurrent use. Load must
// have succeeded before Check searches the gallery (ErrNotReady).
type Service struct {
	cfg   Config
	db    *store.DB
	log   *slog.Logger
	index *index
	lists *screener

	mu      sync.Mutex
	loaded  bool
	lastSeq int64
	syncs   int
}

// New returns a Service; it fails closed on a missing dependency.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Vault == nil || cfg.Key == nil {
		return nil, errors.New("fraud: store, audit log, vault and digest key are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, index: newIndex(), lists: newScreener()}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

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

// Input is what eKYC knows of a session at decision time. The personal
// data in it (name, birth date, document number, template) is used in
// memory and stored only as keyed digests or sealed under Subject.
type Input struct {
	Tenant, Session, Subject string
	// Face is the live probe (a selfie template); nil if there is none.
	Face *face.Template
	// FaceThreshold is the tenant's 1:1 same-person threshold (cosine),
	// used to tell whether two sessions with one document show one face.
	FaceThreshold float64
	// Name, NameKana, NameLatin and BirthDate (YYYY-MM-DD) are the verified
	// identity, "" where unknown.
	Name, NameKana, NameLatin, BirthDate string
	// Document identifies the ID document ("" number: none).
	DocumentKind, DocumentCountry, DocumentNumber string
	// Device is the registered device that read the chip ("" if none).
	Device string
	At     time.Time
}

// Finding is one fraud signal: a decision reason with the evidence a
// reviewer needs. Sessions are only ever the same tenant's.
type Finding struct {
	Code     string
	Detail   string
	Sessions []string
	Score    float64
	// Entry names a watchlist hit: "<list id>/<entry id>@v<version>".
	Entry string
}

// Check runs the tenant's fraud rules for one session at decision time and
// records what later sessions are checked against (a staged gallery
// template, the document and identity digests, the velocity keys). It is
// idempotent per session: a decision retried after a crash checks and
// records the same.
func (s *Service) Check(ctx context.Context, in Input) ([]Finding, error) {
	if in.Tenant == "" || in.Session == "" || in.Subject == "" {
		return nil, errors.New("fraud: check needs tenant, session and subject")
	}
	if in.At.IsZero() {
		in.At = s.now()
	}
	p, _, err := loadPolicy(ctx, s.db, in.Tenant)
	if err != nil {
		return nil, err
	}
	identity := s.identityDigest(in)
	var out []Finding
	if in.Face != nil {
		if err := s.stage(ctx, in, identity); err != nil {
			return nil, err
		}
		if p.Duplicates.Enabled {
			fs, err := s.duplicates(ctx, p, in, identity)
			if err != nil {
				return nil, err
			}
			out = append(out, fs...)
		}
	}
	docDigest, err := s.observeDocument(ctx, in, identity)
	if err != nil {
		return nil, err
	}
	if p.DocumentReuse && docDigest != nil {
		fs, err := s.documentReuse(ctx, in, identity, docDigest)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	if in.Device != "" {
		if err := s.Observe(ctx, in.Tenant, in.Session, in.Subject, KeyDevice, in.Device, in.At); err != nil {
			return nil, err
		}
	}
	if len(p.Velocity) > 0 {
		fs, err := s.velocity(ctx, p, in)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	if p.Watchlists && (in.Name != "" || in.NameKana != "" || in.NameLatin != "") {
		fs, err := s.screen(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	if err := s.auditFindings(ctx, in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// auditFindings records each finding against the session: its code, the
// related sessions and the watchlist entry (ids only, no personal data).
func (s *Service) auditFindings(ctx context.Context, in Input, fs []Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, f := range fs {
			d := map[string]string{"code": f.Code}
			if len(f.Sessions) > 0 {
				d["related_sessions"] = strings.Join(f.Sessions, ",")
			}
			if f.Entry != "" {
				d["watchlist_entry"] = f.Entry
			}
			if err := s.record(ctx, tx, System, in.Tenant, "fraud.finding", in.Session, audit.OutcomeOK, d); err != nil {
				return err
			}
		}
		return nil
	})
}

// identityDigest is the keyed digest of the verified name and birth date
// (normalised: NFKC, script and variant folding, spacing and order), or
// nil when the name is unknown. It is server-wide (not per tenant) so that
// the opt-in cross-tenant gallery can tell "same person re-verifying" from
// "another name".
func (s *Service) identityDigest(in Input) []byte {
	name := in.Name
	if name == "" {
		name = in.NameLatin
	}
	if name == "" {
		name = in.NameKana
	}
	if name == "" {
		return nil
	}
	return s.cfg.Key.Digest("identity", IdentityKey(name), in.BirthDate)
}

// Forget removes everything this package holds for a subject, in the
// transaction that shreds it (eKYC's retention), and drops its templates
// from this instance's index at once. Other instances stop reporting it
// at once too (every hit is confirmed against the store) and drop it from
// memory at their next Sync.
func (s *Service) Forget(ctx context.Context, tx *store.Tx, tenant, subject string) error {
	rows, err := tx.Query(ctx, `SELECT id FROM fraud_gallery WHERE tenant_id = ? AND subject = ?`, tenant, subject)
	if err != nil {
		return err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	now := store.Micros(s.now())
	for _, id := range ids {
		if _, err := tx.Exec(ctx, `INSERT INTO fraud_gallery_changes (entry_id, op, at) VALUES (?, 'remove', ?)`, id, now); err != nil {
			return err
		}
	}
	for _, q := range []string{
		`DELETE FROM fraud_gallery WHERE tenant_id = ? AND subject = ?`,
		`DELETE FROM fraud_documents WHERE tenant_id = ? AND subject = ?`,
		`DELETE FROM fraud_events WHERE tenant_id = ? AND subject = ?`,
	} {
		if _, err := tx.Exec(ctx, q, tenant, subject); err != nil {
			return err
		}
	}
	for _, id := range ids {
		s.index.remove(id)
	}
	return s.record(ctx, tx, System, tenant, "fraud.subject.forget", "subject/"+subject, audit.OutcomeOK,
		map[string]string{"gallery_entries": itoa(len(ids))})
}

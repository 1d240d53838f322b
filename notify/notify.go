package notify

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Errors.
var (
	ErrInvalidEvent = errors.New("notify: invalid event")
	ErrNotFound     = errors.New("notify: no such event")
	ErrNotDead      = errors.New("notify: only a dead event can be replayed")
	// ErrAddress: the receiver resolved to a loopback, private, link-local
	// or otherwise non-public address (refused unless AllowInsecure).
	ErrAddress = errors.New("notify: webhook address is not public")
)

// Event states.
const (
	StatePending   = "pending"
	StateDelivered = "delivered"
	StateDead      = "dead"
)

// Limits.
const (
	MaxBody   = 1 << 20
	MaxURL    = 2048
	maxIDLen  = 128
	maxKind   = 64
	maxCTLen  = 128
	respLimit = 4 << 10
)

// Auditor appends audit entries in the caller's transaction (audit.Log).
type Auditor interface {
	Append(ctx context.Context, tx *store.Tx, e audit.Entry) (uint64, error)
}

// Sealer encrypts event bodies under a data subject (vault.Vault).
type Sealer interface {
	Seal(ctx context.Context, tx *store.Tx, s vault.SubjectRef, aad, plaintext []byte) ([]byte, error)
	Open(ctx context.Context, q vault.Querier, s vault.SubjectRef, aad, ciphertext []byte) ([]byte, error)
}

// Config configures a Notifier. DB, Audit, Vault and Signer are required.
type Config struct {
	DB     *store.DB
	Audit  Auditor
	Vault  Sealer
	Signer *Signer
	// HTTPClient sends the requests (default: 10 s timeout, no redirects,
	// public addresses only unless AllowInsecure).
	HTTPClient *http.Client
	// AllowInsecure permits http:// URLs and non-public addresses
	// (development and tests only).
	AllowInsecure bool
	// Instance names this server instance in claims (default: random).
	Instance string
	// Schedule; zero values take the defaults.
	MaxAttempts int           // 15
	BaseDelay   time.Duration // 10 s
	MaxDelay    time.Duration // 1 h
	Lease       time.Duration // 2 min: how long a claim keeps other instances away
	Batch       int           // 32 events claimed per round
	Parallel    int           // 8 requests in flight per instance
	Logger      *slog.Logger
	Now         func() time.Time
}

// Defaults of the delivery schedule.
const (
	DefaultMaxAttempts = 15
	DefaultBaseDelay   = 10 * time.Second
	DefaultMaxDelay    = time.Hour
)

// Event is one notification. Body is personal data in most domains: it is
// sealed before it is stored.
type Event struct {
	// ID is the event's stable id ("" for a random "ev_…" one): sent as
	// Webhook-Id, the receiver's de-duplication key. Letters, digits and
	// "_-.:" only, at most 128.
	ID string
	// Kind is "<domain>.<what>", e.g. "ekyc.webhook", "oauth.ciba_ping",
	// "txauth.result"; audit actions are Kind+".queue", ".delivered",
	// ".dead" and ".replay".
	Kind        string
	Tenant      string // the tenant the event concerns ("" installation-wide)
	URL         string // the receiver: https (http only with AllowInsecure)
	ContentType string // e.g. "application/json", "application/jwt"
	Body        []byte // at most MaxBody
	// Subject is whose data key seals Body; shredding it makes the event
	// undeliverable. Use the tenant's own subject for non-personal events.
	Subject vault.SubjectRef
	// AADDomain is for events moved from older outboxes; "" is
	// "notify.outbox".
	AADDomain string
	// Bearer, if set, is sent as "Authorization: Bearer <Bearer>": the
	// receiver's own credential, as a CIBA ping carries the client's
	// client_notification_token (OpenID CIBA Core §10.2). It must be an
	// RFC 6750 b64token of at most MaxBearer characters. It is sealed
	// apart from the body under Subject and is never returned (Delivery),
	// logged or audited.
	Bearer string
}

// MaxBearer is the longest Event.Bearer (CIBA Core §7.1 caps the
// client_notification_token at 1024 characters).
const MaxBearer = 1024

// ValidBearer reports whether tok is a non-empty RFC 6750 §2.1 b64token
// (1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=") of at
// most MaxBearer characters: safe in an Authorization header.
func ValidBearer(tok string) bool {
	if tok == "" || len(tok) > MaxBearer {
		return false
	}
	i := 0
	for ; i < len(tok); i++ {
		c := tok[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	if i == 0 {
		return false
	}
	for ; i < len(tok); i++ {
		if tok[i] != '=' {
			return false
		}
	}
	return true
}

// Delivery is an event's delivery state (no body).
type Delivery struct {
	ID, Kind, Tenant, URL, State string
	Attempts, LastStatus         int
	LastError                    string
	NextAt, CreatedAt            time.Time
	DeliveredAt                  time.Time // when delivered or declared dead
}

// Actor is who replays an event (a staff member, or the system).
type Actor struct {
	Kind      string // audit.ActorStaff, audit.ActorSystem
	ID        string
	RequestID string
}

// Notifier is the outbox and its delivery. It is safe for concurrent use.
type Notifier struct {
	cfg     Config
	db      *store.DB
	log     *slog.Logger
	http    *http.Client
	metrics *metrics
}

// New returns a Notifier; it fails closed on a missing dependency.
func New(cfg Config) (*Notifier, error) {
	if cfg.DB == nil || cfg.Audit == nil || cfg.Vault == nil || cfg.Signer == nil {
		return nil, errors.New("notify: store, audit log, vault and signer are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BaseDelay <= 0 {
		cfg.BaseDelay = DefaultBaseDelay
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = DefaultMaxDelay
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.Instance == "" {
		id, err := randomID("in_")
		if err != nil {
			return nil, err
		}
		cfg.Instance = id
	}
	hc := cfg.HTTPClient
	if hc == nil {
		d := &net.Dialer{Timeout: 5 * time.Second}
		if !cfg.AllowInsecure {
			d.Control = PublicOnly
		}
		hc = &http.Client{
			Timeout:       10 * time.Second,
			Transport:     &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 5 * time.Second, MaxIdleConnsPerHost: 4, Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Notifier{cfg: cfg, db: cfg.DB, log: cfg.Logger, http: hc, metrics: newMetrics()}, nil
}

// JWKS returns the JWK Set receivers verify signatures with.
func (n *Notifier) JWKS() []byte { return n.cfg.Signer.JWKS() }

func (n *Notifier) now() time.Time { return n.cfg.Now().UTC().Truncate(time.Microsecond) }

var idRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)
var kindRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

func randomID(prefix string) (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// CheckURL checks a receiver URL: absolute https (http too with
// allowInsecure), a host, no credentials, no fragment, at most MaxURL. The
// address is checked again when connecting (PublicOnly).
func CheckURL(raw string, allowInsecure bool) error {
	if len(raw) > MaxURL {
		return fmt.Errorf("%w: URL longer than %d", ErrInvalidEvent, MaxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" ||
		(u.Scheme != "https" && !(allowInsecure && u.Scheme == "http")) {
		return fmt.Errorf("%w: the URL must be an absolute https URL without credentials or fragment", ErrInvalidEvent)
	}
	return nil
}

func (n *Notifier) validate(ev *Event) error {
	if ev.ID == "" {
		id, err := randomID("ev_")
		if err != nil {
			return err
		}
		ev.ID = id
	}
	switch {
	case !idRE.MatchString(ev.ID):
		return fmt.Errorf("%w: id must be 1-%d of [A-Za-z0-9_.:-]", ErrInvalidEvent, maxIDLen)
	case len(ev.Kind) > maxKind || !kindRE.MatchString(ev.Kind):
		return fmt.Errorf("%w: kind must look like domain.what", ErrInvalidEvent)
	case ev.ContentType == "" || len(ev.ContentType) > maxCTLen || strings.ContainsAny(ev.ContentType, "\r\n"):
		return fmt.Errorf("%w: content type required (at most %d bytes)", ErrInvalidEvent, maxCTLen)
	case len(ev.Body) > MaxBody:
		return fmt.Errorf("%w: body over %d bytes", ErrInvalidEvent, MaxBody)
	case ev.Subject.Tenant == "" || ev.Subject.Subject == "":
		return fmt.Errorf("%w: a data subject is required to seal the body", ErrInvalidEvent)
	case ev.Bearer != "" && !ValidBearer(ev.Bearer):
		return fmt.Errorf("%w: the bearer token must be an RFC 6750 b64token of at most %d characters", ErrInvalidEvent, MaxBearer)
	}
	if ev.AADDomain == "" {
		ev.AADDomain = aadDomain
	}
	return CheckURL(ev.URL, n.cfg.AllowInsecure)
}

const aadDomain = "notify.outbox"

// bearerAAD binds a sealed bearer token to its event (and keeps it from
// being swapped with a body).
func bearerAAD(id string) []byte { return vault.AAD("notify.bearer", id) }

// Enqueue stores ev in the caller's transaction, sealed, due now, and
// audits Kind+".queue". It returns the event id. A second event with the
// same id fails with store.ErrConflict.
func (n *Notifier) Enqueue(ctx context.Context, tx *store.Tx, ev Event) (string, error) {
	if err := n.validate(&ev); err != nil {
		return "", err
	}
	sealed, err := n.cfg.Vault.Seal(ctx, tx, ev.Subject, vault.AAD(ev.AADDomain, ev.ID), ev.Body)
	if err != nil {
		return "", err
	}
	auth := []byte{}
	if ev.Bearer != "" {
		if auth, err = n.cfg.Vault.Seal(ctx, tx, ev.Subject, bearerAAD(ev.ID), []byte(ev.Bearer)); err != nil {
			return "", err
		}
	}
	now := store.Micros(n.now())
	if _, err := tx.Exec(ctx, `INSERT INTO notify_outbox (event_id, kind, tenant_id, subject_tenant, subject, aad_domain, url, content_type,
		payload, auth, state, attempts, next_at, claimed_by, claim_until, last_status, last_error, created_at, delivered_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '', 0, 0, '', ?, 0)`,
		ev.ID, ev.Kind, ev.Tenant, ev.Subject.Tenant, ev.Subject.Subject, ev.AADDomain, ev.URL, ev.ContentType, sealed, auth, now, now); err != nil {
		return "", err
	}
	if err := n.record(ctx, tx, Actor{Kind: audit.ActorSystem}, ev.Tenant, ev.Kind+".queue", ev.ID, audit.OutcomeOK, nil); err != nil {
		return "", err
	}
	return ev.ID, nil
}

func (n *Notifier) record(ctx context.Context, tx *store.Tx, a Actor, tenant, action, object, outcome string, details map[string]string) error {
	kind := a.Kind
	if kind == "" {
		kind = audit.ActorSystem
	}
	_, err := n.cfg.Audit.Append(ctx, tx, audit.Entry{ActorKind: kind, ActorID: a.ID, TenantID: tenant, Action: action,
		Object: object, RequestID: a.RequestID, Outcome: outcome, Details: details})
	return err
}

const deliveryCols = `event_id, kind, tenant_id, url, state, attempts, last_status, last_error, next_at, created_at, delivered_at`

func scanDelivery(r interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var next, created, done int64
	if err := r.Scan(&d.ID, &d.Kind, &d.Tenant, &d.URL, &d.State, &d.Attempts, &d.LastStatus, &d.LastError, &next, &created, &done); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return d, ErrNotFound
		}
		return d, err
	}
	d.NextAt, d.CreatedAt = store.FromMicros(next), store.FromMicros(created)
	if done != 0 {
		d.DeliveredAt = store.FromMicros(done)
	}
	return d, nil
}

// Get returns one event's delivery state.
func (n *Notifier) Get(ctx context.Context, id string) (Delivery, error) {
	return scanDelivery(n.db.QueryRow(ctx, `SELECT `+deliveryCols+` FROM notify_outbox WHERE event_id = ?`, id))
}

// List returns up to limit events (newest first), only those in state if
// it is not "".
func (n *Notifier) List(ctx context.Context, state string, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q, args := `SELECT `+deliveryCols+` FROM notify_outbox ORDER BY created_at DESC, event_id LIMIT ?`, []any{limit}
	if state != "" {
		q, args = `SELECT `+deliveryCols+` FROM notify_outbox WHERE state = ? ORDER BY created_at DESC, event_id LIMIT ?`, []any{state, limit}
	}
	rows, err := n.db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Replay makes a dead event due now with a fresh attempt count, audited as
// Kind+".replay" by the actor. Anything but a dead event is ErrNotDead.
func (n *Notifier) Replay(ctx context.Context, by Actor, id string) error {
	return n.db.InTx(ctx, func(tx *store.Tx) error {
		var kind, tenant, state string
		if err := tx.QueryRow(ctx, `SELECT kind, tenant_id, state FROM notify_outbox WHERE event_id = ?`, id).Scan(&kind, &tenant, &state); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrNotFound
			}
			return err
		}
		if state != StateDead {
			return fmt.Errorf("%w (it is %s)", ErrNotDead, state)
		}
		if _, err := tx.Exec(ctx, `UPDATE notify_outbox SET state = 'pending', attempts = 0, next_at = ?, claimed_by = '', claim_until = 0,
			last_error = '', delivered_at = 0 WHERE event_id = ? AND state = 'dead'`, store.Micros(n.now()), id); err != nil {
			return err
		}
		return n.record(ctx, tx, by, tenant, kind+".replay", id, audit.OutcomeOK, nil)
	})
}

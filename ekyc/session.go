package ekyc

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// State is a session's place in the state machine:
//
//	created ─▶ capturing ─▶ submitted ─▶ decided ─▶ closed
//	   │           │                      (approved | rejected | review;
//	   ├─▶ expired ◀┤                      review ─▶ approved | rejected)
//	   └─▶ cancelled ◀┘
type State string

// States.
const (
	StateCreated   State = "created"
	StateCapturing State = "capturing"
	StateSubmitted State = "submitted"
	StateDecided   State = "decided"
	StateClosed    State = "closed"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// Outcome is a decided session's result; "" before a decision.
type Outcome string

// Outcomes.
const (
	OutcomeNone     Outcome = ""
	OutcomeApproved Outcome = "approved"
	OutcomeRejected Outcome = "rejected"
	OutcomeReview   Outcome = "review"
)

// transitions lists every allowed state change; anything else is ErrState.
var transitions = map[State][]State{
	StateCreated:   {StateCapturing, StateExpired, StateCancelled},
	StateCapturing: {StateSubmitted, StateExpired, StateCancelled},
	StateSubmitted: {StateDecided},
	StateDecided:   {StateDecided, StateClosed}, // decided(review) -> decided(final)
}

// CanTransition reports whether from -> to is an edge of the state machine.
func CanTransition(from, to State) bool {
	for _, t := range transitions[from] {
		if t == to {
			return true
		}
	}
	return false
}

// Limits on session fields.
const (
	MaxReferenceLen = 128
	MaxWebhookLen   = 2048
	tokenBytes      = 32 // 256-bit capture token and capture key
)

// Session is the non-personal view of a session.
type Session struct {
	ID          string
	TenantID    string
	ClientID    string
	Method      Method
	Reference   string
	Webhook     string
	Locale      string
	State       State
	Outcome     Outcome
	Challenge   []Step
	CreatedAt   time.Time
	ExpiresAt   time.Time
	SubmittedAt time.Time
	DecidedAt   time.Time
	Decision    *Decision
	Version     int

	subject       string
	nonce         []byte
	policyVersion int
	tokenExpires  time.Time
	tokenUsed     bool
	frameNonce    []byte
	frameNonceAt  time.Time
	frameSeq      int
	reviewer      string
	claimExpires  time.Time
}

// Final reports whether the session's outcome is approved or rejected.
func (s *Session) Final() bool {
	return s.State == StateDecided && (s.Outcome == OutcomeApproved || s.Outcome == OutcomeRejected) || s.State == StateClosed
}

// CreateRequest is what a client sends to open a session.
type CreateRequest struct {
	Method    string // "he" | "ho"
	Reference string // the client's own opaque reference (no personal data)
	Webhook   string // https URL for the signed result, or "" to poll
	Locale    string // "ja" (default) | "en"
}

// Created is a new session with its one-time capture URL. The token is in
// the URL fragment, so it never reaches access logs or Referer headers.
type Created struct {
	Session    *Session
	CaptureURL string
	// TokenExpiresAt is when the capture URL stops working.
	TokenExpiresAt time.Time
}

func (s *Service) validateCreate(r *CreateRequest) (Method, error) {
	m, err := MethodByAPI(r.Method)
	if err != nil {
		return Method{}, err
	}
	if r.Reference == "" || len(r.Reference) > MaxReferenceLen || !printable(r.Reference) {
		return Method{}, fmt.Errorf("%w: reference must be 1-%d printable characters", ErrInvalidInput, MaxReferenceLen)
	}
	switch r.Locale {
	case "":
		r.Locale = "ja"
	case "ja", "en":
	default:
		return Method{}, fmt.Errorf("%w: locale must be ja or en", ErrInvalidInput)
	}
	if r.Webhook != "" {
		if err := s.checkWebhook(r.Webhook); err != nil {
			return Method{}, err
		}
	}
	return m, nil
}

func (s *Service) checkWebhook(raw string) error {
	u, err := url.Parse(raw)
	ok := err == nil && len(raw) <= MaxWebhookLen && u.Host != "" && u.User == nil && u.Fragment == "" &&
		(u.Scheme == "https" || u.Scheme == "http" && s.cfg.AllowInsecureWebhooks)
	if !ok {
		return fmt.Errorf("%w: webhook must be an absolute https URL without credentials or fragment", ErrInvalidInput)
	}
	return nil
}

func printable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Create opens a session for the client's tenant under the tenant's policy
// (ErrNoPolicy without one; ErrMethodNotOffered if the method is not
// offered or not in force).
func (s *Service) Create(ctx context.Context, a Actor, tenant string, r CreateRequest) (*Created, error) {
	m, err := s.validateCreate(&r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	p, pver, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	if err := p.Offers(m, now); err != nil {
		return nil, err
	}
	if err := s.jpkiAvailable(m); err != nil {
		return nil, err
	}
	id, err := s.newID("ses_")
	if err != nil {
		return nil, err
	}
	subject, err := s.newID("sub_")
	if err != nil {
		return nil, err
	}
	tok, err := s.random(tokenBytes)
	if err != nil {
		return nil, err
	}
	nonce, err := s.random(32)
	if err != nil {
		return nil, err
	}
	var challenge []Step
	if m.NeedsSelfie {
		if challenge, err = NewChallenge(s.cfg.Rand, p.ChallengeSteps); err != nil {
			return nil, err
		}
	}
	chJSON, _ := json.Marshal(challenge)
	th := sha256.Sum256(tok)
	sess := &Session{
		ID: id, TenantID: tenant, ClientID: a.ID, Method: m, Reference: r.Reference, Webhook: r.Webhook,
		Locale: r.Locale, State: StateCreated, Challenge: challenge, CreatedAt: now,
		ExpiresAt: now.Add(time.Duration(p.SessionTTLSeconds) * time.Second), Version: 1,
		subject: subject, nonce: nonce, policyVersion: pver,
		tokenExpires: now.Add(time.Duration(p.CaptureTokenTTLSeconds) * time.Second),
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_sessions (id, tenant_id, client_id, method, reference, webhook, locale,
			subject, state, outcome, version, policy_version, nonce, challenge, token_hash, token_expires, token_used,
			key_hash, frame_nonce, frame_nonce_at, frame_seq, created_at, expires_at, updated_at, submitted_at, decided_at,
			decision, claims, reviewer, claim_expires)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', 1, ?, ?, ?, ?, ?, 0, NULL, NULL, 0, 0, ?, ?, ?, 0, 0, '', NULL, '', 0)`,
			id, tenant, a.ID, m.Code, r.Reference, r.Webhook, r.Locale, subject, StateCreated, pver, nonce, string(chJSON),
			th[:], store.Micros(sess.tokenExpires), store.Micros(now), store.Micros(sess.ExpiresAt), store.Micros(now)); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "ekyc.session.create", id, audit.OutcomeOK,
			map[string]string{"method": m.Code, "policy_version": fmt.Sprint(pver)})
	})
	if err != nil {
		return nil, err
	}
	return &Created{
		Session:        sess,
		CaptureURL:     s.cfg.PublicURL + "/ekyc/capture#t=" + b64(tok),
		TokenExpiresAt: sess.tokenExpires,
	}, nil
}

const sessionCols = `id, tenant_id, client_id, method, reference, webhook, locale, subject, state, outcome, version,
	policy_version, nonce, challenge, token_expires, token_used, frame_nonce, frame_nonce_at, frame_seq,
	created_at, expires_at, submitted_at, decided_at, decision, reviewer, claim_expires`

func scanSession(row interface{ Scan(...any) error }) (*Session, error) {
	var (
		ss                                             Session
		method, state, outcome, challenge, decision    string
		tokExp, fnAt, created, expires, submitted, dec int64
		claimExp                                       int64
		tokUsed                                        int
	)
	if err := row.Scan(&ss.ID, &ss.TenantID, &ss.ClientID, &method, &ss.Reference, &ss.Webhook, &ss.Locale,
		&ss.subject, &state, &outcome, &ss.Version, &ss.policyVersion, &ss.nonce, &challenge, &tokExp, &tokUsed,
		&ss.frameNonce, &fnAt, &ss.frameSeq, &created, &expires, &submitted, &dec, &decision, &ss.reviewer, &claimExp); err != nil {
		if isNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	m, err := MethodByCode(method)
	if err != nil {
		return nil, fmt.Errorf("ekyc: stored session has unknown method: %w", err)
	}
	ss.Method, ss.State, ss.Outcome = m, State(state), Outcome(outcome)
	if err := json.Unmarshal([]byte(challenge), &ss.Challenge); err != nil {
		return nil, fmt.Errorf("ekyc: stored challenge unreadable: %w", err)
	}
	if decision != "" {
		ss.Decision = new(Decision)
		if err := json.Unmarshal([]byte(decision), ss.Decision); err != nil {
			return nil, fmt.Errorf("ekyc: stored decision unreadable: %w", err)
		}
	}
	ss.tokenExpires, ss.tokenUsed = store.FromMicros(tokExp), tokUsed != 0
	ss.frameNonceAt, ss.CreatedAt, ss.ExpiresAt = store.FromMicros(fnAt), store.FromMicros(created), store.FromMicros(expires)
	ss.SubmittedAt, ss.DecidedAt, ss.claimExpires = store.FromMicros(submitted), store.FromMicros(dec), store.FromMicros(claimExp)
	return &ss, nil
}

// Get returns the tenant's session id. Another tenant's session is
// ErrNotFound, exactly like a missing one.
func (s *Service) Get(ctx context.Context, tenant, id string) (*Session, error) {
	return getSession(ctx, s.db, tenant, id)
}

func getSession(ctx context.Context, q rowQuerier, tenant, id string) (*Session, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanSession(q.QueryRow(ctx, `SELECT `+sessionCols+` FROM ekyc_sessions WHERE id = ? AND tenant_id = ?`, id, tenant))
}

// move changes a session's state (and optional columns) if it is still in
// the state and version the caller read, appending the audit entry in the
// same transaction. A concurrent change makes it ErrState.
func (s *Service) move(ctx context.Context, tx *store.Tx, ss *Session, to State, outcome Outcome, a Actor, action string,
	details map[string]string, set string, args ...any) error {
	if !CanTransition(ss.State, to) {
		return fmt.Errorf("%w: %s -> %s", ErrState, ss.State, to)
	}
	q := `UPDATE ekyc_sessions SET state = ?, outcome = ?, version = version + 1, updated_at = ?`
	if set != "" {
		q += ", " + set
	}
	q += ` WHERE id = ? AND tenant_id = ? AND state = ? AND version = ?`
	all := append([]any{to, outcome, store.Micros(s.now())}, args...)
	all = append(all, ss.ID, ss.TenantID, ss.State, ss.Version)
	res, err := tx.Exec(ctx, q, all...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w: session changed concurrently", ErrState)
	}
	if details == nil {
		details = map[string]string{}
	}
	details["from"], details["to"] = string(ss.State), string(to)
	if outcome != "" {
		details["outcome"] = string(outcome)
	}
	if err := s.record(ctx, tx, a, ss.TenantID, action, ss.ID, audit.OutcomeOK, details); err != nil {
		return err
	}
	ss.State, ss.Outcome, ss.Version = to, outcome, ss.Version+1
	return nil
}

// expireIfDue moves a created/capturing session past its expiry to expired
// (committed on its own) and reports whether it did.
func (s *Service) expireIfDue(ctx context.Context, ss *Session) (bool, error) {
	if (ss.State != StateCreated && ss.State != StateCapturing) || s.now().Before(ss.ExpiresAt) {
		return false, nil
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateExpired, OutcomeNone, System, "ekyc.session.expire", nil, "key_hash = NULL")
	})
	return err == nil, err
}

// Cancel cancels a session that has not been submitted.
func (s *Service) Cancel(ctx context.Context, a Actor, tenant, id string) (*Session, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return ss, errOr(err, ErrExpired)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateCancelled, OutcomeNone, a, "ekyc.session.cancel", nil, "key_hash = NULL")
	})
	return ss, err
}

// Close ends a session with a final outcome: the capture key is erased and
// no further change is possible.
func (s *Service) Close(ctx context.Context, a Actor, tenant, id string) (*Session, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !ss.Final() || ss.State == StateClosed {
		return nil, fmt.Errorf("%w: only a session with a final decision can be closed", ErrState)
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.move(ctx, tx, ss, StateClosed, ss.Outcome, a, "ekyc.session.close", nil, "key_hash = NULL")
	})
	return ss, err
}

// sessionKeys runs query, which selects sessions' tenant id and id, and
// returns the pairs.
func (s *Service) sessionKeys(ctx context.Context, query string, args ...any) ([][2]string, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids [][2]string
	for rows.Next() {
		var t, id string
		if err := rows.Scan(&t, &id); err != nil {
			return nil, err
		}
		ids = append(ids, [2]string{t, id})
	}
	return ids, rows.Err()
}

// ExpireDue moves every created or capturing session past its expiry to
// expired; the server runs it periodically. It returns how many it moved.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	ids, err := s.sessionKeys(ctx, `SELECT tenant_id, id FROM ekyc_sessions WHERE state IN ('created', 'capturing') AND expires_at <= ? LIMIT 500`,
		store.Micros(s.now()))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ids {
		ss, err := s.Get(ctx, x[0], x[1])
		if err != nil {
			return n, err
		}
		if ok, err := s.expireIfDue(ctx, ss); err != nil {
			return n, err
		} else if ok {
			n++
		}
	}
	return n, nil
}

func errOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func base32NoPad(b []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

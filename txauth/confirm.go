package txauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/internal/periodic"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Kind is what a confirmation confirms.
type Kind string

// Kinds.
const (
	KindTransaction Kind = "transaction"
	// KindActivation activates a delivered image card (切替え): one correct
	// answer with the new card.
	KindActivation Kind = "card_activation"
)

// State is a confirmation's place:
//
//	pending ─▶ confirmed | rejected | expired | cancelled
//
// A held confirmation stays pending (even with every factor satisfied)
// until staff release or reject it.
type State string

// States.
const (
	StatePending   State = "pending"
	StateConfirmed State = "confirmed"
	StateRejected  State = "rejected"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
)

// Final reports whether st is an end state.
func (st State) Final() bool { return st != StatePending }

// RequestSignals is what the relying service saw of the customer's session.
type RequestSignals struct {
	// PayeeChanged: the payee was changed since the customer's session
	// began (raises payee_changed).
	PayeeChanged bool `json:"payee_changed"`
	// EditedAfterDisplay: the page reports that the payee or amount was
	// edited after it was shown (raises mitb).
	EditedAfterDisplay bool `json:"edited_after_display"`
	// InputTimingAnomaly, DeviceChanged, RemoteAccess: the session's input
	// timing or device changed mid-flow, or a remote-access tool was seen
	// (raise rat).
	InputTimingAnomaly bool `json:"input_timing_anomaly"`
	DeviceChanged      bool `json:"device_changed"`
	RemoteAccess       bool `json:"remote_access"`
}

// Request asks for a transaction's confirmation.
type Request struct {
	Customer    string
	Reference   string // the relying service's own reference, optional
	Transaction Transaction
	// Network is the customer's address as the relying service sees it
	// (optional; the new-network signal compares its /24 or /48).
	Network string
	Signals RequestSignals
	// Webhook receives the signed result ("" : the policy's webhook, or
	// pull only).
	Webhook string
}

// Confirmation is the non-personal view of a confirmation.
type Confirmation struct {
	ID         string
	TenantID   string
	ClientID   string
	CustomerID string
	Kind       Kind
	Reference  string
	CardID     string
	TxHash     [32]byte
	Assessment Assessment
	Required   []Factor
	Satisfied  []Factor
	State      State
	Held       bool
	Webhook    string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	DecidedAt  time.Time
	// Result is the signed result once the confirmation is final.
	Result string

	version     int
	deviceNonce []byte // set while opening, when a device decision is due
}

// Created is a new confirmation and where the customer confirms it. The
// token is in the URL fragment, never sent to servers or logs.
type Created struct {
	Confirmation *Confirmation
	ConfirmURL   string
}

func confirmationAAD(id string) []byte { return vault.AAD("txauth.confirmation", id) }

const maxReference = 128

// Create opens a confirmation of the request's transaction for the tenant's
// customer, with the factors the tenant's policy requires.
func (s *Service) Create(ctx context.Context, a Actor, tenant string, r Request) (*Created, error) {
	if err := r.Transaction.Validate(); err != nil {
		return nil, err
	}
	if !displayText(r.Reference, maxReference) {
		return nil, fmt.Errorf("%w: reference must be at most %d printable characters", ErrInvalidInput, maxReference)
	}
	var network netip.Prefix
	if r.Network != "" {
		ip, err := netip.ParseAddr(r.Network)
		if err != nil {
			return nil, fmt.Errorf("%w: network must be an IP address", ErrInvalidInput)
		}
		ip = ip.Unmap()
		bits := 24
		if ip.Is6() {
			bits = 48
		}
		network, _ = ip.Prefix(bits)
	}
	if err := checkWebhook(r.Webhook); err != nil {
		return nil, err
	}
	cu, err := s.customer(ctx, tenant, r.Customer)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	t := &r.Transaction
	now := s.now()
	keys := seenKeys{payee: s.seenKey(tenant, cu.ID, "payee", t.PayeeKey())}
	if t.Device != "" {
		keys.device = s.seenKey(tenant, cu.ID, "device", t.Device)
	}
	if network.IsValid() {
		keys.network = s.seenKey(tenant, cu.ID, "network", network.String())
	}
	raised := map[string]bool{
		SignalPayeeChanged: r.Signals.PayeeChanged,
		SignalMITB:         r.Signals.EditedAfterDisplay,
		SignalRAT:          r.Signals.InputTimingAnomaly || r.Signals.DeviceChanged || r.Signals.RemoteAccess,
		SignalUnusualHour:  p.unusualHour(now),
	}
	if raised[SignalNewPayee], err = s.unseen(ctx, tenant, cu.ID, "payee", keys.payee); err != nil {
		return nil, err
	}
	if t.Device != "" {
		if raised[SignalNewDevice], err = s.unseen(ctx, tenant, cu.ID, "device", keys.device); err != nil {
			return nil, err
		}
	}
	if network.IsValid() {
		if raised[SignalNewNetwork], err = s.unseen(ctx, tenant, cu.ID, "network", keys.network); err != nil {
			return nil, err
		}
	}
	if p.VelocityMax > 0 {
		var n int
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_confirmations WHERE tenant_id = ? AND customer_id = ? AND kind = ? AND created_at > ?`,
			tenant, cu.ID, string(KindTransaction), store.Micros(now.Add(-time.Duration(p.VelocityWindowSeconds)*time.Second))).Scan(&n); err != nil {
			return nil, err
		}
		raised[SignalVelocity] = n >= p.VelocityMax
	}
	as := p.Assess(t, raised)
	return s.open(ctx, a, tenant, cu, &p, KindTransaction, r.Reference, r.Webhook, t.Canonical(), t.Hash(), as, keys, now)
}

// CreateActivation opens the confirmation that activates a delivered card:
// the customer answers one challenge with the new card on the page.
func (s *Service) CreateActivation(ctx context.Context, a Actor, tenant, cardID, webhook string) (*Created, error) {
	if err := checkWebhook(webhook); err != nil {
		return nil, err
	}
	c, err := s.Card(ctx, tenant, cardID)
	if err != nil {
		return nil, err
	}
	if c.State != CardDelivered {
		return nil, fmt.Errorf("%w: only a delivered card can be activated (card is %s)", ErrState, c.State)
	}
	cu, err := s.customer(ctx, tenant, c.CustomerID)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	body := []byte(`{"card":"` + c.ID + `","serial":"` + c.Serial + `"}`)
	as := Assessment{Required: []Factor{FactorImageCard}, Signals: []string{}, Rules: []string{}}
	return s.open(ctx, a, tenant, cu, &p, KindActivation, "", webhook, body, sha256.Sum256(body), as, seenKeys{}, s.now())
}

type seenKeys struct{ payee, device, network []byte }

// seenLabel is the Digester label of seen keys.
const seenLabel = "txauth-seen"

// seenKey is the stored form of something a customer confirmed before: a
// keyed digest (Digester) over the tenant, the customer, the kind and the
// value, so equal payees of different customers are unrelated rows and
// the database alone does not tell whether a guessed account was paid.
func (s *Service) seenKey(tenant, customer, kind, v string) []byte {
	return s.cfg.Digests.Digest(seenLabel, tenant, customer, kind, v)
}

func (s *Service) unseen(ctx context.Context, tenant, customer, kind string, key []byte) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_seen WHERE tenant_id = ? AND customer_id = ? AND kind = ? AND key_hash = ?`,
		tenant, customer, kind, key).Scan(&n)
	return n == 0, err
}

func checkWebhook(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > 2048 || u.Host == "" || u.User != nil || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%w: webhook must be an absolute http(s) URL without credentials or fragment", ErrInvalidInput)
	}
	return nil
}

// open stores a new confirmation with its alerts, in one transaction.
func (s *Service) open(ctx context.Context, a Actor, tenant string, cu *ekyc.Customer, p *Policy, kind Kind, ref, webhook string,
	body []byte, hash [32]byte, as Assessment, keys seenKeys, now time.Time) (*Created, error) {
	id, err := s.newID("cf_")
	if err != nil {
		return nil, err
	}
	tok, err := s.random(32)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(tok)
	c := &Confirmation{ID: id, TenantID: tenant, ClientID: a.ID, CustomerID: cu.ID, Kind: kind, Reference: ref, TxHash: hash,
		Assessment: as, Required: as.Required, Satisfied: []Factor{}, State: StatePending, Held: as.Hold, Webhook: webhook,
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(p.ConfirmationTTLSeconds) * time.Second), version: 1}
	asJSON, _ := json.Marshal(as)
	reqJSON, _ := json.Marshal(c.Required)
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, locked, err := account(ctx, tx, tenant, cu.ID); err != nil {
			return err
		} else if !locked.IsZero() {
			return fmt.Errorf("%w: the customer's account is locked", ErrLocked)
		}
		for _, f := range c.Required {
			if err := s.available(ctx, tx, p, c, f, now); err != nil {
				return err
			}
		}
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), confirmationAAD(id), body)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_confirmations (id, tenant_id, client_id, customer_id, kind, reference, card_id,
			tx_hash, tx, assessment, required, satisfied, state, held, token_hash, webhook, payee_key, device_key, network_key,
			created_at, expires_at, decided_at, result, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', 1)`,
			id, tenant, a.ID, cu.ID, string(kind), ref, c.CardID, hash[:], sealed, string(asJSON), string(reqJSON),
			string(StatePending), boolInt(c.Held), th[:], webhook, nonNil(keys.payee), nonNil(keys.device), nonNil(keys.network),
			store.Micros(now), store.Micros(c.ExpiresAt)); err != nil {
			return err
		}
		if err := storeDeviceNonce(ctx, tx, c); err != nil {
			return err
		}
		if err := s.record(ctx, tx, a, tenant, "txauth.confirmation.create", id, audit.OutcomeOK, map[string]string{
			"customer": cu.ID, "kind": string(kind), "required": joinFactors(c.Required), "signals": strings.Join(as.Signals, ","),
			"rules": strings.Join(as.Rules, ","), "held": fmt.Sprint(c.Held), "tx_hash": b64(hash[:]),
		}); err != nil {
			return err
		}
		return s.alertsFor(ctx, tx, p, c, as)
	})
	if err != nil {
		return nil, err
	}
	return &Created{Confirmation: c, ConfirmURL: s.cfg.PublicURL + "/txauth/confirm#t=" + b64(tok)}, nil
}

// available checks, when the confirmation is opened, that the customer can
// use factor f; it also picks the card an image-card confirmation uses.
func (s *Service) available(ctx context.Context, tx *store.Tx, p *Policy, c *Confirmation, f Factor, now time.Time) error {
	switch f {
	case FactorImageCard:
		states := []CardState{CardActive}
		if c.Kind == KindActivation {
			states = []CardState{CardDelivered}
		}
		card, err := cardInState(ctx, tx, c.TenantID, c.CustomerID, states...)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w: the customer has no usable image card", ErrFactor)
		} else if err != nil {
			return err
		}
		if card.Locked() {
			return fmt.Errorf("%w: the customer's image card is locked", ErrLocked)
		}
		c.CardID = card.ID
		return nil
	case FactorLegacy:
		return s.legacyAllowed(ctx, tx, p, c.TenantID, c.CustomerID, now)
	case FactorPasskey:
		return s.passkeyAvailable(ctx, tx, c)
	case FactorDevice:
		return s.deviceAvailable(ctx, tx, c)
	case FactorFace:
		return s.faceAvailable(ctx, tx, c)
	case FactorJPKIAuth, FactorJPKISign:
		if err := s.jpkiAvailable(f); err != nil {
			return err
		}
		if f == FactorJPKISign && c.Kind != KindTransaction {
			return fmt.Errorf("%w: only a transaction is signed", ErrFactor)
		}
		return nil
	}
	return fmt.Errorf("%w: factor %s is not verified by this build", ErrFactor, f)
}

// legacyAllowed refuses the legacy method after the tenant's deadline and
// for a customer whose image card has been activated.
func (s *Service) legacyAllowed(ctx context.Context, q rowQuerier, p *Policy, tenant, customer string, now time.Time) error {
	if !p.LegacyDeadline.IsZero() && !now.Before(p.LegacyDeadline) {
		return fmt.Errorf("%w: the legacy method ended on the tenant's deadline", ErrFactor)
	}
	refused, _, err := account(ctx, q, tenant, customer)
	if err != nil {
		return err
	}
	if !refused.IsZero() {
		return fmt.Errorf("%w: the legacy method is refused since the customer's image card was activated", ErrFactor)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func joinFactors(fs []Factor) string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return strings.Join(out, ",")
}

const confCols = `id, tenant_id, client_id, customer_id, kind, reference, card_id, tx_hash, assessment, required, satisfied, state, held,
	webhook, created_at, expires_at, decided_at, result, version`

func scanConfirmation(row interface{ Scan(...any) error }) (*Confirmation, error) {
	var (
		c                       Confirmation
		kind, state             string
		hash                    []byte
		as, req, sat            string
		held                    int
		created, expires, decid int64
	)
	err := row.Scan(&c.ID, &c.TenantID, &c.ClientID, &c.CustomerID, &kind, &c.Reference, &c.CardID, &hash, &as, &req, &sat, &state,
		&held, &c.Webhook, &created, &expires, &decid, &c.Result, &c.version)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	if len(hash) != 32 || json.Unmarshal([]byte(as), &c.Assessment) != nil || json.Unmarshal([]byte(req), &c.Required) != nil ||
		json.Unmarshal([]byte(sat), &c.Satisfied) != nil {
		return nil, errors.New("txauth: stored confirmation unreadable")
	}
	copy(c.TxHash[:], hash)
	c.Kind, c.State, c.Held = Kind(kind), State(state), held != 0
	c.CreatedAt, c.ExpiresAt, c.DecidedAt = store.FromMicros(created), store.FromMicros(expires), store.FromMicros(decid)
	return &c, nil
}

// Get returns the tenant's confirmation id (another tenant's is ErrNotFound).
func (s *Service) Get(ctx context.Context, tenant, id string) (*Confirmation, error) {
	c, err := getConfirmation(ctx, s.db, tenant, id)
	if err != nil {
		return nil, err
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func getConfirmation(ctx context.Context, q rowQuerier, tenant, id string) (*Confirmation, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	return scanConfirmation(q.QueryRow(ctx, `SELECT `+confCols+` FROM txauth_confirmations WHERE id = ? AND tenant_id = ?`, id, tenant))
}

func confirmationByToken(ctx context.Context, q rowQuerier, token string) (*Confirmation, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		return nil, ErrToken
	}
	th := sha256.Sum256(raw)
	c, err := scanConfirmation(q.QueryRow(ctx, `SELECT `+confCols+` FROM txauth_confirmations WHERE token_hash = ?`, th[:]))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrToken
	}
	return c, err
}

// Transaction opens the confirmation's transaction as the server holds it
// (for the tenant's client; audited).
func (s *Service) Transaction(ctx context.Context, a Actor, tenant, id string) (*Transaction, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if c.Kind != KindTransaction {
		return nil, fmt.Errorf("%w: not a transaction confirmation", ErrState)
	}
	var t *Transaction
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if t, err = s.openTransaction(ctx, tx, c); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.confirmation.read", c.ID, audit.OutcomeOK, nil)
	})
	return t, err
}

func (s *Service) openTransaction(ctx context.Context, q interface {
	rowQuerier
	vault.Querier
}, c *Confirmation) (*Transaction, error) {
	cu, err := customerIn(ctx, q, c.TenantID, c.CustomerID)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if err := q.QueryRow(ctx, `SELECT tx FROM txauth_confirmations WHERE id = ?`, c.ID).Scan(&sealed); err != nil {
		return nil, err
	}
	body, err := s.cfg.Vault.Open(ctx, q, cu.Subject(), confirmationAAD(c.ID), sealed)
	if errors.Is(err, vault.ErrShredded) {
		return nil, ErrShredded
	} else if err != nil {
		return nil, err
	}
	t, err := ParseTransaction(body)
	if err != nil {
		return nil, fmt.Errorf("txauth: stored transaction unreadable: %w", err)
	}
	if h := t.Hash(); subtle.ConstantTimeCompare(h[:], c.TxHash[:]) != 1 {
		return nil, errors.New("txauth: stored transaction does not match its hash")
	}
	return t, nil
}

// expireIfDue ends a pending confirmation past its expiry (committed on its
// own, with its signed result).
func (s *Service) expireIfDue(ctx context.Context, c *Confirmation) error {
	if c.State.Final() || s.now().Before(c.ExpiresAt) {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.finish(ctx, tx, c, StateExpired, System, nil)
	})
	if errors.Is(err, ErrState) {
		fresh, gerr := getConfirmation(ctx, s.db, c.TenantID, c.ID)
		if gerr != nil {
			return gerr
		}
		*c = *fresh
		return nil
	}
	return err
}

// ExpireDue ends every pending confirmation past its expiry; the server
// runs it periodically. It returns how many it ended.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT tenant_id, id FROM txauth_confirmations WHERE state = ? AND expires_at <= ? LIMIT 500`,
		string(StatePending), store.Micros(s.now()))
	if err != nil {
		return 0, err
	}
	var ids [][2]string
	for rows.Next() {
		var t, id string
		if err := rows.Scan(&t, &id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, [2]string{t, id})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, x := range ids {
		c, err := getConfirmation(ctx, s.db, x[0], x[1])
		if err != nil {
			return n, err
		}
		if err := s.expireIfDue(ctx, c); err != nil {
			return n, err
		}
		if c.State == StateExpired {
			n++
		}
	}
	return n, nil
}

// Cancel ends a pending confirmation at the relying service's request.
func (s *Service) Cancel(ctx context.Context, a Actor, tenant, id string) (*Confirmation, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error { return s.finish(ctx, tx, c, StateCancelled, a, nil) })
	return c, err
}

// ReportLegacy records that the tenant verified its own legacy method for
// this confirmation. It is refused once the customer's card was activated
// or after the tenant's deadline.
func (s *Service) ReportLegacy(ctx context.Context, a Actor, tenant, id string) (*Confirmation, error) {
	c, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, tenant)
	if err != nil {
		return nil, err
	}
	err = s.inTx(ctx, func(tx *store.Tx) error {
		if err := s.legacyAllowed(ctx, tx, &p, tenant, c.CustomerID, s.now()); err != nil {
			if rerr := s.record(ctx, tx, a, tenant, "txauth.legacy.refused", c.ID, audit.OutcomeDenied, nil); rerr != nil {
				return rerr
			}
			return errCommit{err}
		}
		return s.satisfy(ctx, tx, c, FactorLegacy, a)
	})
	return c, err
}

// errCommit carries an error out of a transaction that must still commit
// (a refusal whose audit entry is kept).
type errCommit struct{ err error }

func (e errCommit) Error() string { return e.err.Error() }

// inTx runs fn in a transaction; an errCommit from fn commits the
// transaction and is returned unwrapped.
func (s *Service) inTx(ctx context.Context, fn func(*store.Tx) error) error {
	var kept error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		err := fn(tx)
		var ec errCommit
		if errors.As(err, &ec) {
			kept = ec.err
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return kept
}

// satisfy records factor f for pending confirmation c in tx and finishes c
// as confirmed once every required factor is satisfied (unless it is held).
func (s *Service) satisfy(ctx context.Context, tx *store.Tx, c *Confirmation, f Factor, a Actor) error {
	if c.State.Final() {
		return fmt.Errorf("%w: confirmation is %s", ErrState, c.State)
	}
	if !slices.Contains(c.Required, f) {
		return fmt.Errorf("%w: %s is not required here", ErrFactor, f)
	}
	if !slices.Contains(c.Satisfied, f) {
		c.Satisfied = append(c.Satisfied, f)
		slices.Sort(c.Satisfied)
	}
	sat, _ := json.Marshal(c.Satisfied)
	res, err := tx.Exec(ctx, `UPDATE txauth_confirmations SET satisfied = ?, version = version + 1 WHERE id = ? AND version = ? AND state = ?`,
		string(sat), c.ID, c.version, string(StatePending))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: confirmation changed concurrently", ErrState)
	}
	c.version++
	if err := s.record(ctx, tx, a, c.TenantID, "txauth.factor.satisfied", c.ID, audit.OutcomeOK, map[string]string{"factor": string(f)}); err != nil {
		return err
	}
	if c.complete() && !c.Held {
		return s.finish(ctx, tx, c, StateConfirmed, a, nil)
	}
	return nil
}

func (c *Confirmation) complete() bool {
	for _, f := range c.Required {
		if !slices.Contains(c.Satisfied, f) {
			return false
		}
	}
	return true
}

// finish moves pending c to a final state in tx: the result is signed, the
// customer's payee, device and network are remembered (confirmed), and the
// result and a customer notice are queued for the tenant.
func (s *Service) finish(ctx context.Context, tx *store.Tx, c *Confirmation, to State, a Actor, details map[string]string) error {
	if c.State.Final() {
		return fmt.Errorf("%w: confirmation is %s", ErrState, c.State)
	}
	now := s.now()
	res := s.resultOf(c, to, now)
	payload, err := json.Marshal(res)
	if err != nil {
		return err
	}
	jws, err := s.cfg.Signer.SignTyped(ResultType, payload)
	if err != nil {
		return err
	}
	r, err := tx.Exec(ctx, `UPDATE txauth_confirmations SET state = ?, decided_at = ?, result = ?, version = version + 1
		WHERE id = ? AND version = ? AND state = ?`, string(to), store.Micros(now), jws, c.ID, c.version, string(StatePending))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: confirmation changed concurrently", ErrState)
	}
	if details == nil {
		details = map[string]string{}
	}
	details["outcome"], details["factors"] = string(to), joinFactors(c.Satisfied)
	if err := s.record(ctx, tx, a, c.TenantID, "txauth.confirmation."+string(to), c.ID, audit.OutcomeOK, details); err != nil {
		return err
	}
	if to == StateConfirmed && c.Kind == KindTransaction {
		if err := s.remember(ctx, tx, c, now); err != nil {
			return err
		}
	}
	c.State, c.DecidedAt, c.Result, c.version = to, now, jws, c.version+1
	p, _, err := loadPolicy(ctx, tx, c.TenantID)
	if err != nil {
		return err
	}
	url := c.Webhook
	if url == "" {
		url = p.Webhook
	}
	if url != "" {
		subj, err := s.subjectOf(ctx, tx, c.TenantID, c.CustomerID)
		if err != nil {
			return err
		}
		if err := s.cfg.Notifier.Notify(ctx, tx, Notification{TenantID: c.TenantID, EventID: res.EventID, Type: EventDecided, URL: url, Payload: jws, Subject: subj}); err != nil {
			return err
		}
	}
	if p.Webhook != "" && to != StateCancelled {
		return s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, c.ID, NoticeDecided+"."+string(to))
	}
	return nil
}

// remember stores the confirmed transaction's payee, device and network
// for the customer's later new-payee/device/network signals.
func (s *Service) remember(ctx context.Context, tx *store.Tx, c *Confirmation, now time.Time) error {
	var payee, device, network []byte
	if err := tx.QueryRow(ctx, `SELECT payee_key, device_key, network_key FROM txauth_confirmations WHERE id = ?`, c.ID).Scan(&payee, &device, &network); err != nil {
		return err
	}
	for kind, key := range map[string][]byte{"payee": payee, "device": device, "network": network} {
		if len(key) == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_seen (tenant_id, customer_id, kind, key_hash, first_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, c.TenantID, c.CustomerID, kind, key, store.Micros(now)); err != nil {
			return err
		}
	}
	return nil
}

// RunExpiry ends due confirmations every tick until ctx ends (the server
// runs it; webhooks are delivered by the notifier's own worker).
func (s *Service) RunExpiry(ctx context.Context, every time.Duration) {
	periodic.Run(ctx, every, func(ctx context.Context) error { _, err := s.ExpireDue(ctx); return err },
		func(err error) { s.log.ErrorContext(ctx, "txauth: expiring confirmations failed", "err", err) })
}

package txauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Factor is one way a customer confirms a transaction.
type Factor string

// Factors. A policy may name only factors this build verifies
// (Implemented); the others are reserved names.
const (
	// FactorImageCard: the image authentication card (画像認証カード), a
	// possession factor; it does not bind the transaction (see docs).
	FactorImageCard Factor = "image_card"
	// FactorLegacy: the tenant's own older method (e.g. a 乱数表),
	// verified by the tenant and reported to Madoguchi. Refused for a
	// customer once their image card is activated, and for every customer
	// after the policy's LegacyDeadline.
	FactorLegacy   Factor = "legacy"
	FactorPasskey  Factor = "passkey"
	FactorFace     Factor = "face"
	FactorJPKIAuth Factor = "jpki_auth"
	FactorJPKISign Factor = "jpki_sign"
	FactorDevice   Factor = "device"
)

// Implemented lists the factors this build can verify.
var Implemented = []Factor{FactorImageCard, FactorLegacy, FactorPasskey, FactorDevice, FactorJPKIAuth, FactorJPKISign, FactorFace}

// Signals the risk policy reacts to. The first six are computed by the
// server from the customer's history and the request; mitb and rat come
// from the relying service's report (RequestSignals).
const (
	SignalNewPayee     = "new_payee"     // no earlier confirmed transfer to this account
	SignalPayeeChanged = "payee_changed" // the payee was changed since the customer's session began
	SignalVelocity     = "velocity"      // more confirmations than allowed in the window
	SignalUnusualHour  = "unusual_hour"  // inside the policy's unusual hours (JST)
	SignalNewDevice    = "new_device"    // device id never confirmed before
	SignalNewNetwork   = "new_network"   // network never confirmed before
	SignalMITB         = "mitb"          // payee or amount edited after display
	SignalRAT          = "rat"           // input timing or device changed mid-flow, remote access
)

var signals = []string{SignalNewPayee, SignalPayeeChanged, SignalVelocity, SignalUnusualHour, SignalNewDevice, SignalNewNetwork, SignalMITB, SignalRAT}

// Policy is a tenant's transaction-authentication policy. Without one a
// tenant cannot ask for confirmations (ErrNoPolicy): nothing is confirmed
// by a default.
type Policy struct {
	// Require is what every transaction needs.
	Require []Factor `json:"require"`
	// SignIn is what a customer needs to sign in at the authorization
	// server (package signin; every factor, one confirmation of kind
	// sign_in): passkey, face or jpki_auth. Empty: the tenant's
	// customers cannot sign in there (nothing is signed in by default).
	SignIn []Factor `json:"sign_in,omitempty"`
	// Rules add factors (and holds) when they match.
	Rules []Rule `json:"rules"`
	// Card configures the image authentication card.
	Card CardRule `json:"card"`
	// Face configures face re-authentication.
	Face FaceRule `json:"face,omitzero"`
	// LegacyDeadline: after it the legacy factor is refused for every
	// customer of the tenant (zero: no deadline).
	LegacyDeadline time.Time `json:"legacy_deadline,omitzero"`
	// Velocity: more than VelocityMax confirmations requested for one
	// customer within VelocityWindowSeconds raises SignalVelocity.
	VelocityMax           int `json:"velocity_max"`
	VelocityWindowSeconds int `json:"velocity_window_seconds"`
	// UnusualHours is [from, to) in Japan time (hours 0-24); from == to
	// means none.
	UnusualHours [2]int `json:"unusual_hours"`
	// ConfirmationTTLSeconds bounds a confirmation (default 600).
	ConfirmationTTLSeconds int `json:"confirmation_ttl_seconds"`
	// GuessAlertCards: image-card failures on at least this many distinct
	// cards of the tenant within GuessWindowSeconds raise a
	// card.guessing_spread alert (default 10 within 600 s).
	GuessAlertCards    int `json:"guess_alert_cards"`
	GuessWindowSeconds int `json:"guess_window_seconds"`
	// Webhook receives the tenant's alerts, card warnings and customer
	// notices (and results of confirmations that name no webhook of their
	// own); "" to pull only.
	Webhook string `json:"webhook,omitempty"`
}

// Rule adds Require when it matches: AmountAtLeast > 0 matches amounts at
// or above it, Signal matches when that signal is raised; when both are
// set both must hold. Hold puts the confirmation on hold for staff; Alert
// raises a monitoring alert.
type Rule struct {
	Name          string   `json:"name"`
	AmountAtLeast int64    `json:"amount_at_least,omitempty"`
	Signal        string   `json:"signal,omitempty"`
	Require       []Factor `json:"require,omitempty"`
	Hold          bool     `json:"hold,omitempty"`
	Alert         bool     `json:"alert,omitempty"`
}

// CardRule configures image cards and their challenges.
type CardRule struct {
	// Candidates is how many pictures are shown per cell, the right one
	// among them (4-25; default 16: 1 in 256 per guess of both cells).
	Candidates int `json:"candidates"`
	// MaxFailures consecutive failures lock the card (1-10, default 5).
	MaxFailures int `json:"max_failures"`
	// ChallengeTTLSeconds is how long one challenge can be answered
	// (30-600, default 180).
	ChallengeTTLSeconds int `json:"challenge_ttl_seconds"`
}

// FaceRule configures face re-authentication.
type FaceRule struct {
	// MaxFailures consecutive refused face re-authentications of a
	// customer lock the factor (1-10, default 5).
	MaxFailures int `json:"max_failures"`
}

// maxFailures is MaxFailures, or the default for a policy stored before
// the face rule existed.
func (f FaceRule) maxFailures() int {
	if f.MaxFailures == 0 {
		return 5
	}
	return f.MaxFailures
}

// ExamplePolicy is a starting point: the image card for everything, the
// legacy method refused from the deadline; new payees and changed payees
// alert; MITB and RAT signals hold the transfer for staff. Factors this
// build does not verify (passkeys, JPKI for high amounts) are not in it.
func ExamplePolicy() Policy {
	return Policy{
		Require: []Factor{FactorImageCard},
		Rules: []Rule{
			{Name: "new payee", Signal: SignalNewPayee, Alert: false},
			{Name: "payee changed in session", Signal: SignalPayeeChanged, Alert: true},
			{Name: "velocity", Signal: SignalVelocity, Alert: true, Hold: true},
			{Name: "man in the browser", Signal: SignalMITB, Alert: true, Hold: true},
			{Name: "remote access", Signal: SignalRAT, Alert: true, Hold: true},
		},
		Card:                   CardRule{Candidates: 16, MaxFailures: 5, ChallengeTTLSeconds: 180},
		Face:                   FaceRule{MaxFailures: 5},
		VelocityMax:            5,
		VelocityWindowSeconds:  3600,
		UnusualHours:           [2]int{0, 5},
		ConfirmationTTLSeconds: 600,
		GuessAlertCards:        10,
		GuessWindowSeconds:     600,
	}
}

// ErrInvalidPolicy: a policy breaks a rule of Validate.
var ErrInvalidPolicy = errors.New("txauth: invalid policy")

// Validate checks the policy and fills defaults.
func (p *Policy) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, a...)...)
	}
	checkFactors := func(where string, fs []Factor) error {
		for _, f := range fs {
			if !slices.Contains(Implemented, f) {
				return bad("%s: factor %q is not verified by this build (implemented: %v)", where, f, Implemented)
			}
		}
		return nil
	}
	if len(p.Require) == 0 {
		return bad("require must name at least one factor")
	}
	if err := checkFactors("require", p.Require); err != nil {
		return err
	}
	for _, f := range p.SignIn {
		if !slices.Contains(SignInFactors, f) {
			return bad("sign_in: factor %q cannot sign a customer in (one of %v)", f, SignInFactors)
		}
	}
	if len(p.Rules) > 64 {
		return bad("at most 64 rules")
	}
	for i, r := range p.Rules {
		if r.AmountAtLeast <= 0 && r.Signal == "" {
			return bad("rule %d: set amount_at_least or signal", i)
		}
		if r.AmountAtLeast < 0 || r.AmountAtLeast > MaxAmountJPY {
			return bad("rule %d: amount_at_least out of range", i)
		}
		if r.Signal != "" && !slices.Contains(signals, r.Signal) {
			return bad("rule %d: unknown signal (one of %v)", i, signals)
		}
		if !displayText(r.Name, 64) {
			return bad("rule %d: name must be at most 64 printable characters", i)
		}
		if err := checkFactors(fmt.Sprintf("rule %d", i), r.Require); err != nil {
			return err
		}
	}
	c := &p.Card
	if c.Candidates == 0 {
		c.Candidates = 16
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.ChallengeTTLSeconds == 0 {
		c.ChallengeTTLSeconds = 180
	}
	switch {
	case c.Candidates < 4 || c.Candidates > 25:
		return bad("card.candidates must be 4 to 25")
	case c.MaxFailures < 1 || c.MaxFailures > 10:
		return bad("card.max_failures must be 1 to 10")
	case c.ChallengeTTLSeconds < 30 || c.ChallengeTTLSeconds > 600:
		return bad("card.challenge_ttl_seconds must be 30 to 600")
	}
	if p.Face.MaxFailures == 0 {
		p.Face.MaxFailures = 5
	}
	if p.Face.MaxFailures < 1 || p.Face.MaxFailures > 10 {
		return bad("face.max_failures must be 1 to 10")
	}
	if p.ConfirmationTTLSeconds == 0 {
		p.ConfirmationTTLSeconds = 600
	}
	if p.ConfirmationTTLSeconds < 60 || p.ConfirmationTTLSeconds > 3600 {
		return bad("confirmation_ttl_seconds must be 60 to 3600")
	}
	if p.VelocityMax < 0 || p.VelocityWindowSeconds < 0 || (p.VelocityMax > 0) != (p.VelocityWindowSeconds > 0) {
		return bad("velocity_max and velocity_window_seconds go together and are not negative")
	}
	for _, h := range p.UnusualHours {
		if h < 0 || h > 24 {
			return bad("unusual_hours are hours 0 to 24")
		}
	}
	if p.GuessAlertCards == 0 {
		p.GuessAlertCards = 10
	}
	if p.GuessWindowSeconds == 0 {
		p.GuessWindowSeconds = 600
	}
	if p.GuessAlertCards < 2 || p.GuessWindowSeconds < 60 || p.GuessWindowSeconds > 86400 {
		return bad("guess_alert_cards must be at least 2 and guess_window_seconds 60 to 86400")
	}
	if p.Webhook != "" {
		u, err := url.Parse(p.Webhook)
		if err != nil || len(p.Webhook) > 2048 || u.Host == "" || u.User != nil || u.Fragment != "" || (u.Scheme != "https" && u.Scheme != "http") {
			return bad("webhook must be an absolute http(s) URL without credentials or fragment")
		}
	}
	return nil
}

// Assessment is what the policy asks of one confirmation.
type Assessment struct {
	Required []Factor `json:"required"`
	Signals  []string `json:"signals"`
	Rules    []string `json:"rules"` // names of the rules that matched
	Hold     bool     `json:"hold"`
	Alert    bool     `json:"alert"`
}

// Assess applies the policy to a transaction and its raised signals. It is
// a pure function of its inputs.
func (p *Policy) Assess(t *Transaction, raised map[string]bool) Assessment {
	a := Assessment{Required: slices.Clone(p.Require), Signals: []string{}, Rules: []string{}}
	for _, s := range signals {
		if raised[s] {
			a.Signals = append(a.Signals, s)
		}
	}
	for _, r := range p.Rules {
		if r.AmountAtLeast > 0 && t.AmountJPY < r.AmountAtLeast {
			continue
		}
		if r.Signal != "" && !raised[r.Signal] {
			continue
		}
		a.Rules = append(a.Rules, r.Name)
		a.Required = append(a.Required, r.Require...)
		a.Hold = a.Hold || r.Hold
		a.Alert = a.Alert || r.Alert
	}
	slices.Sort(a.Required)
	a.Required = slices.Compact(a.Required)
	return a
}

// unusualHour reports whether t falls in [from, to) Japan time (wrapping
// past midnight when from > to).
func (p *Policy) unusualHour(t time.Time) bool {
	from, to := p.UnusualHours[0], p.UnusualHours[1]
	if from == to {
		return false
	}
	h := t.In(jst).Hour()
	if from < to {
		return h >= from && h < to
	}
	return h >= from || h < to
}

var jst = time.FixedZone("JST", 9*60*60)

// MaxPolicyBytes bounds a policy document.
const MaxPolicyBytes = 64 << 10

// ParsePolicy decodes a policy strictly and validates it.
func ParsePolicy(b []byte) (Policy, error) {
	var p Policy
	if len(b) > MaxPolicyBytes {
		return p, fmt.Errorf("%w: more than %d bytes", ErrInvalidPolicy, MaxPolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("%w: trailing data", ErrInvalidPolicy)
	}
	return p, p.Validate()
}

// SetPolicy stores the tenant's policy (validated), bumping its version,
// with an audit entry in the same transaction.
func (s *Service) SetPolicy(ctx context.Context, a Actor, tenant string, p Policy) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	var ver int
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		now := store.Micros(s.now())
		err := tx.QueryRow(ctx, `SELECT version FROM txauth_policies WHERE tenant_id = ?`, tenant).Scan(&ver)
		switch {
		case err == nil:
			ver++
			_, err = tx.Exec(ctx, `UPDATE txauth_policies SET version = ?, policy = ?, updated_at = ? WHERE tenant_id = ?`, ver, string(b), now, tenant)
		case errors.Is(err, store.ErrNotFound):
			ver = 1
			_, err = tx.Exec(ctx, `INSERT INTO txauth_policies (tenant_id, version, policy, updated_at) VALUES (?, ?, ?, ?)`, tenant, ver, string(b), now)
		}
		if err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.policy.set", "txpolicy/"+tenant, audit.OutcomeOK, map[string]string{"version": fmt.Sprint(ver)})
	})
	return ver, err
}

// Policy returns the tenant's policy and version, or ErrNoPolicy.
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, int, error) {
	return loadPolicy(ctx, s.db, tenant)
}

type rowQuerier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

func loadPolicy(ctx context.Context, q rowQuerier, tenant string) (Policy, int, error) {
	var (
		raw string
		ver int
		p   Policy
	)
	err := q.QueryRow(ctx, `SELECT policy, version FROM txauth_policies WHERE tenant_id = ?`, tenant).Scan(&raw, &ver)
	if errors.Is(err, store.ErrNotFound) {
		return p, 0, ErrNoPolicy
	} else if err != nil {
		return p, 0, err
	}
	if err := json.Unmarshal([]byte(raw), &p); err != nil {
		return p, 0, fmt.Errorf("txauth: stored policy unreadable: %w", err)
	}
	return p, ver, nil
}

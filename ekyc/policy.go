package ekyc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/internal/policystore"
	"github.com/madoguchi/madoguchi/store"
)

// Action is what a failed check does to a session: reject it outright or
// refer it to a person (目視審査).
type Action string

// Actions.
const (
	Reject Action = "reject"
	Review Action = "review"
)

// Policy is a tenant's eKYC rules. It is stored per tenant; a tenant without
// a policy cannot open sessions (ErrNoPolicy): there is no built-in default
// that could approve anyone silently.
type Policy struct {
	// Methods lists the API names offered ("he", "ho", "wa").
	Methods []string `json:"methods"`
	// OfferHoAfterAmendment keeps ホ on or after 2027-04-01, for the
	// amendment's exceptions only. Default false: ホ is refused then.
	OfferHoAfterAmendment bool `json:"offer_ho_after_amendment"`
	// FaceMatch is the 1:1 selfie-to-reference rule: the score must exceed
	// Threshold, which the tenant states was calibrated at TargetFMR, and the
	// engine's own calibration must say Match.
	FaceMatch FaceMatchRule `json:"face_match"`
	// Liveness is the PAD and active-challenge rule.
	Liveness LivenessRule `json:"liveness"`
	// MinSelfieFrames is the least number of selfie frames (default 4).
	MinSelfieFrames int `json:"min_selfie_frames"`
	// ChallengeSteps is the length of the random active challenge (2-4).
	ChallengeSteps int `json:"challenge_steps"`
	// Actions maps a reason code (see Reason) to reject or review; codes
	// not listed use DefaultActions.
	Actions map[string]Action `json:"actions,omitempty"`
	// SessionTTL bounds a session from creation to submission (seconds).
	SessionTTLSeconds int `json:"session_ttl_seconds"`
	// CaptureTokenTTL bounds the one-time capture URL (seconds).
	CaptureTokenTTLSeconds int `json:"capture_token_ttl_seconds"`
	// HandoffTTLSeconds bounds a ワ hand-off link (handoff.go): 0 means
	// DefaultHandoffTTL, otherwise 60..600.
	HandoffTTLSeconds int `json:"handoff_ttl_seconds,omitempty"`
	// DeviceSignature is what a chip read without a registered device's
	// signature is (devicekey.go): "" accepted, "reason" a decision reason
	// (chip.device_unsigned, its action in Actions), "refuse" refused at
	// upload. A signature that is sent must verify in every case.
	DeviceSignature string `json:"device_signature,omitempty"`
	// OperatorReview lets the operator's reviewers review this tenant's
	// referred sessions (visual review bought as a service). Default false:
	// only the tenant's own reviewers see its sessions in the portal.
	OperatorReview bool `json:"operator_review,omitempty"`
	// ReviewFourEyes requires a second reviewer for every approval. Without
	// it only approving a session whose automated checks failed (a reason
	// whose default action is reject, referred by this policy) needs one.
	ReviewFourEyes bool `json:"review_four_eyes,omitempty"`
	// ReviewSLASeconds is how soon a referred session should be decided;
	// the review queue shows it overdue after. 0 means DefaultReviewSLA.
	ReviewSLASeconds int `json:"review_sla_seconds,omitempty"`
}

// DefaultHandoffTTL is how long a ワ hand-off link lasts when the policy
// sets no handoff_ttl_seconds: long enough to scan a QR code and open the
// JPKI app, short enough that a photographed code soon stops working.
const DefaultHandoffTTL = 5 * time.Minute

// HandoffTTL is the lifetime of the policy's ワ hand-off links.
func (p Policy) HandoffTTL() time.Duration {
	if p.HandoffTTLSeconds > 0 {
		return time.Duration(p.HandoffTTLSeconds) * time.Second
	}
	return DefaultHandoffTTL
}

// DefaultReviewSLA is the review deadline of a tenant whose policy sets
// none: a referred session should be decided within a day.
const DefaultReviewSLA = 24 * time.Hour

// ReviewSLA is the policy's review deadline.
func (p Policy) ReviewSLA() time.Duration {
	if p.ReviewSLASeconds > 0 {
		return time.Duration(p.ReviewSLASeconds) * time.Second
	}
	return DefaultReviewSLA
}

// FaceMatchRule is the face comparison threshold with the false-match rate
// it was calibrated at.
type FaceMatchRule struct {
	TargetFMR float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	// Consistency is the least similarity between selfie frames (same
	// person throughout).
	Consistency float64 `json:"consistency"`
}

// LivenessRule is the presentation-attack rule.
type LivenessRule struct {
	// MinPAD is the least passive PAD score (each of the engine's
	// "antispoof", "liveness" and, where the engine runs it, "minifas"
	// scores, 0..1; see face.Liveness) on every selfie frame, for every
	// score PAD does not give a threshold of its own.
	MinPAD float64 `json:"min_pad"`
	// PAD sets per-score thresholds (pad.go); unset scores use MinPAD.
	PAD PADThresholds `json:"pad,omitzero"`
	// YawThreshold is the yaw ratio a turn must reach (0..1, default 0.25).
	YawThreshold float64 `json:"yaw_threshold"`
	// EARClosed and EAROpen are the eye-aspect-ratio bounds of a blink.
	EARClosed float64 `json:"ear_closed"`
	EAROpen   float64 `json:"ear_open"`
}

// DefaultActions is what each reason does unless the policy says otherwise.
// Reasons that only a person can resolve are review; evidence of fraud or of
// a failed mandatory check is reject.
func DefaultActions() map[string]Action {
	m := map[string]Action{
		ReasonChipInvalid:        Reject,
		ReasonChipMissing:        Reject,
		ReasonDocumentExpired:    Reject,
		ReasonDocumentImages:     Review,
		ReasonNoFaceSelfie:       Reject,
		ReasonMultipleFaces:      Review,
		ReasonNoFaceReference:    Review,
		ReasonFaceMismatch:       Reject,
		ReasonFaceUncalibrated:   Review,
		ReasonSelfieInconsistent: Reject,
		ReasonPADLow:             Reject,
		ReasonPADUnavailable:     Review,
		ReasonChallengeFailed:    Reject,
		ReasonStaticFrames:       Reject,
		ReasonTooFewSelfies:      Reject,
		ReasonUnsignedAttributes: Review,
		ReasonMethodNotAutomated: Review,
		ReasonEngineFailed:       Review,
		ReasonChipReused:         Reject,
		ReasonChipUnsigned:       Reject,
	}
	maps.Copy(m, imageActions())
	maps.Copy(m, FraudActions())
	return m
}

// ExamplePolicy returns a starting policy for a tenant: ヘ only (ホ is legacy
// and abolished in principle from 2027-04-01), FMR 1e-4 with the given
// threshold (take it from the face engine's calibration file), strict PAD.
// It is a template to store with SetPolicy, not a fallback.
func ExamplePolicy(threshold float64) Policy {
	return Policy{
		Methods:         []string{"he"},
		FaceMatch:       FaceMatchRule{TargetFMR: 1e-4, Threshold: threshold, Consistency: threshold},
		Liveness:        LivenessRule{MinPAD: 0.8, YawThreshold: 0.25, EARClosed: 0.18, EAROpen: 0.24},
		MinSelfieFrames: 4, ChallengeSteps: 3,
		SessionTTLSeconds: 30 * 60, CaptureTokenTTLSeconds: 15 * 60,
	}
}

// Validate checks the policy's ranges.
func (p Policy) Validate() error {
	bad := func(f string) error { return fmt.Errorf("%w: policy %s", ErrInvalidInput, f) }
	if len(p.Methods) == 0 {
		return bad("methods: at least one")
	}
	seen := map[string]bool{}
	for _, m := range p.Methods {
		if _, err := MethodByAPI(m); err != nil || seen[m] {
			return bad("methods: unknown or repeated method")
		}
		seen[m] = true
	}
	fm := p.FaceMatch
	if !(fm.TargetFMR > 0 && fm.TargetFMR <= 1e-2) {
		return bad("face_match.target_fmr: must be in (0, 0.01]")
	}
	if !finiteIn(fm.Threshold, -1, 1) || !finiteIn(fm.Consistency, -1, 1) {
		return bad("face_match.threshold/consistency: must be in [-1, 1]")
	}
	l := p.Liveness
	if !finiteIn(l.MinPAD, 0, 1) || !finiteIn(l.YawThreshold, 0.05, 0.9) {
		return bad("liveness.min_pad in [0,1], yaw_threshold in [0.05,0.9]")
	}
	if err := l.PAD.validate(); err != nil {
		return err
	}
	if !finiteIn(l.EARClosed, 0.01, 1) || !finiteIn(l.EAROpen, 0.01, 1) || l.EARClosed >= l.EAROpen {
		return bad("liveness.ear_closed < ear_open, both in (0,1]")
	}
	if p.MinSelfieFrames < 2 || p.MinSelfieFrames > MaxFrames/2 {
		return bad("min_selfie_frames: 2..20")
	}
	if p.ChallengeSteps < 1 || p.ChallengeSteps > 4 || p.MinSelfieFrames < p.ChallengeSteps+1 {
		return bad("challenge_steps: 1..4 and below min_selfie_frames")
	}
	known := DefaultActions()
	for code, a := range p.Actions {
		if _, ok := known[code]; !ok || (a != Reject && a != Review) {
			return bad("actions: unknown reason or action")
		}
	}
	switch p.DeviceSignature {
	case DeviceSignatureOptional, DeviceSignatureReason, DeviceSignatureRefuse:
	default:
		return bad("device_signature: \"\", \"reason\" or \"refuse\"")
	}
	if p.SessionTTLSeconds < 60 || p.SessionTTLSeconds > 24*3600 {
		return bad("session_ttl_seconds: 60..86400")
	}
	if p.CaptureTokenTTLSeconds < 30 || p.CaptureTokenTTLSeconds > p.SessionTTLSeconds {
		return bad("capture_token_ttl_seconds: 30..session_ttl_seconds")
	}
	if p.HandoffTTLSeconds != 0 && (p.HandoffTTLSeconds < 60 || p.HandoffTTLSeconds > 600) {
		return bad("handoff_ttl_seconds: 0 (default 300) or 60..600")
	}
	if p.ReviewSLASeconds != 0 && (p.ReviewSLASeconds < 300 || p.ReviewSLASeconds > 30*24*3600) {
		return bad("review_sla_seconds: 0 (default) or 300..2592000")
	}
	return nil
}

func finiteIn(x, lo, hi float64) bool { return !math.IsNaN(x) && x >= lo && x <= hi }

// Action returns what reason code does under p.
func (p Policy) Action(code string) Action {
	if a, ok := p.Actions[code]; ok {
		return a
	}
	if a, ok := DefaultActions()[code]; ok {
		return a
	}
	return Review
}

// Offers reports whether p lets a client open a session of method m at t:
// the tenant lists it, the method is in force, and (ホ after the amendment)
// the tenant opted in to the exceptions.
func (p Policy) Offers(m Method, t time.Time) error {
	listed := false
	for _, x := range p.Methods {
		listed = listed || x == m.API
	}
	if !listed {
		return fmt.Errorf("%w: method %s is not offered by this tenant", ErrMethodNotOffered, m.API)
	}
	if t.Before(m.EffectiveFrom) {
		return fmt.Errorf("%w: method %s is not yet in force", ErrMethodNotOffered, m.API)
	}
	if !m.AbolishedFrom.IsZero() && !t.Before(m.AbolishedFrom) && !p.OfferHoAfterAmendment {
		return fmt.Errorf("%w: method %s is abolished in principle from %s", ErrMethodNotOffered, m.API, m.AbolishedFrom.Format(time.DateOnly))
	}
	return nil
}

// SetPolicy stores tenant's policy (validated), bumping its version, with an
// audit entry in the same transaction.
func (s *Service) SetPolicy(ctx context.Context, actor Actor, tenant string, p Policy) (int, error) {
	return StorePolicy(ctx, s.db, s.cfg.Audit, actor, tenant, p, s.now())
}

// StorePolicy is SetPolicy without a Service (for the administration CLI).
// The tenant must exist (foreign key). Whether the change needs a second
// admin (ComparePolicies, Weakening) is the caller's to enforce.
func StorePolicy(ctx context.Context, db *store.DB, a Auditor, actor Actor, tenant string, p Policy, now time.Time) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	var ver int
	err := db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ver, err = StorePolicyTx(ctx, tx, a, actor, tenant, p, now, nil)
		return err
	})
	return ver, err
}

// StorePolicyTx stores tenant's policy inside tx (the transaction of an
// approved dual-control request), bumping its version, with an audit entry
// carrying details besides the version. It returns the new version.
func StorePolicyTx(ctx context.Context, tx *store.Tx, a Auditor, actor Actor, tenant string, p Policy, now time.Time, details map[string]string) (int, error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	ver, err := policystore.Put(ctx, tx, policyTable, tenant, p, now)
	if err != nil {
		return 0, err
	}
	kind := actor.Kind
	if kind == "" {
		kind = audit.ActorSystem
	}
	d := policystore.Details(ver, details)
	_, err = a.Append(ctx, tx, audit.Entry{ActorKind: kind, ActorID: actor.ID, TenantID: tenant, Action: "ekyc.policy.set",
		Object: "policy/" + tenant, RequestID: actor.RequestID, Outcome: audit.OutcomeOK, Details: d})
	return ver, err
}

// LoadPolicyTx is LoadPolicy inside a transaction.
func LoadPolicyTx(ctx context.Context, tx *store.Tx, tenant string) (Policy, int, error) {
	return loadPolicy(ctx, tx, tenant)
}

// Policy returns tenant's stored policy and its version, or ErrNoPolicy.
func (s *Service) Policy(ctx context.Context, tenant string) (Policy, int, error) {
	return loadPolicy(ctx, s.db, tenant)
}

// LoadPolicy is Policy without a Service (for the administration CLI).
func LoadPolicy(ctx context.Context, db *store.DB, tenant string) (Policy, int, error) {
	return loadPolicy(ctx, db, tenant)
}

// MaxPolicyBytes bounds a policy document.
const MaxPolicyBytes = 64 << 10

// ParsePolicy decodes a policy document strictly (unknown fields refused,
// one JSON object, at most MaxPolicyBytes) and validates it.
func ParsePolicy(b []byte) (Policy, error) {
	if len(b) > MaxPolicyBytes {
		return Policy{}, fmt.Errorf("%w: policy over %d bytes", ErrTooLarge, MaxPolicyBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Policy
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("%w: policy is not a valid JSON policy object", ErrInvalidInput)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("%w: trailing data after the policy", ErrInvalidInput)
	}
	return p, p.Validate()
}

type rowQuerier interface {
	QueryRow(ctx context.Context, query string, args ...any) *store.Row
}

// policyTable holds each tenant's policy document (internal/policystore).
const policyTable policystore.Table = "ekyc_policies"

func loadPolicy(ctx context.Context, q policystore.Querier, tenant string) (Policy, int, error) {
	p, ver, err := policystore.Get[Policy](ctx, q, policyTable, tenant)
	if isNotFound(err) {
		return Policy{}, 0, ErrNoPolicy
	}
	if err != nil {
		return Policy{}, 0, fmt.Errorf("ekyc: %w", err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, 0, fmt.Errorf("ekyc: stored policy is invalid: %w", err)
	}
	return p, ver, nil
}

// ExampleReferPolicy is ExamplePolicy with every reason referred to a
// person instead of rejected: for development (`madoguchi dev session
// --refer`) and tests of the review workbench, never for production.
func ExampleReferPolicy(threshold float64) Policy {
	p := ExamplePolicy(threshold)
	p.Actions = map[string]Action{}
	for code := range DefaultActions() {
		p.Actions[code] = Review
	}
	return p
}

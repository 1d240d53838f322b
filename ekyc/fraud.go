package ekyc

// Fraud checks across sessions (package fraud) are consulted through
// FraudChecks, declared here so that ekyc never depends on how they work;
// cmd/madoguchi wires *fraud.Service behind it.
//
// Invariants:
//   - At decision time (ヘ, ホ) the best live selfie template, the verified
//     name and birth date, the document number and the reading device are
//     handed to Check; its findings become decision reasons with the
//     tenant's policy action (FraudActions: review by default).
//   - A final approval enrols the session in the tenant's gallery
//     (Approved) in the transaction that approves it; shredding a subject
//     removes everything the fraud checks hold for it (Forget) in the
//     transaction that shreds it.
//   - A finding's Sessions are the same tenant's sessions only; the
//     reviewer sees both (Reason.Sessions).
//   - Checks that cannot run yet (the gallery is still loading) leave the
//     session submitted, like a busy face engine: never a decision without
//     them.

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
)

// Reason codes of the fraud checks.
const (
	// ReasonDuplicateIdentity: the live face matches an approved subject
	// of the tenant (or of an opted-in tenant) under other personal data.
	ReasonDuplicateIdentity = "face.duplicate_identity"
	// ReasonDuplicateUnchecked: the tenant enabled the duplicate search but
	// states no 1:N threshold for the engine's face model (a model change).
	ReasonDuplicateUnchecked = "face.duplicate_unchecked"
	// ReasonDocumentReused: the document was presented in another session
	// under other personal data or with another face.
	ReasonDocumentReused = "document.reused"
	// ReasonVelocity: too many sessions per device, network or document
	// within a policy window.
	ReasonVelocity = "velocity.exceeded"
	// ReasonWatchlist: the verified identity matches a watchlist entry.
	ReasonWatchlist = "watchlist.hit"
)

// FraudActions are the default actions of the fraud reasons: a person
// looks at every one of them.
func FraudActions() map[string]Action {
	return map[string]Action{
		ReasonDuplicateIdentity: Review, ReasonDuplicateUnchecked: Review, ReasonDocumentReused: Review,
		ReasonVelocity: Review, ReasonWatchlist: Review,
	}
}

// FraudInput is what a fraud check sees of a session.
type FraudInput struct {
	Tenant, Session, Subject string
	Face                     *face.Template
	FaceThreshold            float64
	Name, BirthDate          string
	DocumentKind             string
	DocumentCountry          string
	DocumentNumber           string
	Device                   string
	At                       time.Time
}

// FraudFinding is one fraud signal.
type FraudFinding struct {
	Code, Detail string
	Sessions     []string
	Entry        string
}

// FraudChecks are the cross-session checks. Check runs at decision time
// (and records what later sessions are checked against; idempotent per
// session); Approved enrols an approved session inside tx; Forget removes a
// shredded subject inside tx; Observe records a velocity key (network,
// device) seen by a session. Check returns ErrFraudNotReady when it cannot
// run yet.
type FraudChecks interface {
	Check(ctx context.Context, in FraudInput) ([]FraudFinding, error)
	Approved(ctx context.Context, tx *store.Tx, tenant, session string) error
	Forget(ctx context.Context, tx *store.Tx, tenant, subject string) error
	Observe(ctx context.Context, tenant, session, subject, kind, value string, at time.Time) error
}

// ErrFraudNotReady: the fraud checks cannot run yet (their index is
// loading); the session is decided later.
var ErrFraudNotReady = errors.New("ekyc: fraud checks not ready")

type clientAddrKey struct{}

// WithClientAddr returns ctx carrying the network address of the person
// at the capture page (request-scoped; the web layer sets it), which the
// network velocity rule counts. It is never stored in clear.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

func clientAddr(ctx context.Context) string {
	a, _ := ctx.Value(clientAddrKey{}).(string)
	return a
}

// observeNetwork records the capture page's network for the velocity rules.
func (s *Service) observeNetwork(ctx context.Context, ss *Session) error {
	addr := clientAddr(ctx)
	if s.cfg.Fraud == nil || addr == "" {
		return nil
	}
	return s.cfg.Fraud.Observe(ctx, ss.TenantID, ss.ID, ss.subject, "network", addr, s.now())
}

// fraudCheck runs the fraud checks for a session about to be decided.
func (s *Service) fraudCheck(ctx context.Context, ss *Session, p Policy, an *analysis) ([]FraudFinding, error) {
	if s.cfg.Fraud == nil {
		return nil, nil
	}
	in := FraudInput{Tenant: ss.TenantID, Session: ss.ID, Subject: ss.subject, FaceThreshold: p.FaceMatch.Threshold, At: s.now()}
	for _, fs := range an.selfies {
		if len(fs) > 0 {
			t := largest(fs).Embedding
			in.Face = &t
			break
		}
	}
	if c := an.chip; c != nil && c.Verified {
		str := func(k string) string { v, _ := c.Claims[k].(string); return v }
		in.Name = str("name")
		if in.Name == "" {
			in.Name = strings.TrimSpace(str("family_name") + " " + str("given_name"))
		}
		in.BirthDate = str("birthdate")
		in.DocumentKind, in.DocumentCountry, in.DocumentNumber = string(c.Kind), c.Country, c.DocumentNumber
		in.Device = an.device
	}
	fs, err := s.cfg.Fraud.Check(ctx, in)
	if errors.Is(err, ErrFraudNotReady) {
		return nil, ErrBusy
	}
	return fs, err
}

// addFraudReasons adds the findings to d as reasons under p and sets the
// outcome again.
func addFraudReasons(d *Decision, p Policy, fs []FraudFinding) {
	if len(fs) == 0 {
		return
	}
	for _, f := range fs {
		d.Reasons = append(d.Reasons, Reason{Code: f.Code, Action: p.Action(f.Code), Detail: f.Detail,
			Sessions: f.Sessions, Entry: f.Entry})
	}
	d.Outcome = OutcomeApproved
	for _, r := range d.Reasons {
		if r.Action == Reject {
			d.Outcome = OutcomeRejected
			break
		}
		d.Outcome = OutcomeReview
	}
}

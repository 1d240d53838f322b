package credential

// The branch verifier's logic (`madoguchi branch`): a Counter holds the
// cached trust (issuer keys, the newest status list, the tenant's branch
// keys, the tenant's branch policy), verifies a scanned credential
// offline, films the live face with an active challenge drawn here, and
// decides with ekyc.JudgeLiveFace against the decrypted template. Every
// verification is appended to the device's own tamper-evident log
// (package audit: Merkle tree, signed checkpoints), which the device
// pushes to the server when online.
//
// Invariants:
//   - Nothing is accepted without a status list that is unexpired and not
//     older than the newest one ever installed (a replayed old list is
//     refused and changes nothing).
//   - The decrypted template and camera frames live only in memory, in one
//     session, and are dropped by the decision or after sessionLife.
//   - A credential whose model the engine does not run, or a policy
//     calibrated for another model, is refused, never approximated.

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/face"
	"github.com/madoguchi/madoguchi/store"
)

// BranchEngine is the counter's face engine.
type BranchEngine interface {
	AnalyzeImage(ctx context.Context, img []byte) ([]face.Face, error)
	Model() string
}

// Counter limits.
const (
	MaxBranchFrames = 40
	sessionLife     = 2 * time.Minute
	maxSessions     = 8
)

// Counter is one branch device's verifier.
type Counter struct {
	device   string
	key      ecdh.KeyExchanger
	pinned   map[string]bool // issuer kids accepted
	engine   BranchEngine
	db       *store.DB
	log      *audit.Log
	now      func() time.Time
	rand     io.Reader
	mu       sync.Mutex
	trust    *Trust
	policy   *BranchPolicy
	polErr   string
	bundleAt time.Time
	sessions map[string]*counterSession
}

type counterSession struct {
	id      string
	started time.Time
	steps   []ekyc.Step
	nonce   []byte
	cred    *Verified
	frames  [][]byte
}

// CounterConfig wires a Counter.
type CounterConfig struct {
	Device string
	// DeviceKey unwraps the tenant's branch keys: an *ecdh.PrivateKey, or
	// an HSM key (internal/hsm).
	DeviceKey ecdh.KeyExchanger
	// IssuerKids pins the issuer keys (base64url kids) a bundle may carry.
	IssuerKids []string
	Engine     BranchEngine
	DB         *store.DB // the device's own store (its audit log)
	Log        *audit.Log
	Now        func() time.Time
}

// NewCounter builds a Counter with no trust yet (Install gives it).
func NewCounter(cfg CounterConfig) (*Counter, error) {
	if cfg.Device == "" || cfg.DeviceKey == nil || cfg.Engine == nil || cfg.DB == nil || cfg.Log == nil || len(cfg.IssuerKids) == 0 {
		return nil, errors.New("credential: a counter needs its device id and key, pinned issuer keys, an engine and a log")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Counter{device: cfg.Device, key: cfg.DeviceKey, pinned: map[string]bool{}, engine: cfg.Engine, db: cfg.DB, log: cfg.Log,
		now: cfg.Now, rand: rand.Reader, sessions: map[string]*counterSession{}}
	for _, k := range cfg.IssuerKids {
		c.pinned[k] = true
	}
	return c, nil
}

// Install verifies a bundle and makes it the counter's trust: every issuer
// key pinned, the status list signed by one and not older than the one
// held, the branch keys unwrapped with the device key.
func (c *Counter) Install(b *Bundle) error {
	if b.Device != c.device {
		return fmt.Errorf("%w: bundle for another device", ErrInvalidInput)
	}
	for _, k := range b.IssuerKeys {
		if !c.pinned[k.Kid] {
			return fmt.Errorf("%w: issuer key %s is not pinned on this device", ErrSignature, k.Kid)
		}
	}
	keys, err := ImportKeys(b.IssuerKeys)
	if err != nil {
		return err
	}
	status, err := ParseStatusList(b.StatusList, keys)
	if err != nil {
		return err
	}
	bks := map[uint32]*ecdh.PrivateKey{}
	for _, w := range b.BranchKeys {
		k, err := UnwrapBranchKey(c.key, b.Tenant, c.device, w.Version, w.Wrapped)
		if err != nil {
			return err
		}
		bks[w.Version] = k
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Trust{Issuer: b.Issuer, Keys: keys, Tenant: b.Tenant, BranchKeys: bks, Models: []string{c.engine.Model()}}
	if c.trust != nil {
		if c.trust.Tenant != b.Tenant || c.trust.Issuer != b.Issuer {
			return fmt.Errorf("%w: bundle for another tenant or issuer", ErrOtherTenant)
		}
		t.Status = c.trust.Status
	}
	if err := t.Update(status); err != nil {
		return err
	}
	c.trust, c.policy, c.polErr, c.bundleAt = t, b.Policy, b.PolicyErr, c.now()
	return nil
}

// InstallStatus installs a signed status list alone (carried to an
// offline counter); a list older than the one held is ErrStatusReplay.
func (c *Counter) InstallStatus(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.trust == nil {
		return ErrStatusStale
	}
	s, err := ParseStatusList(b, c.trust.Keys)
	if err != nil {
		return err
	}
	return c.trust.Update(s)
}

// CounterStatus is what the page shows the clerk about the cached trust.
type CounterStatus struct {
	Ready        bool      `json:"ready"`
	Tenant       string    `json:"tenant,omitempty"`
	Model        string    `json:"model"`
	StatusIssued time.Time `json:"status_issued,omitzero"`
	StatusAgeSec int64     `json:"status_age_seconds"`
	StatusSeq    uint64    `json:"status_seq"`
	StatusValid  bool      `json:"status_valid"`
	BundleAt     time.Time `json:"bundle_at,omitzero"`
	PolicyError  string    `json:"policy_error,omitempty"`
}

// Status reports the cached trust.
func (c *Counter) Status() CounterStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := CounterStatus{Model: c.engine.Model(), BundleAt: c.bundleAt, PolicyError: c.polErr}
	if c.trust != nil && c.trust.Status != nil {
		now := c.now()
		st.Tenant = c.trust.Tenant
		st.StatusIssued = time.Unix(c.trust.Status.IssuedAt, 0)
		st.StatusAgeSec = int64(c.trust.Status.Age(now).Seconds())
		st.StatusSeq = c.trust.Status.Seq
		st.StatusValid = now.Before(time.Unix(c.trust.Status.Expiry, 0))
		st.Ready = st.StatusValid && c.policy != nil && c.policy.Model == c.engine.Model()
	}
	return st
}

// ScanResult is a credential accepted offline, waiting for the live face.
type ScanResult struct {
	Session   string      `json:"session"`
	Steps     []ekyc.Step `json:"steps"`
	Nonce     string      `json:"nonce"`
	Subject   string      `json:"subject"`
	ExpiresAt time.Time   `json:"expires_at"`
}

// Decision is the counter's answer for the clerk.
type Decision struct {
	Accepted   bool               `json:"accepted"`
	Credential string             `json:"credential,omitempty"`
	Subject    string             `json:"subject,omitempty"`
	Reasons    []string           `json:"reasons"`
	Scores     map[string]float64 `json:"scores,omitempty"`
}

// RefusalCode names a credential refusal for the clerk and the log.
func RefusalCode(err error) string {
	for _, m := range []struct {
		err  error
		code string
	}{
		{ErrOldFormat, "credential.old_format"}, {ErrMalformed, "credential.malformed"}, {ErrSignature, "credential.signature"}, {ErrExpired, "credential.expired"},
		{ErrNotYetValid, "credential.not_yet_valid"}, {ErrRevoked, "credential.revoked"}, {ErrOtherTenant, "credential.other_tenant"},
		{ErrOtherIssuer, "credential.other_issuer"}, {ErrModel, "credential.model"}, {ErrStatusStale, "credential.status_stale"},
		{ErrStatusUnknown, "credential.status_unknown"}, {ErrDecrypt, "credential.decrypt"}, {ErrStatusReplay, "credential.status_replay"},
	} {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return "credential.error"
}

// Scan verifies QR text offline. A refusal is logged and returned as a
// Decision (Accepted false); an accepted credential opens a session.
func (c *Counter) Scan(ctx context.Context, text string) (*ScanResult, *Decision, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	if c.trust == nil {
		d := &Decision{Reasons: []string{"credential.status_stale"}}
		return nil, d, c.logDecision(ctx, "", d)
	}
	v, err := c.trust.Verify(text, c.now())
	if err != nil {
		id := ""
		var r *Refusal
		if errors.As(err, &r) {
			id = r.Claims.ID()
		}
		d := &Decision{Credential: id, Reasons: []string{RefusalCode(err)}}
		return nil, d, c.logDecision(ctx, id, d)
	}
	if c.policy == nil || c.policy.Model != c.engine.Model() {
		d := &Decision{Credential: v.Claims.ID(), Reasons: []string{ekyc.ReasonFaceUncalibrated}}
		return nil, d, c.logDecision(ctx, d.Credential, d)
	}
	if len(c.sessions) >= maxSessions {
		return nil, nil, fmt.Errorf("%w: too many verifications at once", ErrState)
	}
	steps, err := ekyc.NewChallenge(c.rand, max(1, c.policy.ChallengeSteps))
	if err != nil {
		return nil, nil, err
	}
	id, nonce := make([]byte, 16), make([]byte, 16)
	if _, err := io.ReadFull(c.rand, id); err != nil {
		return nil, nil, err
	}
	if _, err := io.ReadFull(c.rand, nonce); err != nil {
		return nil, nil, err
	}
	s := &counterSession{id: base64.RawURLEncoding.EncodeToString(id), started: c.now(), steps: steps, nonce: nonce, cred: v}
	c.sessions[s.id] = s
	return &ScanResult{Session: s.id, Steps: steps, Nonce: base64.RawURLEncoding.EncodeToString(nonce),
		Subject: v.Claims.Subject, ExpiresAt: time.Unix(v.Claims.Expiry, 0)}, nil, nil
}

// Frame adds a camera frame to a session, with the nonce the previous
// answer gave; it returns the next nonce.
func (c *Counter) Frame(session, nonce string, img []byte) (string, error) {
	if len(img) == 0 || len(img) > ekyc.MaxImageBytes {
		return "", fmt.Errorf("%w: a frame is 1 to %d bytes", ErrInvalidInput, ekyc.MaxImageBytes)
	}
	got, _ := base64.RawURLEncoding.DecodeString(nonce)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expire()
	s, ok := c.sessions[session]
	if !ok {
		return "", ErrNotFound
	}
	if subtle.ConstantTimeCompare(got, s.nonce) != 1 {
		return "", fmt.Errorf("%w: stale or reused frame nonce", ErrState)
	}
	if len(s.frames) >= MaxBranchFrames {
		return "", fmt.Errorf("%w: at most %d frames", ErrInvalidInput, MaxBranchFrames)
	}
	next := make([]byte, 16)
	if _, err := io.ReadFull(c.rand, next); err != nil {
		return "", err
	}
	s.frames = append(s.frames, img)
	s.nonce = next
	return base64.RawURLEncoding.EncodeToString(next), nil
}

// Decide analyses the session's frames and decides; the session ends.
func (c *Counter) Decide(ctx context.Context, session string) (*Decision, error) {
	c.mu.Lock()
	c.expire()
	s, ok := c.sessions[session]
	delete(c.sessions, session)
	pol := c.policy
	c.mu.Unlock()
	if !ok {
		return nil, ErrNotFound
	}
	live := make([]ekyc.LiveFrame, 0, len(s.frames))
	for _, img := range s.frames {
		fs, err := c.engine.AnalyzeImage(ctx, img)
		switch {
		case errors.Is(err, face.ErrNoFace):
			live = append(live, ekyc.LiveFrame{})
		case errors.Is(err, face.ErrBusy), errors.Is(err, context.Canceled):
			return nil, err
		default:
			live = append(live, ekyc.LiveFrame{Faces: fs, Undecodable: err != nil})
		}
	}
	d := &Decision{Credential: s.cred.Claims.ID(), Subject: s.cred.Claims.Subject}
	if pol == nil || pol.Model != c.engine.Model() {
		d.Reasons = []string{ekyc.ReasonFaceUncalibrated}
	} else {
		rule := ekyc.LiveFaceRule{Liveness: ekyc.LivenessRule{MinPAD: pol.MinPAD, PAD: pol.PAD, YawThreshold: pol.YawThreshold, EARClosed: pol.EARClosed, EAROpen: pol.EAROpen},
			Threshold: pol.Threshold, Consistency: pol.Consistency, MinFrames: pol.MinFrames}
		decide := func(sc face.Score) (face.Decision, error) {
			if float64(sc) > pol.Threshold {
				return face.Match, nil
			}
			return face.NoMatch, nil
		}
		d.Reasons, d.Scores = ekyc.JudgeLiveFace(s.steps, live, s.cred.Template, rule, decide)
	}
	d.Accepted = len(d.Reasons) == 0
	return d, c.logDecision(ctx, d.Credential, d)
}

// expire drops sessions past their life (c.mu held).
func (c *Counter) expire() {
	for id, s := range c.sessions {
		if c.now().Sub(s.started) > sessionLife {
			delete(c.sessions, id)
		}
	}
}

func (c *Counter) logDecision(ctx context.Context, credID string, d *Decision) error {
	outcome := audit.OutcomeDenied
	if d.Accepted {
		outcome = audit.OutcomeOK
	}
	tenant := ""
	if c.trust != nil {
		tenant = c.trust.Tenant
	}
	details := map[string]string{"reasons": strings.Join(d.Reasons, ",")}
	for k, v := range d.Scores {
		details[k] = fmt.Sprintf("%.4f", v)
	}
	if d.Subject != "" {
		details["subject"] = d.Subject
	}
	return c.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := c.log.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorSystem, ActorID: c.device, TenantID: tenant,
			Action: "credential.branch.verify", Object: credID, Outcome: outcome, Details: details})
		return err
	})
}

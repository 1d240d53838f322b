package ekyc

// Method ワ: identity verification by a JPKI signature (署名用電子証明書),
// and re-authentication of a verified customer by the card's
// user-authentication certificate (利用者証明用電子証明書).
//
// Invariants (in addition to the package's):
//   - Without a JPKI verifier (Config.JPKI, which the wiring builds only
//     with trust anchors and a revocation provider) sessions of method wa
//     cannot be created (ErrJPKIDisabled); nothing is "not revoked" by
//     default.
//   - The bytes a card signs are issued by the server (jpki.Challenge:
//     session id, nonce, tenant as relying service, purpose, issued-at and
//     expiry), stored in jpki_challenges, and verified from that store,
//     never from the client. A challenge's nonce is spent once across
//     instances (JPKINonces, table jpki_nonces).
//   - No face comparison: a ワ session is approved only when every jpki
//     check passes; any failed check rejects it with a machine-readable
//     reason (ReasonJPKI*). A revocation provider that cannot answer is not
//     a decision: the caller gets ErrJPKIUnavailable and may retry.
//   - The signed bytes, signature, certificate chain and revocation evidence
//     are sealed under the session's subject and copied into the
//     verification record; only outcome, reasons and check names are stored
//     in clear.
//   - Link keys (issuer + serial of the user-authentication certificate) are
//     stored only as SHA-256 under a tenant-specific label, and only answer
//     for approved sessions whose subject has not been shredded.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/document/jpki"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// JPKI verifies card signatures (*jpki.Verifier).
type JPKI interface {
	VerifySignature(ctx context.Context, challenge []byte, sig jpki.Signature) (*jpki.Result, error)
	VerifyAuthentication(ctx context.Context, challenge []byte, sig jpki.Signature) (*jpki.Result, error)
}

// JPKI errors.
var (
	// ErrJPKIDisabled: no JPKI verifier is configured (missing anchors or
	// revocation provider); method wa and re-authentication are refused.
	ErrJPKIDisabled = errors.New("ekyc: method wa is disabled: no JPKI verifier with a revocation provider is configured")
	// ErrJPKIUnavailable: the revocation provider could not answer (OCSP
	// down, CRL stale or missing); nothing was decided, retry later (503).
	ErrJPKIUnavailable = errors.New("ekyc: JPKI revocation status unavailable")
	// ErrJPKIRejected: a re-authentication signature failed a check; see
	// *JPKIError for the reason.
	ErrJPKIRejected = errors.New("ekyc: JPKI signature rejected")
)

// JPKIError is a failed re-authentication with its reason code.
type JPKIError struct {
	Code   string
	Detail string
}

func (e *JPKIError) Error() string { return "ekyc: JPKI signature rejected: " + e.Code }

// Unwrap makes errors.Is(err, ErrJPKIRejected) true.
func (e *JPKIError) Unwrap() error { return ErrJPKIRejected }

// Reason codes of method ワ. All reject.
const (
	ReasonJPKIMissing         = "jpki.missing"
	ReasonJPKIWrongChallenge  = "jpki.wrong_challenge"
	ReasonJPKIChallengeExpire = "jpki.challenge_expired"
	ReasonJPKIReplayed        = "jpki.replayed"
	ReasonJPKISignature       = "jpki.signature_invalid"
	ReasonJPKICertificate     = "jpki.certificate_invalid"
	ReasonJPKIChain           = "jpki.chain"
	ReasonJPKICertExpired     = "jpki.certificate_expired"
	ReasonJPKIRevoked         = "jpki.revoked"
	ReasonJPKIAuth            = "jpki.auth_invalid"
)

// Challenge purposes (jpki.Challenge.Purpose).
const (
	JPKIPurposeSign   = "ekyc"      // the signing key, for method ワ
	JPKIPurposeLink   = "ekyc-link" // the user-authentication key during onboarding
	JPKIPurposeReauth = "reauth"    // the user-authentication key, later
)

// Limits on what a card's client sends.
const (
	JPKIChallengeLife    = 10 * time.Minute
	MaxJPKISignature     = 32 << 10 // raw signature or CMS
	MaxJPKICertificate   = 8 << 10
	MaxJPKIIntermediates = 3
)

// JPKIChallenge is a challenge issued to a card: Bytes are exactly what the
// card signs (CMS content; SHA-256 of them for the raw form).
type JPKIChallenge struct {
	ID        string
	SessionID string // "" for re-authentication
	Purpose   string
	Bytes     []byte
	ExpiresAt time.Time
}

// JPKISignature is what the card's client returns for one challenge.
type JPKISignature struct {
	// Form is "raw", "cms" or "" (detected from the bytes).
	Form          string
	Signature     []byte
	Certificate   []byte
	Intermediates [][]byte
	// Challenge, if the client echoes it, must equal the issued bytes.
	Challenge []byte
}

// JPKISubmission is a ワ session's evidence: the signing-key signature and,
// optionally, a user-authentication signature that links the card for
// later re-authentication.
type JPKISubmission struct {
	Sign JPKISignature
	Auth *JPKISignature
}

func (g *JPKISignature) validate() error {
	switch {
	case len(g.Signature) == 0 || len(g.Signature) > MaxJPKISignature:
		return fmt.Errorf("%w: signature must be 1-%d bytes", ErrTooLarge, MaxJPKISignature)
	case len(g.Certificate) == 0 || len(g.Certificate) > MaxJPKICertificate:
		return fmt.Errorf("%w: certificate must be 1-%d bytes", ErrTooLarge, MaxJPKICertificate)
	case len(g.Intermediates) > MaxJPKIIntermediates:
		return fmt.Errorf("%w: at most %d intermediate certificates", ErrTooLarge, MaxJPKIIntermediates)
	case len(g.Challenge) > jpki.MaxChallengeSize:
		return fmt.Errorf("%w: challenge over %d bytes", ErrTooLarge, jpki.MaxChallengeSize)
	}
	for _, c := range g.Intermediates {
		if len(c) == 0 || len(c) > MaxJPKICertificate {
			return fmt.Errorf("%w: intermediate certificates must be 1-%d bytes", ErrTooLarge, MaxJPKICertificate)
		}
	}
	switch g.Form {
	case "", "raw", "cms":
	default:
		return fmt.Errorf("%w: form must be raw or cms", ErrInvalidInput)
	}
	return nil
}

func (g *JPKISignature) jpki() jpki.Signature {
	f := jpki.DetectForm(g.Signature)
	switch g.Form {
	case "raw":
		f = jpki.FormRaw
	case "cms":
		f = jpki.FormCMS
	}
	return jpki.Signature{Form: f, Value: g.Signature, Certificate: g.Certificate, Intermediates: g.Intermediates}
}

// jpkiAvailable refuses method wa without a verifier.
func (s *Service) jpkiAvailable(m Method) error {
	if m.NeedsSignature && s.cfg.JPKI == nil {
		return fmt.Errorf("%w: %w", ErrMethodNotOffered, ErrJPKIDisabled)
	}
	return nil
}

// JPKINonces is a jpki.NonceSpender backed by the store (jpki_nonces), so a
// challenge signature is accepted once across every instance.
type JPKINonces struct {
	db  *store.DB
	now func() time.Time
}

// NewJPKINonces returns the store-backed spender; now nil means time.Now.
func NewJPKINonces(db *store.DB, now func() time.Time) *JPKINonces {
	if now == nil {
		now = time.Now
	}
	return &JPKINonces{db: db, now: now}
}

var _ jpki.NonceSpender = (*JPKINonces)(nil)

// nonceKeep is how long past its challenge's expiry a spent nonce is kept:
// instances' clocks may disagree a little.
const nonceKeep = time.Hour

// Spend implements jpki.NonceSpender: fresh is true exactly once per nonce.
func (n *JPKINonces) Spend(ctx context.Context, nonce []byte, exp time.Time) (bool, error) {
	if len(nonce) == 0 || len(nonce) > jpki.MaxNonceSize {
		return false, fmt.Errorf("%w: nonce size", ErrInvalidInput)
	}
	h := sha256.Sum256(nonce)
	if _, err := n.db.Exec(ctx, `DELETE FROM jpki_nonces WHERE expires_at < ?`, store.Micros(n.now().Add(-nonceKeep))); err != nil {
		return false, err
	}
	err := n.db.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO jpki_nonces (nonce_hash, expires_at) VALUES (?, ?)`, h[:], store.Micros(exp))
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// issueJPKI stores a new challenge for (session, purpose), replacing any
// earlier one, and prunes expired challenges.
func (s *Service) issueJPKI(ctx context.Context, tenant, session, purpose string) (*JPKIChallenge, error) {
	id, err := s.newID("jch_")
	if err != nil {
		return nil, err
	}
	bound := session
	if bound == "" {
		bound = id
	}
	now := s.now()
	ch, err := jpki.NewChallenge(s.cfg.Rand, bound, tenant, purpose, now, JPKIChallengeLife)
	if err != nil {
		return nil, err
	}
	b, err := ch.Marshal()
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM jpki_challenges WHERE expires_at < ?`, store.Micros(now.Add(-nonceKeep))); err != nil {
			return err
		}
		if session != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM jpki_challenges WHERE session_id = ? AND purpose = ?`, session, purpose); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO jpki_challenges (id, tenant_id, session_id, purpose, challenge, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, tenant, session, purpose, b, store.Micros(now), store.Micros(ch.ExpiresAt))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &JPKIChallenge{ID: id, SessionID: session, Purpose: purpose, Bytes: b, ExpiresAt: ch.ExpiresAt}, nil
}

func (s *Service) sessionChallenge(ctx context.Context, q querier, ss *Session, purpose string) ([]byte, error) {
	var b []byte
	err := q.QueryRow(ctx, `SELECT challenge FROM jpki_challenges WHERE session_id = ? AND tenant_id = ? AND purpose = ?`,
		ss.ID, ss.TenantID, purpose).Scan(&b)
	if isNotFound(err) {
		return nil, fmt.Errorf("%w: no %s challenge was issued for this session", ErrState, purpose)
	}
	return b, err
}

func (s *Service) jpkiSession(ctx context.Context, ss *Session, states ...State) error {
	if !ss.Method.NeedsSignature {
		return fmt.Errorf("%w: this session's method takes no JPKI signature", ErrState)
	}
	if err := s.jpkiAvailable(ss.Method); err != nil {
		return err
	}
	if expired, err := s.expireIfDue(ctx, ss); err != nil || expired {
		return errOr(err, ErrExpired)
	}
	for _, st := range states {
		if ss.State == st {
			return nil
		}
	}
	return fmt.Errorf("%w: JPKI challenges and signatures are accepted only before submission", ErrState)
}

// JPKIChallenges issues the session's challenges to the capture page or app
// holding key: one for the signing key (purpose "ekyc") and one for the
// user-authentication key (purpose "ekyc-link", optional to sign). Calling
// it again replaces them.
func (s *Service) JPKIChallenges(ctx context.Context, key string) ([]JPKIChallenge, error) {
	ss, _, err := s.sessionByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.jpkiSession(ctx, ss, StateCapturing); err != nil {
		return nil, err
	}
	return s.issueBoth(ctx, ss)
}

// JPKIChallengesForDevice issues the challenges to a registered device
// (kiosk) of the session's tenant; the session may be created or capturing.
func (s *Service) JPKIChallengesForDevice(ctx context.Context, a Actor, tenant, id string) ([]JPKIChallenge, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if err := s.jpkiSession(ctx, ss, StateCreated, StateCapturing); err != nil {
		return nil, err
	}
	return s.issueBoth(ctx, ss)
}

func (s *Service) issueBoth(ctx context.Context, ss *Session) ([]JPKIChallenge, error) {
	var out []JPKIChallenge
	for _, p := range []string{JPKIPurposeSign, JPKIPurposeLink} {
		c, err := s.issueJPKI(ctx, ss.TenantID, ss.ID, p)
		if err != nil {
			return nil, err
		}
		out = append(out, *c)
	}
	return out, nil
}

// SubmitJPKI verifies the capture page's or app's signature(s), ends
// capture and decides the session (approved or rejected).
func (s *Service) SubmitJPKI(ctx context.Context, key string, sub JPKISubmission) (*Session, error) {
	ss, _, err := s.sessionByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	if err := s.jpkiSession(ctx, ss, StateCapturing); err != nil {
		return nil, err
	}
	return s.submitJPKI(ctx, ss, Actor{Kind: audit.ActorSystem, ID: "capture-page"}, sub)
}

// SubmitJPKIFromDevice is SubmitJPKI for a registered device (kiosk) of the
// session's tenant.
func (s *Service) SubmitJPKIFromDevice(ctx context.Context, a Actor, tenant, id string, sub JPKISubmission) (*Session, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if err := s.jpkiSession(ctx, ss, StateCreated, StateCapturing); err != nil {
		return nil, err
	}
	return s.submitJPKI(ctx, ss, a, sub)
}

// jpkiEvidence is the sealed part of an ekyc_jpki row.
type jpkiEvidence struct {
	Received     jpkiReceived              `json:"received"`
	Sign         *jpki.Record              `json:"sign,omitempty"`
	Auth         *jpki.Record              `json:"auth,omitempty"`
	Evidence     *jpki.ElectronicSignature `json:"evidence,omitempty"`
	Claims       map[string]any            `json:"claims,omitempty"`
	NameExact    bool                      `json:"name_exact"`
	AddressExact bool                      `json:"address_exact"`
}

// jpkiReceived is what the client sent, kept even when a check failed.
type jpkiReceived struct {
	Challenge     []byte   `json:"challenge"`
	Signature     []byte   `json:"signature"`
	Certificate   []byte   `json:"certificate"`
	Intermediates [][]byte `json:"intermediates,omitempty"`
	AuthSignature []byte   `json:"auth_signature,omitempty"`
	AuthCert      []byte   `json:"auth_certificate,omitempty"`
}

// JPKIRecord is the JPKI part of a verification record (ワ).
type JPKIRecord struct {
	Source     string                    `json:"source"` // "capture-page" or the device's client id
	ReceivedAt time.Time                 `json:"received_at"`
	Verified   bool                      `json:"verified"`
	Checks     []jpki.Check              `json:"checks"`
	Sign       *jpki.Record              `json:"sign,omitempty"`
	Auth       *jpki.Record              `json:"auth,omitempty"`
	Evidence   *jpki.ElectronicSignature `json:"evidence,omitempty"`
	// NameExact and AddressExact are false when a substitute character
	// (代替文字) may stand in the name or address.
	NameExact    bool         `json:"name_exact"`
	AddressExact bool         `json:"address_exact"`
	Received     jpkiReceived `json:"received"`
}

func jpkiAAD(session string) []byte { return vault.AAD("ekyc.jpki", session) }

// linkHash is what jpki_links stores for a link key.
func linkHash(tenant string, key jpki.Secret) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "madoguchi/jpki/link/v1\x00%s\x00%s", tenant, key.Reveal())
	return h.Sum(nil)
}

// reasonOf maps a verification error to a reason code; infrastructure
// failures (revocation provider, store, context) are returned as errors.
func reasonOf(err error) (string, error) {
	switch {
	case errors.Is(err, jpki.ErrRevocationUnavailable), errors.Is(err, jpki.ErrStaleCRL), errors.Is(err, jpki.ErrCRL),
		errors.Is(err, jpki.ErrOCSP):
		return "", fmt.Errorf("%w: %w", ErrJPKIUnavailable, err)
	case errors.Is(err, jpki.ErrDisabled):
		return "", fmt.Errorf("%w: %w", ErrJPKIDisabled, err)
	case errors.Is(err, jpki.ErrChallengeReplayed):
		return ReasonJPKIReplayed, nil
	case errors.Is(err, jpki.ErrChallengeExpired):
		return ReasonJPKIChallengeExpire, nil
	case errors.Is(err, jpki.ErrContentMismatch), errors.Is(err, jpki.ErrChallengeMalformed):
		return ReasonJPKIWrongChallenge, nil
	case errors.Is(err, jpki.ErrRevoked):
		return ReasonJPKIRevoked, nil
	case errors.Is(err, jpki.ErrValidity):
		return ReasonJPKICertExpired, nil
	case errors.Is(err, jpki.ErrChain):
		return ReasonJPKIChain, nil
	case errors.Is(err, jpki.ErrSignature), errors.Is(err, jpki.ErrSignatureFormat), errors.Is(err, jpki.ErrSignerMismatch),
		errors.Is(err, jpki.ErrSigningTime):
		return ReasonJPKISignature, nil
	case errors.Is(err, jpki.ErrCertificate), errors.Is(err, jpki.ErrKeyUsage), errors.Is(err, jpki.ErrBasicConstraints),
		errors.Is(err, jpki.ErrCriticalExtension), errors.Is(err, jpki.ErrWeakAlgorithm), errors.Is(err, jpki.ErrAttributes),
		errors.Is(err, jpki.ErrTooLarge):
		return ReasonJPKICertificate, nil
	}
	return "", err
}

// failedCheck names the first failed check of a result.
func failedCheck(res *jpki.Result) string {
	if res == nil {
		return ""
	}
	for _, c := range res.Checks {
		if c.Result == "fail" {
			return c.Name
		}
	}
	return ""
}

func (s *Service) submitJPKI(ctx context.Context, ss *Session, a Actor, sub JPKISubmission) (*Session, error) {
	if err := sub.Sign.validate(); err != nil {
		return nil, err
	}
	if sub.Auth != nil {
		if err := sub.Auth.validate(); err != nil {
			return nil, err
		}
	}
	signCh, err := s.sessionChallenge(ctx, s.db, ss, JPKIPurposeSign)
	if err != nil {
		return nil, err
	}
	ev := &jpkiEvidence{Received: jpkiReceived{Challenge: signCh, Signature: sub.Sign.Signature,
		Certificate: sub.Sign.Certificate, Intermediates: sub.Sign.Intermediates}}
	var (
		reasons  []Reason
		checks   []jpki.Check
		link     []byte
		linkNote string
	)
	reject := func(code, detail string) {
		reasons = append(reasons, Reason{Code: code, Action: Reject, Detail: detail})
	}
	if sub.Sign.Challenge != nil && !bytes.Equal(sub.Sign.Challenge, signCh) {
		reject(ReasonJPKIWrongChallenge, "the signed challenge is not the one issued for this session")
	} else {
		res, err := s.cfg.JPKI.VerifySignature(ctx, signCh, sub.Sign.jpki())
		if res != nil {
			checks = res.Checks
		}
		if err != nil {
			code, ierr := reasonOf(err)
			if ierr != nil {
				return nil, ierr
			}
			reject(code, "JPKI check failed: "+failedCheck(res))
		} else if err := s.fillEvidence(ev, res); err != nil {
			return nil, err
		}
	}
	if len(reasons) == 0 && sub.Auth != nil {
		ev.Received.AuthSignature, ev.Received.AuthCert = sub.Auth.Signature, sub.Auth.Certificate
		authCh, err := s.sessionChallenge(ctx, s.db, ss, JPKIPurposeLink)
		if err != nil {
			return nil, err
		}
		if sub.Auth.Challenge != nil && !bytes.Equal(sub.Auth.Challenge, authCh) {
			reject(ReasonJPKIAuth, "the authentication signature is not over the issued link challenge")
		} else {
			res, err := s.cfg.JPKI.VerifyAuthentication(ctx, authCh, sub.Auth.jpki())
			code, ierr := reasonOf(err)
			switch {
			case err != nil && ierr != nil:
				// The signing nonce is spent: failing now would turn the
				// retry into a replay. The link is optional; decide without
				// it and say so in the audit entry.
				s.log.WarnContext(ctx, "ekyc: JPKI link not recorded", "session", ss.ID, "err", ierr)
				linkNote = "unavailable"
			case err != nil:
				reject(ReasonJPKIAuth, "user-authentication certificate: "+code+" ("+failedCheck(res)+")")
			default:
				if ev.Auth, err = res.Record(); err != nil {
					return nil, err
				}
				link = linkHash(ss.TenantID, res.LinkKey())
			}
		}
	}
	if len(reasons) > 0 {
		ev.Claims, ev.Evidence = nil, nil
	}
	return s.storeJPKI(ctx, ss, a, ev, reasons, checks, link, linkNote)
}

func (s *Service) fillEvidence(ev *jpkiEvidence, res *jpki.Result) error {
	rec, err := res.Record()
	if err != nil {
		return err
	}
	es, err := res.Evidence(s.cfg.PublicURL)
	if err != nil {
		return err
	}
	cl, err := res.Claims()
	if err != nil {
		return err
	}
	ev.Sign, ev.Evidence, ev.Claims = rec, &es, cl.Reveal()
	ev.NameExact, ev.AddressExact = cl.NameExact, cl.AddressExact
	return nil
}

// storeJPKI seals the evidence, ends capture (-> submitted) and decides.
func (s *Service) storeJPKI(ctx context.Context, ss *Session, a Actor, ev *jpkiEvidence, reasons []Reason, checks []jpki.Check, link []byte, linkNote string) (*Session, error) {
	if reasons == nil {
		reasons = []Reason{}
	}
	if checks == nil {
		checks = []jpki.Check{}
	}
	rj, err := json.Marshal(reasons)
	if err != nil {
		return nil, err
	}
	cj, err := json.Marshal(checks)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	source := a.ID
	now := s.now()
	codes := make([]string, len(reasons))
	for i, r := range reasons {
		codes[i] = r.Code
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, subjectOf(ss.TenantID, ss.subject), jpkiAAD(ss.ID), body)
		if err != nil {
			return err
		}
		verified := 0
		if len(reasons) == 0 {
			verified = 1
		}
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_jpki (session_id, tenant_id, source, verified, reasons, checks, evidence, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, ss.ID, ss.TenantID, source, verified, string(rj), string(cj), sealed, store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: a JPKI signature was already received for this session", ErrAlreadyReceived)
			}
			return err
		}
		if link != nil && verified == 1 {
			if _, err := tx.Exec(ctx, `INSERT INTO jpki_links (tenant_id, link_hash, session_id, created_at) VALUES (?, ?, ?, ?)`,
				ss.TenantID, link, ss.ID, store.Micros(now)); err != nil {
				return err
			}
		}
		if err := s.record(ctx, tx, a, ss.TenantID, "ekyc.jpki.submit", ss.ID, audit.OutcomeOK,
			map[string]string{"verified": fmt.Sprint(verified == 1), "reasons": strings.Join(codes, ","), "linked": fmt.Sprint(link != nil && verified == 1),
				"link_note": linkNote}); err != nil {
			return err
		}
		if ss.State == StateCreated {
			if err := s.move(ctx, tx, ss, StateCapturing, OutcomeNone, a, "ekyc.capture.start", map[string]string{"by": "device"},
				"token_used = 1, capture_started_at = ?", store.Micros(now)); err != nil {
				return err
			}
		}
		return s.move(ctx, tx, ss, StateSubmitted, OutcomeNone, a, "ekyc.session.submit", nil, "submitted_at = ?", store.Micros(now))
	})
	if err != nil {
		return nil, err
	}
	ss.SubmittedAt = now
	if err := s.decide(ctx, ss); err != nil {
		return nil, err
	}
	return s.Get(ctx, ss.TenantID, ss.ID)
}

// decideJPKI decides a submitted ワ session from its ekyc_jpki row: approved
// when every check passed, rejected otherwise (also when no signature was
// ever received).
func (s *Service) decideJPKI(ctx context.Context, ss *Session) error {
	_, pver, err := loadPolicy(ctx, s.db, ss.TenantID)
	if err != nil {
		return err
	}
	var (
		verified int
		rj       string
	)
	err = s.db.QueryRow(ctx, `SELECT verified, reasons FROM ekyc_jpki WHERE session_id = ? AND tenant_id = ?`, ss.ID, ss.TenantID).Scan(&verified, &rj)
	d := &Decision{Scores: map[string]float64{}, Thresholds: map[string]float64{}, Models: map[string]string{},
		PolicyVersion: pver, DecidedAt: s.now(), DecidedBy: "system"}
	switch {
	case isNotFound(err):
		d.Reasons = []Reason{{Code: ReasonJPKIMissing, Action: Reject, Detail: "no JPKI signature was received"}}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal([]byte(rj), &d.Reasons); err != nil {
			return fmt.Errorf("ekyc: stored JPKI reasons unreadable: %w", err)
		}
		if verified == 1 && len(d.Reasons) != 0 || verified == 0 && len(d.Reasons) == 0 {
			return errors.New("ekyc: stored JPKI outcome inconsistent")
		}
	}
	d.Outcome = OutcomeApproved
	if len(d.Reasons) > 0 {
		d.Outcome = OutcomeRejected
	}
	return s.commitDecision(ctx, ss, d, System, nil)
}

// jpkiIntoRecord copies the session's JPKI evidence into its verification
// record (in the record's transaction).
func (s *Service) jpkiIntoRecord(ctx context.Context, tx *store.Tx, ss *Session, rec *Record) error {
	var (
		source     string
		verified   int
		cj         string
		sealed     []byte
		receivedAt int64
	)
	err := tx.QueryRow(ctx, `SELECT source, verified, checks, evidence, received_at FROM ekyc_jpki WHERE session_id = ? AND tenant_id = ?`,
		ss.ID, ss.TenantID).Scan(&source, &verified, &cj, &sealed, &receivedAt)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	pt, err := s.cfg.Vault.Open(ctx, tx, subjectOf(ss.TenantID, ss.subject), jpkiAAD(ss.ID), sealed)
	if err != nil {
		return err
	}
	var ev jpkiEvidence
	if err := json.Unmarshal(pt, &ev); err != nil {
		return err
	}
	jr := &JPKIRecord{Source: source, ReceivedAt: store.FromMicros(receivedAt), Verified: verified == 1, Sign: ev.Sign, Auth: ev.Auth,
		Evidence: ev.Evidence, NameExact: ev.NameExact, AddressExact: ev.AddressExact, Received: ev.Received}
	if err := json.Unmarshal([]byte(cj), &jr.Checks); err != nil {
		return err
	}
	rec.JPKI = jr
	if jr.Verified {
		rec.Claims = ev.Claims
	}
	return nil
}

// jpkiVerifiedClaims is verified_claims of an approved ワ session: evidence
// electronic_signature, trust framework jp_aml.
func (s *Service) jpkiVerifiedClaims(ss *Session, rec *Record) *VerifiedClaims {
	if rec.JPKI == nil || rec.JPKI.Evidence == nil {
		return nil
	}
	es := rec.JPKI.Evidence
	return &VerifiedClaims{
		Verification: Verification{
			TrustFramework: jpki.TrustFramework,
			AssuranceProcess: AssuranceProcess{
				Policy:    s.cfg.PublicURL + "/policy/jp_aml/ordinance-art6-1-1",
				Procedure: ss.Method.ProcedureURI(s.cfg.PublicURL),
			},
			Time: ss.Decision.DecidedAt.Format(time.RFC3339), VerificationProcess: rec.ID,
			Evidence: []Evidence{{Type: es.Type, SignatureType: es.SignatureType, Issuer: es.Issuer,
				SerialNumber: es.SerialNumber, CreatedAt: es.CreatedAt}},
		},
		Claims: rec.Claims,
	}
}

// ReauthChallenge issues a challenge for a tenant's customer to sign with
// the card's user-authentication key.
func (s *Service) ReauthChallenge(ctx context.Context, a Actor, tenant string) (*JPKIChallenge, error) {
	if s.cfg.JPKI == nil {
		return nil, ErrJPKIDisabled
	}
	c, err := s.issueJPKI(ctx, tenant, "", JPKIPurposeReauth)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		return s.record(ctx, tx, a, tenant, "ekyc.jpki.reauth_challenge", c.ID, audit.OutcomeOK, nil)
	})
	return c, err
}

// Reauth is a successful re-authentication: the card's user-authentication
// certificate is the one linked at the onboarding of SessionID.
type Reauth struct {
	SessionID  string
	Reference  string
	VerifiedAt time.Time
	Checks     []jpki.Check
}

// Reauthenticate verifies a signature over the tenant's re-authentication
// challenge id with the user-authentication key and finds the approved ワ
// session that linked the same certificate. A failed check is a *JPKIError
// (ErrJPKIRejected); a valid signature linked to no session is ErrNotFound.
func (s *Service) Reauthenticate(ctx context.Context, a Actor, tenant, challengeID string, sig JPKISignature) (*Reauth, error) {
	if s.cfg.JPKI == nil {
		return nil, ErrJPKIDisabled
	}
	if err := sig.validate(); err != nil {
		return nil, err
	}
	if challengeID == "" || len(challengeID) > 64 {
		return nil, ErrNotFound
	}
	var ch []byte
	err := s.db.QueryRow(ctx, `SELECT challenge FROM jpki_challenges WHERE id = ? AND tenant_id = ? AND purpose = ? AND session_id = ''`,
		challengeID, tenant, JPKIPurposeReauth).Scan(&ch)
	if isNotFound(err) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	deny := func(reason string) {
		if err := s.db.InTx(ctx, func(tx *store.Tx) error {
			return s.record(ctx, tx, a, tenant, "ekyc.jpki.reauth", challengeID, audit.OutcomeDenied, map[string]string{"reason": reason})
		}); err != nil {
			s.log.ErrorContext(ctx, "ekyc: audit of a refused re-authentication failed", "err", err)
		}
	}
	if sig.Challenge != nil && !bytes.Equal(sig.Challenge, ch) {
		deny(ReasonJPKIWrongChallenge)
		return nil, &JPKIError{Code: ReasonJPKIWrongChallenge, Detail: "not the issued challenge"}
	}
	res, err := s.cfg.JPKI.VerifyAuthentication(ctx, ch, sig.jpki())
	if err != nil {
		code, ierr := reasonOf(err)
		if ierr != nil {
			return nil, ierr
		}
		deny(code)
		return nil, &JPKIError{Code: code, Detail: "JPKI check failed: " + failedCheck(res)}
	}
	var out *Reauth
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		var id, ref string
		err := tx.QueryRow(ctx, `SELECT s.id, s.reference FROM jpki_links l JOIN ekyc_sessions s ON s.id = l.session_id
			WHERE l.tenant_id = ? AND l.link_hash = ? AND s.tenant_id = l.tenant_id AND s.outcome = 'approved'
			AND NOT EXISTS (SELECT 1 FROM ekyc_retention r WHERE r.session_id = s.id AND r.shredded_at > 0)
			ORDER BY l.created_at DESC LIMIT 1`, tenant, linkHash(tenant, res.LinkKey())).Scan(&id, &ref)
		if isNotFound(err) {
			return s.record(ctx, tx, a, tenant, "ekyc.jpki.reauth", challengeID, audit.OutcomeDenied, map[string]string{"reason": "not_linked"})
		} else if err != nil {
			return err
		}
		out = &Reauth{SessionID: id, Reference: ref, VerifiedAt: res.VerifiedAt, Checks: res.Checks}
		return s.record(ctx, tx, a, tenant, "ekyc.jpki.reauth", challengeID, audit.OutcomeOK, map[string]string{"session": id})
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, ErrNotFound
	}
	return out, nil
}

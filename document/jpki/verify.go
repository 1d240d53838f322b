package jpki

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"time"
)

// Form is how a signature arrives.
type Form int

// Signature forms produced by JPKI client libraries.
const (
	// FormRaw is the bare RSA PKCS#1 v1.5 signature over SHA-256 of the
	// challenge bytes (what the card's SIGN command returns).
	FormRaw Form = iota + 1
	// FormCMS is a CMS SignedData (RFC 5652) with the challenge as attached or
	// detached content.
	FormCMS
)

func (f Form) String() string {
	switch f {
	case FormRaw:
		return "raw"
	case FormCMS:
		return "cms"
	}
	return fmt.Sprintf("Form(%d)", int(f))
}

// MaxSignatureSize bounds a raw signature or a CMS structure.
const MaxSignatureSize = 64 << 10

// DefaultClockSkew is the tolerance between the server clock and a signing
// time carried in CMS.
const DefaultClockSkew = 2 * time.Minute

// Signature is what a client sends back for a challenge.
type Signature struct {
	Form Form
	// Value is the raw signature (FormRaw) or the DER SignedData (FormCMS).
	Value []byte
	// Certificate is the signer's DER certificate. Required for FormRaw; for
	// FormCMS it may be empty if the SignedData carries the certificate.
	Certificate []byte
	// Intermediates are optional DER CA certificates between the signer and a
	// root (JPKI link certificates); they are trusted only through a root.
	Intermediates [][]byte
}

// RevocationChecker answers whether a certificate is revoked now. It returns
// evidence for the verification record, an error wrapping ErrRevoked (with
// the evidence) if revoked, or another error if the status is unknown or
// cannot be established — never a silent "good".
type RevocationChecker interface {
	CheckRevocation(ctx context.Context, cert, issuer *x509.Certificate) (*RevocationEvidence, error)
}

// RevocationStatus is the outcome of a revocation check.
type RevocationStatus string

// Revocation statuses.
const (
	StatusGood    RevocationStatus = "good"
	StatusRevoked RevocationStatus = "revoked"
)

// RevocationEvidence is what a revocation check relied on, kept in the
// verification record.
type RevocationEvidence struct {
	Method     string           `json:"method"` // "crl" or "ocsp"
	Status     RevocationStatus `json:"status"`
	ThisUpdate time.Time        `json:"this_update"`
	NextUpdate time.Time        `json:"next_update,omitzero"`
	ProducedAt time.Time        `json:"produced_at,omitzero"` // OCSP only
	RevokedAt  time.Time        `json:"revoked_at,omitzero"`
	// Raw is the DER CRL or OCSP response the decision was made on.
	Raw []byte `json:"-"`
}

// Config configures a Verifier. Anchors, Revocation and Spender are required.
type Config struct {
	Anchors    *Anchors
	Revocation RevocationChecker
	Spender    NonceSpender
	Now        func() time.Time // nil: time.Now
	ClockSkew  time.Duration    // 0: DefaultClockSkew
}

// Verifier verifies JPKI signatures. It is safe for concurrent use.
type Verifier struct {
	anchors    *Anchors
	revocation RevocationChecker
	spender    NonceSpender
	now        func() time.Time
	skew       time.Duration
}

// NewVerifier returns a Verifier, or ErrDisabled if a required part of the
// configuration is missing: without a revocation provider the method is off.
func NewVerifier(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Anchors == nil || (len(cfg.Anchors.sign) == 0 && len(cfg.Anchors.auth) == 0):
		return nil, fmt.Errorf("%w: no trust anchors", ErrDisabled)
	case cfg.Revocation == nil:
		return nil, fmt.Errorf("%w: no revocation provider (CRL or OCSP) configured", ErrDisabled)
	case cfg.Spender == nil:
		return nil, fmt.Errorf("%w: no nonce store", ErrDisabled)
	case cfg.ClockSkew < 0:
		return nil, errors.New("jpki: negative clock skew")
	}
	v := &Verifier{anchors: cfg.Anchors, revocation: cfg.Revocation, spender: cfg.Spender, now: cfg.Now, skew: cfg.ClockSkew}
	if v.now == nil {
		v.now = time.Now
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	return v, nil
}

// Check is the outcome of one verification step.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"` // "pass", "fail" or "not_run"
	Detail string `json:"detail,omitempty"`
}

// Check names, in the order they run.
const (
	CheckChallenge          = "challenge"
	CheckSignatureFormat    = "signature_format"
	CheckCertificate        = "certificate"
	CheckSignerID           = "signer_id"
	CheckContent            = "content"
	CheckSignature          = "signature"
	CheckSigningTime        = "signing_time"
	CheckAlgorithms         = "algorithms"
	CheckChain              = "chain"
	CheckBasicConstraints   = "basic_constraints"
	CheckValidity           = "validity"
	CheckKeyUsage           = "key_usage"
	CheckCriticalExtensions = "critical_extensions"
	CheckAttributes         = "attributes"
	CheckRevocation         = "revocation"
	CheckSingleUse          = "single_use"
)

var checkOrder = []string{
	CheckChallenge, CheckSignatureFormat, CheckCertificate, CheckSignerID, CheckContent, CheckSignature,
	CheckSigningTime, CheckAlgorithms, CheckChain, CheckBasicConstraints, CheckValidity, CheckKeyUsage,
	CheckCriticalExtensions, CheckAttributes, CheckRevocation, CheckSingleUse,
}

// Result is a verification outcome. On error, only Usage, Form and Checks
// are set (Checks records which step failed); everything else is set only
// when the whole verification passed.
type Result struct {
	Usage  Usage
	Form   Form
	Checks []Check

	Challenge      *Challenge
	SignedBytes    []byte // the exact challenge bytes the signature covers
	SignatureBytes []byte // the raw signature or CMS as received
	Certificate    *x509.Certificate
	Chain          []*x509.Certificate // leaf first, root last
	SigningTime    time.Time
	VerifiedAt     time.Time
	Revocation     *RevocationEvidence
	Attributes     *Attributes // UsageSign only
}

// LogValue implements slog.LogValuer: the outcome and checks, no personal data.
func (r *Result) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("usage", r.Usage.String()), slog.String("form", r.Form.String())}
	for _, c := range r.Checks {
		if c.Result == "fail" {
			attrs = append(attrs, slog.String("failed", c.Name))
		}
	}
	return slog.GroupValue(attrs...)
}

// run is one verification in progress.
type run struct {
	res    *Result
	next   int
	failed bool
}

func (r *run) check(name string, err error) error {
	for r.next < len(checkOrder) && checkOrder[r.next] != name {
		r.next++
	}
	r.next++
	c := Check{Name: name, Result: "pass"}
	if err != nil {
		c.Result, c.Detail = "fail", err.Error()
		r.failed = true
	}
	r.res.Checks = append(r.res.Checks, c)
	return err
}

// note records a passed check with an explanation.
func (r *run) note(name, detail string) {
	_ = r.check(name, nil)
	r.res.Checks[len(r.res.Checks)-1].Detail = detail
}

// fail records err under name and marks every later check not run. It returns
// the Result with checks only.
func (r *run) fail(name string, err error) (*Result, error) {
	_ = r.check(name, err)
	for ; r.next < len(checkOrder); r.next++ {
		r.res.Checks = append(r.res.Checks, Check{Name: checkOrder[r.next], Result: "not_run"})
	}
	return &Result{Usage: r.res.Usage, Form: r.res.Form, Checks: r.res.Checks}, err
}

// VerifySignature verifies a signature made with a card's signing key
// (署名用電子証明書) over the issued challenge and returns the verified
// attributes. challenge is the exact bytes the server issued (from its own
// session state, never from the client).
func (v *Verifier) VerifySignature(ctx context.Context, challenge []byte, sig Signature) (*Result, error) {
	return v.verify(ctx, UsageSign, challenge, sig)
}

// VerifyAuthentication verifies a signature made with a card's
// user-authentication key (利用者証明用電子証明書) against the
// user-authentication roots. Result.LinkKey matches an earlier record.
func (v *Verifier) VerifyAuthentication(ctx context.Context, challenge []byte, sig Signature) (*Result, error) {
	return v.verify(ctx, UsageAuth, challenge, sig)
}

// signed is what a signature form yields before the common checks.
type signed struct {
	leaf          *x509.Certificate
	intermediates []*x509.Certificate
	signingTime   time.Time // zero: none claimed
	verifySig     func() error
}

func (v *Verifier) verify(ctx context.Context, u Usage, challenge []byte, sig Signature) (*Result, error) {
	r := &run{res: &Result{Usage: u, Form: sig.Form}}
	now := v.now()

	ch, err := ParseChallenge(challenge)
	if err == nil && (now.Before(ch.IssuedAt.Add(-v.skew)) || now.After(ch.ExpiresAt)) {
		err = fmt.Errorf("%w: valid %s to %s", ErrChallengeExpired, ch.IssuedAt.Format(time.RFC3339), ch.ExpiresAt.Format(time.RFC3339))
	}
	if err != nil {
		return r.fail(CheckChallenge, err)
	}
	_ = r.check(CheckChallenge, nil)

	if len(sig.Value) > MaxSignatureSize {
		return r.fail(CheckSignatureFormat, fmt.Errorf("%w: signature of %d bytes (max %d)", ErrTooLarge, len(sig.Value), MaxSignatureSize))
	}
	if len(sig.Intermediates) > MaxIntermediates {
		return r.fail(CheckSignatureFormat, fmt.Errorf("%w: %d intermediates (max %d)", ErrTooLarge, len(sig.Intermediates), MaxIntermediates))
	}
	var s *signed
	switch sig.Form {
	case FormRaw:
		s, err = v.raw(r, challenge, sig)
	case FormCMS:
		s, err = v.cms(r, challenge, ch, sig)
	default:
		return r.fail(CheckSignatureFormat, fmt.Errorf("%w: unknown form %d", ErrSignatureFormat, int(sig.Form)))
	}
	if err != nil {
		return r.fail(r.pending(), err)
	}
	if err := s.verifySig(); err != nil {
		return r.fail(CheckSignature, err)
	}
	_ = r.check(CheckSignature, nil)

	// The signing time: the one claimed in CMS, bounded by the challenge
	// window and by now; else the challenge's issue time.
	signingTime := ch.IssuedAt
	if !s.signingTime.IsZero() {
		upper := ch.ExpiresAt
		if now.Before(upper) {
			upper = now
		}
		if s.signingTime.Before(ch.IssuedAt.Add(-v.skew)) || s.signingTime.After(upper.Add(v.skew)) {
			return r.fail(CheckSigningTime, fmt.Errorf("%w: claimed %s", ErrSigningTime, s.signingTime.UTC().Format(time.RFC3339)))
		}
		signingTime = s.signingTime
	}
	_ = r.check(CheckSigningTime, nil)

	if err := checkAlgorithms(s.leaf); err != nil {
		return r.fail(CheckAlgorithms, err)
	}
	for _, ic := range s.intermediates {
		if err := checkAlgorithms(ic); err != nil {
			return r.fail(CheckAlgorithms, err)
		}
	}
	_ = r.check(CheckAlgorithms, nil)

	chain, err := buildChain(s.leaf, s.intermediates, v.anchors.Roots(u))
	if err != nil {
		return r.fail(CheckChain, err)
	}
	for _, c := range chain[1:] {
		if err := checkAlgorithms(c); err != nil {
			return r.fail(CheckChain, err)
		}
	}
	_ = r.check(CheckChain, nil)
	if err := checkCAs(chain); err != nil {
		return r.fail(CheckBasicConstraints, err)
	}
	_ = r.check(CheckBasicConstraints, nil)
	if err := checkValidity(chain, signingTime); err != nil {
		return r.fail(CheckValidity, err)
	}
	_ = r.check(CheckValidity, nil)
	if err := checkLeafUsage(s.leaf, u); err != nil {
		return r.fail(CheckKeyUsage, err)
	}
	_ = r.check(CheckKeyUsage, nil)
	if err := checkCriticalExtensions(chain); err != nil {
		return r.fail(CheckCriticalExtensions, err)
	}
	_ = r.check(CheckCriticalExtensions, nil)

	var attrs *Attributes
	if u == UsageSign {
		san, ok := extensionValue(s.leaf, oidSubjectAltName)
		if !ok {
			return r.fail(CheckAttributes, fmt.Errorf("%w: no subjectAltName", ErrAttributes))
		}
		if attrs, err = ParseAttributes(san); err != nil {
			return r.fail(CheckAttributes, err)
		}
	}
	_ = r.check(CheckAttributes, nil)

	ev, err := v.revocation.CheckRevocation(ctx, s.leaf, chain[1])
	if err == nil && (ev == nil || ev.Status != StatusGood) {
		err = fmt.Errorf("%w: provider returned no good status", ErrRevocationUnavailable)
	}
	if err != nil {
		return r.fail(CheckRevocation, err)
	}
	_ = r.check(CheckRevocation, nil)

	fresh, err := v.spender.Spend(ctx, ch.Nonce, ch.ExpiresAt)
	if err == nil && !fresh {
		err = ErrChallengeReplayed
	}
	if err != nil {
		return r.fail(CheckSingleUse, err)
	}
	_ = r.check(CheckSingleUse, nil)

	res := r.res
	res.Challenge = ch
	res.SignedBytes = append([]byte(nil), challenge...)
	res.SignatureBytes = append([]byte(nil), sig.Value...)
	res.Certificate = s.leaf
	res.Chain = chain
	res.SigningTime = signingTime
	res.VerifiedAt = now
	res.Revocation = ev
	res.Attributes = attrs
	return res, nil
}

// pending is the name of the first check that has not yet been recorded.
func (r *run) pending() string {
	if r.next < len(checkOrder) {
		return checkOrder[r.next]
	}
	return checkOrder[len(checkOrder)-1]
}

func parseIntermediates(ders [][]byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, d := range ders {
		c, err := ParseCertificate(d)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// raw handles FormRaw: the signature is over SHA-256 of the challenge bytes.
func (v *Verifier) raw(r *run, challenge []byte, sig Signature) (*signed, error) {
	if len(sig.Value) == 0 {
		return nil, fmt.Errorf("%w: empty signature", ErrSignatureFormat)
	}
	_ = r.check(CheckSignatureFormat, nil)
	if len(sig.Certificate) == 0 {
		return nil, fmt.Errorf("%w: a raw signature needs the signer's certificate", ErrCertificate)
	}
	leaf, err := ParseCertificate(sig.Certificate)
	if err != nil {
		return nil, err
	}
	inter, err := parseIntermediates(sig.Intermediates)
	if err != nil {
		return nil, err
	}
	_ = r.check(CheckCertificate, nil)
	// The raw form names no signer: the certificate is bound by the signature
	// check itself. The content is the challenge by construction.
	r.note(CheckSignerID, "raw form: the signature check binds the given certificate")
	r.note(CheckContent, "raw form: the signature covers SHA-256 of the issued challenge")
	digest := sha256.Sum256(challenge)
	return &signed{leaf: leaf, intermediates: inter, verifySig: func() error {
		return verifyRSA(leaf, crypto.SHA256, digest[:], sig.Value)
	}}, nil
}

// verifyRSA checks an RSA PKCS#1 v1.5 signature with the certificate's key.
func verifyRSA(cert *x509.Certificate, h crypto.Hash, digest, sig []byte) error {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: signer key is %T, want RSA", ErrWeakAlgorithm, cert.PublicKey)
	}
	if pub.N.BitLen() < MinRSABits {
		return fmt.Errorf("%w: signer key of %d bits (min %d)", ErrWeakAlgorithm, pub.N.BitLen(), MinRSABits)
	}
	if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
		return ErrSignature
	}
	return nil
}

// LinkKey is a stable identifier of the certificate (issuer and serial
// number) to find an earlier record of the same card: for UsageAuth, the key
// recorded at onboarding. It changes when the card's certificate is renewed.
func (r *Result) LinkKey() Secret {
	if r.Certificate == nil {
		return Secret{}
	}
	return NewSecret(LinkKeyOf(r.Certificate))
}

// LinkKeyOf returns the link key of a certificate: SHA-256 of the DER issuer
// name, "/", and the serial number, both in lower-case hex.
func LinkKeyOf(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawIssuer)
	return fmt.Sprintf("%x/%s", h, new(big.Int).Set(c.SerialNumber).Text(16))
}

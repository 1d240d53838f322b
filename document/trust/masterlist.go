package trust

import (
	"bytes"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/cert"
	"github.com/madoguchi/madoguchi/document/internal/cms"
)

// MaxMasterList bounds a master list file (the German list is under 1 MiB).
const MaxMasterList = cms.MaxSize

var (
	oidCSCAMasterList       = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 2}
	oidMasterListSigningKey = asn1.ObjectIdentifier{2, 23, 136, 1, 1, 3}
)

// ErrSignerNotFromRoot reports a master list whose signer certificate was
// not issued by any of the roots the operator named (another root, or
// another key under the same root name). Refusals carrying it also wrap
// ErrMasterList.
var ErrSignerNotFromRoot = errors.New("trust: the master list signer does not chain to the given root")

// MasterList is a verified ICAO CSCA master list (ICAO 9303 Part 12 §9).
type MasterList struct {
	Version int
	Signer  *cert.Certificate
	// SigningTime is the list's signed signing-time attribute (zero if
	// absent); CheckedAt is the instant the signer and root were checked
	// at: the verification time, or SigningTime with AtSigningTime.
	SigningTime  time.Time
	CheckedAt    time.Time
	Certificates []*cert.Certificate
	// Skipped holds one reviewer-readable reason per certificate in the list
	// that could not be parsed; they are not imported.
	Skipped []string
}

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMasterList}, args...)...)
}

// Policy is the algorithm policy for signature verification (see
// DefaultPolicy): MD5 never, SHA-1 only if allowed, RSA of at least
// MinRSABits.
type Policy = cert.Policy

// DefaultPolicy refuses MD5, SHA-1 and RSA below 2048 bits.
func DefaultPolicy() Policy { return cert.DefaultPolicy() }

// ParseMasterList verifies and decodes a CSCA master list. The list's CMS
// signature must verify with a signer certificate carried in the list that
// is valid at now and signed by one of roots (DER certificates, themselves
// valid at now). The certificates in the list are returned unverified
// individually: the list's signature is what vouches for them.
func ParseMasterList(der []byte, rootsDER [][]byte, now time.Time, pol Policy) (*MasterList, error) {
	return VerifyMasterList(der, rootsDER, VerifyOptions{Now: now, Policy: pol})
}

// VerifyOptions shape VerifyMasterList.
type VerifyOptions struct {
	Now    time.Time
	Policy Policy
	// AtSigningTime checks the signer's and the root's validity at the
	// list's signed signing-time instead of Now: for a list whose signer
	// certificate has expired since it was signed. The operator asks for it
	// explicitly: an expired signer key is no longer protected by its
	// owner, so a list "signed" with it later could be backdated. A list
	// without a signing time, or signed after Now, is refused.
	AtSigningTime bool
}

// maxClockSkew is how far in the future a signing time may lie.
const maxClockSkew = 5 * time.Minute

// VerifyMasterList is ParseMasterList with options.
func VerifyMasterList(der []byte, rootsDER [][]byte, o VerifyOptions) (*MasterList, error) {
	now, pol := o.Now, o.Policy
	if len(rootsDER) == 0 {
		return nil, refuse("no master list signer root given")
	}
	var roots []*cert.Certificate
	for i, r := range rootsDER {
		c, err := cert.Parse(r)
		if err != nil {
			return nil, refuse("signer root %d: %w", i, err)
		}
		roots = append(roots, c)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		return nil, refuse("%w", err)
	}
	if !sd.EContentType.Equal(oidCSCAMasterList) {
		return nil, refuse("content type %v is not id-icao-cscaMasterList", sd.EContentType)
	}
	if sd.EContent == nil {
		return nil, refuse("detached content")
	}
	if len(sd.SignerInfos) != 1 {
		return nil, refuse("%d signers, want 1", len(sd.SignerInfos))
	}
	si := &sd.SignerInfos[0]
	signer, err := findSigner(sd, si)
	if err != nil {
		return nil, err
	}
	if err := verifySignerInfo(sd, si, signer, pol); err != nil {
		return nil, err
	}
	signingTime, stErr := si.SigningTime()
	at := now
	if o.AtSigningTime {
		switch {
		case stErr != nil:
			return nil, refuse("verification at the signing time needs a signing-time attribute: %w", stErr)
		case signingTime.After(now.Add(maxClockSkew)):
			return nil, refuse("signing time %s is in the future", signingTime.UTC().Format(time.RFC3339))
		}
		at = signingTime
	}
	if !signer.ValidAt(at) {
		hint := ""
		if !o.AtSigningTime && at.After(signer.NotAfter) && stErr == nil && signer.ValidAt(signingTime) {
			hint = fmt.Sprintf("; it was valid when the list was signed (%s): verify at the signing time only if you accept a list whose signer has expired",
				signingTime.UTC().Format(time.DateOnly))
		}
		return nil, refuse("master list signer certificate not valid at %s (valid %s to %s)%s",
			at.UTC().Format(time.DateOnly), signer.NotBefore.UTC().Format(time.DateOnly), signer.NotAfter.UTC().Format(time.DateOnly), hint)
	}
	if len(signer.ExtKeyUsage) > 0 && !containsOID(signer.ExtKeyUsage, oidMasterListSigningKey) {
		return nil, refuse("signer certificate lacks the master list signing extended key usage")
	}
	if err := chainToRoot(signer, roots, at, pol); err != nil {
		return nil, err
	}
	var body struct {
		Version int
		Certs   []asn1.RawValue `asn1:"set"`
	}
	if rest, err := asn1.Unmarshal(sd.EContent, &body); err != nil || len(rest) != 0 {
		return nil, refuse("CscaMasterList structure does not decode")
	}
	if len(body.Certs) > cms.MaxCertificates {
		return nil, refuse("%d certificates, limit %d", len(body.Certs), cms.MaxCertificates)
	}
	ml := &MasterList{Version: body.Version, Signer: signer, CheckedAt: at}
	if stErr == nil {
		ml.SigningTime = signingTime
	}
	for i, r := range body.Certs {
		c, err := cert.Parse(r.FullBytes)
		if err != nil {
			ml.Skipped = append(ml.Skipped, fmt.Sprintf("certificate %d: %v", i, err))
			continue
		}
		ml.Certificates = append(ml.Certificates, c)
	}
	return ml, nil
}

func findSigner(sd *cms.SignedData, si *cms.SignerInfo) (*cert.Certificate, error) {
	for _, raw := range sd.Certificates {
		c, err := cert.Parse(raw)
		if err != nil {
			continue
		}
		if si.SubjectKeyID != nil {
			if bytes.Equal(si.SubjectKeyID, c.SubjectKeyID) {
				return c, nil
			}
			continue
		}
		if bytes.Equal(si.IssuerName, c.RawIssuer) && si.SerialNumber.Cmp(c.SerialNumber) == 0 {
			return c, nil
		}
	}
	return nil, refuse("signer certificate not found in the list")
}

// verifySignerInfo checks the signed attributes (content type, message
// digest) and the signature.
func verifySignerInfo(sd *cms.SignedData, si *cms.SignerInfo, signer *cert.Certificate, pol cert.Policy) error {
	if si.SignedAttrsDER == nil {
		return refuse("no signed attributes")
	}
	ct, err := si.ContentType()
	if err != nil || !ct.Equal(sd.EContentType) {
		return refuse("content-type attribute does not match the content")
	}
	md, err := si.MessageDigest()
	if err != nil {
		return refuse("%w", err)
	}
	_, h, err := cert.NewHash(si.DigestAlgorithm, pol)
	if err != nil {
		return refuse("digest algorithm: %w", err)
	}
	h.Write(sd.EContent)
	if subtle.ConstantTimeCompare(h.Sum(nil), md) != 1 {
		return refuse("message digest does not match the list content")
	}
	if err := signer.PublicKey.Verify(si.SignatureAlgorithm, si.DigestAlgorithm, si.SignedAttrsDER, si.Signature, pol); err != nil {
		return refuse("signature: %w", err)
	}
	return nil
}

// chainToRoot checks that one of roots issued signer. A refusal names what
// differs: the issuer name, the key (same name, another key: an older or
// newer root), or the root's validity.
func chainToRoot(signer *cert.Certificate, roots []*cert.Certificate, at time.Time, pol cert.Policy) error {
	notFromRoot := func(format string, args ...any) error {
		return fmt.Errorf("%w: %w: "+format, append([]any{ErrMasterList, ErrSignerNotFromRoot}, args...)...)
	}
	var rootNames []string
	for _, r := range roots {
		rootNames = append(rootNames, r.Subject.String())
	}
	lastErr := notFromRoot("the signer %q was issued by %q, the given root is %q",
		signer.Subject.String(), signer.Issuer.String(), strings.Join(rootNames, `", "`))
	for _, r := range roots {
		if !bytes.Equal(r.RawSubject, signer.RawIssuer) && (r.Subject.String() == "" || r.Subject.String() != signer.Issuer.String()) {
			continue
		}
		if !r.ValidAt(at) {
			lastErr = refuse("signer root not valid at %s (valid %s to %s)", at.UTC().Format(time.DateOnly),
				r.NotBefore.UTC().Format(time.DateOnly), r.NotAfter.UTC().Format(time.DateOnly))
			continue
		}
		if err := signer.CheckSignatureFrom(r, pol); err != nil {
			if errors.Is(err, cert.ErrWeak) || errors.Is(err, cert.ErrUnsupported) {
				lastErr = refuse("signer certificate signature: %w", err)
				continue
			}
			keys := ""
			if len(signer.AuthorityKeyID) > 0 && len(r.SubjectKeyID) > 0 && !bytes.Equal(signer.AuthorityKeyID, r.SubjectKeyID) {
				keys = fmt.Sprintf(" (the signer names issuer key %X, the root's key is %X)", signer.AuthorityKeyID, r.SubjectKeyID)
			}
			lastErr = notFromRoot("the given root %q has the signer's issuer name but its key did not sign the signer certificate%s: another root key of the same name (an older or newer root certificate)?",
				r.Subject.String(), keys)
			continue
		}
		return nil
	}
	return lastErr
}

func containsOID(list []asn1.ObjectIdentifier, o asn1.ObjectIdentifier) bool {
	for _, x := range list {
		if x.Equal(o) {
			return true
		}
	}
	return false
}

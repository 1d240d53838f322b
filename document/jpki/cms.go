package jpki

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/cms"
)

var (
	oidRSAEncryption = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidSHA256WithRSA = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
)

// cms handles FormCMS: a SignedData with exactly one signer, content type
// id-data, the challenge as attached content (byte-equal) or detached, SHA-256
// digests, RSA PKCS#1 v1.5; signed attributes, if present, must carry
// content-type id-data and the message digest of the challenge, and may carry
// a signing time.
func (v *Verifier) cms(r *run, challenge []byte, _ *Challenge, sig Signature) (*signed, error) {
	if len(sig.Value) == 0 {
		return nil, fmt.Errorf("%w: empty CMS", ErrSignatureFormat)
	}
	sd, err := cms.Parse(sig.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignatureFormat, err)
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("%w: %d signers, want 1", ErrSignatureFormat, len(sd.SignerInfos))
	}
	if !sd.EContentType.Equal(cms.OIDData) {
		return nil, fmt.Errorf("%w: content type %v, want id-data", ErrSignatureFormat, sd.EContentType)
	}
	if len(sd.Certificates) > MaxIntermediates+1 {
		return nil, fmt.Errorf("%w: %d certificates in CMS", ErrTooLarge, len(sd.Certificates))
	}
	_ = r.check(CheckSignatureFormat, nil)

	var given *x509.Certificate
	if len(sig.Certificate) > 0 {
		if given, err = ParseCertificate(sig.Certificate); err != nil {
			return nil, err
		}
	}
	embedded, err := parseIntermediates(sd.Certificates)
	if err != nil {
		return nil, err
	}
	extra, err := parseIntermediates(sig.Intermediates)
	if err != nil {
		return nil, err
	}
	_ = r.check(CheckCertificate, nil)

	si := &sd.SignerInfos[0]
	var leaf *x509.Certificate
	if given != nil {
		if !signerIs(si, given) {
			return nil, fmt.Errorf("%w: the certificate given is not the one the SignerInfo names", ErrSignerMismatch)
		}
		leaf = given
	} else {
		for _, c := range embedded {
			if signerIs(si, c) {
				leaf = c
				break
			}
		}
		if leaf == nil {
			return nil, fmt.Errorf("%w: no certificate matches the SignerInfo", ErrSignerMismatch)
		}
	}
	var inter []*x509.Certificate
	for _, c := range append(embedded, extra...) {
		if !c.Equal(leaf) {
			inter = append(inter, c)
		}
	}
	_ = r.check(CheckSignerID, nil)

	content := sd.EContent
	if content == nil {
		content = challenge // detached: the challenge is the content
	} else if !bytes.Equal(content, challenge) {
		return nil, fmt.Errorf("%w: attached content differs", ErrContentMismatch)
	}
	if !si.DigestAlgorithm.Algorithm.Equal(oidSHA256) {
		return nil, fmt.Errorf("%w: digest algorithm %v, want SHA-256", ErrWeakAlgorithm, si.DigestAlgorithm.Algorithm)
	}
	if a := si.SignatureAlgorithm.Algorithm; !a.Equal(oidRSAEncryption) && !a.Equal(oidSHA256WithRSA) {
		return nil, fmt.Errorf("%w: signature algorithm %v, want RSA PKCS#1 v1.5 with SHA-256", ErrWeakAlgorithm, a)
	}
	contentDigest := sha256.Sum256(content)
	signedDigest := contentDigest
	var signingTime time.Time
	if si.SignedAttrsDER != nil {
		md, err := si.MessageDigest()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSignatureFormat, err)
		}
		if !bytes.Equal(md, contentDigest[:]) {
			return nil, fmt.Errorf("%w: messageDigest attribute does not match the challenge", ErrContentMismatch)
		}
		ct, err := si.ContentType()
		if err != nil || !ct.Equal(cms.OIDData) {
			return nil, fmt.Errorf("%w: content-type attribute missing or not id-data", ErrSignatureFormat)
		}
		if signingTime, err = signingTimeAttr(si); err != nil {
			return nil, err
		}
		signedDigest = sha256.Sum256(si.SignedAttrsDER)
	}
	_ = r.check(CheckContent, nil)
	return &signed{leaf: leaf, intermediates: inter, signingTime: signingTime, verifySig: func() error {
		return verifyRSA(leaf, crypto.SHA256, signedDigest[:], si.Signature)
	}}, nil
}

// signerIs reports whether the SignerInfo's sid names c.
func signerIs(si *cms.SignerInfo, c *x509.Certificate) bool {
	if si.SubjectKeyID != nil {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(si.SubjectKeyID, c.SubjectKeyId)
	}
	return si.SerialNumber != nil && bytes.Equal(si.IssuerName, c.RawIssuer) && si.SerialNumber.Cmp(c.SerialNumber) == 0
}

// signingTimeAttr returns the signing-time attribute, or zero if absent.
func signingTimeAttr(si *cms.SignerInfo) (time.Time, error) {
	var found []cms.Attribute
	for _, a := range si.SignedAttrs {
		if a.Type.Equal(cms.OIDSigningTime) {
			found = append(found, a)
		}
	}
	switch {
	case len(found) == 0:
		return time.Time{}, nil
	case len(found) > 1 || len(found[0].Values) != 1:
		return time.Time{}, fmt.Errorf("%w: signing-time attribute repeated", ErrSignatureFormat)
	}
	var t time.Time
	if rest, err := asn1.Unmarshal(found[0].Values[0], &t); err != nil || len(rest) != 0 {
		return time.Time{}, fmt.Errorf("%w: malformed signing-time", ErrSignatureFormat)
	}
	return t, nil
}

// DetectForm guesses the form of a signature: FormCMS if it parses as a CMS
// SignedData, else FormRaw. Verification still checks the form it is given.
func DetectForm(sig []byte) Form {
	if len(sig) > 0 && sig[0] == 0x30 && len(sig) <= MaxSignatureSize {
		if _, err := cms.Parse(sig); err == nil {
			return FormCMS
		}
	}
	return FormRaw
}

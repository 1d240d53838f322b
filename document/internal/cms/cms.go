// Package cms parses CMS SignedData (RFC 5652) as used by ICAO 9303 EF.SOD,
// ICAO CSCA master lists and JPKI signed challenges.
//
// It only decodes; signature verification belongs to the callers, which
// need algorithms the standard library lacks (explicit-curve and brainpool
// ECDSA, RSASSA-PSS with parameters, ISO 9796-2).
//
// Invariants: input is at most MaxSize bytes; DER is parsed strictly, and
// BER (indefinite lengths, constructed OCTET STRINGs, as some chips write
// EF.SOD) is first normalised to DER with bounded nesting (MaxDepth); the
// outer ContentInfo must be id-signedData; certificates and CRLs are
// returned as raw DER, unparsed (some are not crypto/x509-parseable); every
// count is bounded; nothing here panics on input. Returned slices do not
// alias the input.
package cms

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Limits.
const (
	MaxSize         = 8 << 20 // whole ContentInfo
	MaxCertificates = 4096    // a master list carries a few hundred
	MaxCRLs         = 256
	MaxSignerInfos  = 16
	MaxAttributes   = 64
	MaxDepth        = 32 // BER nesting
)

// Errors. Test with errors.Is.
var (
	ErrMalformed     = errors.New("cms: malformed")
	ErrTooLarge      = errors.New("cms: too large")
	ErrNotSignedData = errors.New("cms: content type is not signedData")
	ErrNoAttribute   = errors.New("cms: signed attribute missing")
)

// Object identifiers.
var (
	OIDSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

// SignedData is the decoded content of a ContentInfo of type signedData.
type SignedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier
	EContentType     asn1.ObjectIdentifier
	EContent         []byte   // nil when detached
	Certificates     [][]byte // raw DER of each certificate (other CertificateChoices are skipped)
	CRLs             [][]byte // raw DER of each CRL
	SignerInfos      []SignerInfo
}

// SignerInfo is one signer. Exactly one of (IssuerName, SerialNumber) and
// SubjectKeyID identifies the signer's certificate.
type SignerInfo struct {
	Version            int
	IssuerName         []byte // raw DER Name (issuerAndSerialNumber)
	SerialNumber       *big.Int
	SubjectKeyID       []byte // subjectKeyIdentifier choice
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        []Attribute
	SignedAttrsDER     []byte // signed attributes re-tagged as SET (0x31): the bytes the signature covers; nil if absent
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

// Attribute is one signed attribute; Values holds the raw DER of each value.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

func malformed(what string) error { return fmt.Errorf("%w: %s", ErrMalformed, what) }

// Parse decodes a DER (or BER) ContentInfo holding SignedData.
func Parse(der []byte) (*SignedData, error) {
	if len(der) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(der), MaxSize)
	}
	sd, err := parseDER(der)
	if err == nil || !errors.Is(err, ErrMalformed) {
		return sd, err
	}
	norm, nerr := BERToDER(der)
	if nerr != nil || bytes.Equal(norm, der) {
		return nil, err // report the DER error: the input was not BER-with-indefinite-lengths either
	}
	return parseDER(norm)
}

func parseDER(der []byte) (*SignedData, error) {
	in := cryptobyte.String(der)
	var ci, content cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !in.Empty() {
		return nil, malformed("ContentInfo")
	}
	if !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, malformed("ContentInfo.contentType")
	}
	if !ct.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, ct)
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return nil, malformed("ContentInfo.content")
	}
	var s cryptobyte.String
	if !content.ReadASN1(&s, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, malformed("SignedData")
	}
	sd := &SignedData{}
	if !readSmallInt(&s, &sd.Version) {
		return nil, malformed("SignedData.version")
	}
	var algs cryptobyte.String
	if !s.ReadASN1(&algs, cbasn1.SET) {
		return nil, malformed("SignedData.digestAlgorithms")
	}
	for !algs.Empty() {
		a, err := readAlgorithm(&algs)
		if err != nil {
			return nil, fmt.Errorf("digestAlgorithms: %w", err)
		}
		if len(sd.DigestAlgorithms) >= MaxSignerInfos {
			return nil, fmt.Errorf("%w: too many digest algorithms", ErrTooLarge)
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, a)
	}
	var eci cryptobyte.String
	if !s.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&sd.EContentType) {
		return nil, malformed("encapContentInfo")
	}
	if !eci.Empty() {
		var ex, oct cryptobyte.String
		if !eci.ReadASN1(&ex, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() ||
			!ex.ReadASN1(&oct, cbasn1.OCTET_STRING) || !ex.Empty() {
			return nil, malformed("encapContentInfo.eContent")
		}
		sd.EContent = append([]byte{}, oct...)
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		if !s.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, malformed("certificates")
		}
		for !certs.Empty() {
			var c cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&c, &tag) {
				return nil, malformed("certificate")
			}
			if len(sd.Certificates) >= MaxCertificates {
				return nil, fmt.Errorf("%w: more than %d certificates", ErrTooLarge, MaxCertificates)
			}
			if tag != cbasn1.SEQUENCE {
				continue // extendedCertificate, attribute certificates, other: not used here
			}
			sd.Certificates = append(sd.Certificates, append([]byte{}, c...))
		}
	}
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var crls cryptobyte.String
		if !s.ReadASN1(&crls, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return nil, malformed("crls")
		}
		for !crls.Empty() {
			var c cryptobyte.String
			var tag cbasn1.Tag
			if !crls.ReadAnyASN1Element(&c, &tag) {
				return nil, malformed("crl")
			}
			if len(sd.CRLs) >= MaxCRLs {
				return nil, fmt.Errorf("%w: more than %d CRLs", ErrTooLarge, MaxCRLs)
			}
			if tag == cbasn1.SEQUENCE {
				sd.CRLs = append(sd.CRLs, append([]byte{}, c...))
			}
		}
	}
	var sis cryptobyte.String
	if !s.ReadASN1(&sis, cbasn1.SET) || !s.Empty() {
		return nil, malformed("signerInfos")
	}
	for !sis.Empty() {
		if len(sd.SignerInfos) >= MaxSignerInfos {
			return nil, fmt.Errorf("%w: more than %d signer infos", ErrTooLarge, MaxSignerInfos)
		}
		si, err := parseSignerInfo(&sis)
		if err != nil {
			return nil, fmt.Errorf("signerInfo %d: %w", len(sd.SignerInfos), err)
		}
		sd.SignerInfos = append(sd.SignerInfos, *si)
	}
	if len(sd.SignerInfos) == 0 {
		return nil, malformed("no signerInfos")
	}
	return sd, nil
}

func parseSignerInfo(in *cryptobyte.String) (*SignerInfo, error) {
	var s cryptobyte.String
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) {
		return nil, malformed("SignerInfo")
	}
	si := &SignerInfo{}
	if !readSmallInt(&s, &si.Version) {
		return nil, malformed("SignerInfo.version")
	}
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		si.SerialNumber = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.SerialNumber) || !ias.Empty() {
			return nil, malformed("issuerAndSerialNumber")
		}
		si.IssuerName = append([]byte{}, name...)
	case s.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		if !s.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific()) || len(ski) == 0 {
			return nil, malformed("subjectKeyIdentifier")
		}
		si.SubjectKeyID = append([]byte{}, ski...)
	default:
		return nil, malformed("SignerIdentifier")
	}
	var err error
	if si.DigestAlgorithm, err = readAlgorithm(&s); err != nil {
		return nil, fmt.Errorf("digestAlgorithm: %w", err)
	}
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var el, attrs cryptobyte.String
		if !s.ReadASN1Element(&el, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, malformed("signedAttrs")
		}
		si.SignedAttrsDER = append([]byte{}, el...)
		si.SignedAttrsDER[0] = 0x31 // [0] IMPLICIT -> SET OF, RFC 5652 §5.4
		if !el.ReadASN1(&attrs, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return nil, malformed("signedAttrs")
		}
		for !attrs.Empty() {
			if len(si.SignedAttrs) >= MaxAttributes {
				return nil, fmt.Errorf("%w: too many signed attributes", ErrTooLarge)
			}
			a, err := parseAttribute(&attrs)
			if err != nil {
				return nil, err
			}
			si.SignedAttrs = append(si.SignedAttrs, a)
		}
		if len(si.SignedAttrs) == 0 {
			return nil, malformed("empty signedAttrs")
		}
	}
	if si.SignatureAlgorithm, err = readAlgorithm(&s); err != nil {
		return nil, fmt.Errorf("signatureAlgorithm: %w", err)
	}
	var sig cryptobyte.String
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) || len(sig) == 0 {
		return nil, malformed("signature")
	}
	si.Signature = append([]byte{}, sig...)
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var skip cryptobyte.String
		if !s.ReadASN1(&skip, cbasn1.Tag(1).Constructed().ContextSpecific()) {
			return nil, malformed("unsignedAttrs")
		}
	}
	if !s.Empty() {
		return nil, malformed("trailing data in SignerInfo")
	}
	return si, nil
}

func parseAttribute(in *cryptobyte.String) (Attribute, error) {
	var s, set cryptobyte.String
	var a Attribute
	if !in.ReadASN1(&s, cbasn1.SEQUENCE) || !s.ReadASN1ObjectIdentifier(&a.Type) ||
		!s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return a, malformed("attribute")
	}
	for !set.Empty() {
		var v cryptobyte.String
		var tag cbasn1.Tag
		if !set.ReadAnyASN1Element(&v, &tag) {
			return a, malformed("attribute value")
		}
		if len(a.Values) >= MaxAttributes {
			return a, fmt.Errorf("%w: too many attribute values", ErrTooLarge)
		}
		a.Values = append(a.Values, append([]byte{}, v...))
	}
	if len(a.Values) == 0 {
		return a, malformed("attribute without values")
	}
	return a, nil
}

func readAlgorithm(in *cryptobyte.String) (pkix.AlgorithmIdentifier, error) {
	var el cryptobyte.String
	var a pkix.AlgorithmIdentifier
	if !in.ReadASN1Element(&el, cbasn1.SEQUENCE) {
		return a, malformed("AlgorithmIdentifier")
	}
	rest, err := asn1.Unmarshal(el, &a)
	if err != nil || len(rest) != 0 {
		return a, malformed("AlgorithmIdentifier")
	}
	return a, nil
}

func readSmallInt(in *cryptobyte.String, v *int) bool {
	var n int64
	if !in.ReadASN1Int64WithTag(&n, cbasn1.INTEGER) || n < 0 || n > 1000 {
		return false
	}
	*v = int(n)
	return true
}

// attribute returns the single value of the signed attribute t.
func (si *SignerInfo) attribute(t asn1.ObjectIdentifier) ([]byte, error) {
	var found []byte
	n := 0
	for _, a := range si.SignedAttrs {
		if a.Type.Equal(t) {
			n++
			if len(a.Values) != 1 {
				return nil, malformed(fmt.Sprintf("attribute %v has %d values, want 1", t, len(a.Values)))
			}
			found = a.Values[0]
		}
	}
	switch n {
	case 0:
		return nil, fmt.Errorf("%w: %v", ErrNoAttribute, t)
	case 1:
		return found, nil
	}
	return nil, malformed(fmt.Sprintf("attribute %v appears %d times", t, n))
}

// MessageDigest returns the message-digest signed attribute (the digest of
// eContent). It fails if the attribute is missing, repeated or multi-valued.
func (si *SignerInfo) MessageDigest() ([]byte, error) {
	v, err := si.attribute(OIDMessageDigest)
	if err != nil {
		return nil, err
	}
	var d []byte
	if rest, err := asn1.Unmarshal(v, &d); err != nil || len(rest) != 0 || len(d) == 0 {
		return nil, malformed("message-digest value")
	}
	return d, nil
}

// ContentType returns the content-type signed attribute, which must equal
// SignedData.EContentType (callers check).
func (si *SignerInfo) ContentType() (asn1.ObjectIdentifier, error) {
	v, err := si.attribute(OIDContentType)
	if err != nil {
		return nil, err
	}
	var o asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(v, &o); err != nil || len(rest) != 0 {
		return nil, malformed("content-type value")
	}
	return o, nil
}

// SigningTime returns the signing-time signed attribute (RFC 5652 §11.3:
// UTCTime or GeneralizedTime). It fails with ErrNoAttribute when absent.
func (si *SignerInfo) SigningTime() (time.Time, error) {
	v, err := si.attribute(OIDSigningTime)
	if err != nil {
		return time.Time{}, err
	}
	var t time.Time
	if rest, err := asn1.Unmarshal(v, &t); err != nil || len(rest) != 0 {
		return time.Time{}, malformed("signing-time value")
	}
	return t, nil
}

// Package cert parses X.509 certificates and verifies their signatures
// where crypto/x509 refuses them: ICAO CSCA and Document Signer
// certificates with ECDSA keys on explicit or brainpool curves, RSASSA-PSS
// keys and signatures with parameters, and BSI plain-format ECDSA.
//
// Invariants: a certificate is at most MaxSize bytes; RSA moduli are 1024
// to 8192 bits with an odd public exponent below 2³¹; EC keys are on a
// named curve (explicit parameters must equal one, see package ecc);
// parsing is lenient about name string types (a name that does not decode
// leaves Subject empty but keeps RawSubject) and strict about structure;
// signature verification enforces a Policy (MD5 never; SHA-1 only if
// allowed; RSA keys of at least MinRSABits); nothing panics on input.
package cert

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// MaxSize bounds the DER size of one certificate.
const MaxSize = 64 << 10

// Errors. Test with errors.Is.
var (
	ErrMalformed   = errors.New("cert: malformed certificate")
	ErrTooLarge    = errors.New("cert: certificate too large")
	ErrUnsupported = errors.New("cert: unsupported algorithm")
	ErrWeak        = errors.New("cert: algorithm not allowed by policy")
	ErrSignature   = errors.New("cert: signature does not verify")
)

// Certificate is a parsed X.509 certificate.
type Certificate struct {
	Raw, RawTBS, RawIssuer, RawSubject, RawSPKI []byte

	Version            int // 1, 2 or 3
	SerialNumber       *big.Int
	Issuer, Subject    pkix.Name
	NotBefore          time.Time
	NotAfter           time.Time
	PublicKey          *PublicKey
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte

	KeyUsage              x509.KeyUsage
	HasKeyUsage           bool
	BasicConstraintsValid bool
	IsCA                  bool
	SubjectKeyID          []byte
	AuthorityKeyID        []byte
	ExtKeyUsage           []asn1.ObjectIdentifier
	Extensions            []pkix.Extension
	// UnhandledCritical lists critical extensions this package does not
	// interpret; a chain verifier must refuse such a certificate.
	UnhandledCritical []asn1.ObjectIdentifier
}

type certificateASN1 struct {
	TBS                asn1.RawValue
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
}

type tbsASN1 struct {
	Raw                asn1.RawContent
	Version            int `asn1:"optional,explicit,default:0,tag:0"`
	SerialNumber       *big.Int
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Issuer             asn1.RawValue
	Validity           struct{ NotBefore, NotAfter time.Time }
	Subject            asn1.RawValue
	SPKI               asn1.RawValue
	IssuerUID          asn1.BitString   `asn1:"optional,tag:1"`
	SubjectUID         asn1.BitString   `asn1:"optional,tag:2"`
	Extensions         []pkix.Extension `asn1:"omitempty,optional,explicit,tag:3"`
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
	// Critical extensions that do not restrict what we use the key for, or
	// that ICAO 9303 Part 12 defines for CSCA/DS certificates.
	knownCritical = []asn1.ObjectIdentifier{
		{2, 5, 29, 16},              // privateKeyUsagePeriod
		{2, 5, 29, 17},              // subjectAltName
		{2, 5, 29, 18},              // issuerAltName
		{2, 5, 29, 31},              // cRLDistributionPoints
		{2, 5, 29, 32},              // certificatePolicies
		{2, 5, 29, 30},              // nameConstraints (not applied: ICAO does not use them)
		{2, 23, 136, 1, 1, 6, 2},    // ICAO documentTypeList
		{2, 23, 136, 1, 1, 6, 1},    // ICAO nameChange
		{1, 3, 6, 1, 5, 5, 7, 1, 1}, // authorityInfoAccess
	}
)

// Parse decodes one DER certificate.
func Parse(der []byte) (*Certificate, error) {
	if len(der) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(der), MaxSize)
	}
	var outer certificateASN1
	rest, err := asn1.Unmarshal(der, &outer)
	if err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: outer structure", ErrMalformed)
	}
	var tbs tbsASN1
	if rest, err := asn1.Unmarshal(outer.TBS.FullBytes, &tbs); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: tbsCertificate: %v", ErrMalformed, err)
	}
	if tbs.Version < 0 || tbs.Version > 2 || tbs.SerialNumber == nil {
		return nil, fmt.Errorf("%w: version or serial", ErrMalformed)
	}
	if outer.Signature.BitLength%8 != 0 || len(outer.Signature.Bytes) == 0 {
		return nil, fmt.Errorf("%w: signature bit string", ErrMalformed)
	}
	c := &Certificate{
		Raw: der, RawTBS: outer.TBS.FullBytes, RawIssuer: tbs.Issuer.FullBytes, RawSubject: tbs.Subject.FullBytes,
		RawSPKI: tbs.SPKI.FullBytes, Version: tbs.Version + 1, SerialNumber: tbs.SerialNumber,
		NotBefore: tbs.Validity.NotBefore, NotAfter: tbs.Validity.NotAfter,
		SignatureAlgorithm: outer.SignatureAlgorithm, Signature: outer.Signature.Bytes,
		Extensions: tbs.Extensions,
	}
	c.Issuer = parseName(c.RawIssuer)
	c.Subject = parseName(c.RawSubject)
	if c.PublicKey, err = ParsePublicKey(c.RawSPKI); err != nil {
		return nil, err
	}
	for _, e := range tbs.Extensions {
		if err := c.extension(e); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func parseName(raw []byte) pkix.Name {
	var rdn pkix.RDNSequence
	var n pkix.Name
	if rest, err := asn1.Unmarshal(raw, &rdn); err == nil && len(rest) == 0 {
		n.FillFromRDNSequence(&rdn)
	}
	return n
}

func (c *Certificate) extension(e pkix.Extension) error {
	bad := func(what string) error { return fmt.Errorf("%w: %s extension", ErrMalformed, what) }
	switch {
	case e.Id.Equal(oidKeyUsage):
		var bits asn1.BitString
		if rest, err := asn1.Unmarshal(e.Value, &bits); err != nil || len(rest) != 0 {
			return bad("keyUsage")
		}
		var ku int
		for i := range 9 {
			if bits.At(i) != 0 {
				ku |= 1 << uint(i)
			}
		}
		c.KeyUsage, c.HasKeyUsage = x509.KeyUsage(ku), true
	case e.Id.Equal(oidBasicConstraints):
		// Parsed by hand: some CSCAs encode TRUE as 0x01 (BER), which
		// encoding/asn1 refuses; any non-zero octet is TRUE (X.690 8.2.2).
		in := cryptobyte.String(e.Value)
		var seq cryptobyte.String
		if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() {
			return bad("basicConstraints")
		}
		if seq.PeekASN1Tag(cbasn1.BOOLEAN) {
			var v cryptobyte.String
			if !seq.ReadASN1(&v, cbasn1.BOOLEAN) || len(v) != 1 {
				return bad("basicConstraints")
			}
			c.IsCA = v[0] != 0
		}
		if !seq.Empty() && !seq.SkipASN1(cbasn1.INTEGER) || !seq.Empty() {
			return bad("basicConstraints")
		}
		c.BasicConstraintsValid = true
	case e.Id.Equal(oidSubjectKeyID):
		var id []byte
		if rest, err := asn1.Unmarshal(e.Value, &id); err != nil || len(rest) != 0 {
			return bad("subjectKeyIdentifier")
		}
		c.SubjectKeyID = id
	case e.Id.Equal(oidAuthorityKeyID):
		var aki struct {
			ID []byte `asn1:"optional,tag:0"`
		}
		// authorityCertIssuer and serial may follow; ignore them.
		if _, err := asn1.Unmarshal(e.Value, &aki); err != nil {
			return bad("authorityKeyIdentifier")
		}
		c.AuthorityKeyID = aki.ID
	case e.Id.Equal(oidExtKeyUsage):
		if rest, err := asn1.Unmarshal(e.Value, &c.ExtKeyUsage); err != nil || len(rest) != 0 {
			return bad("extKeyUsage")
		}
	default:
		if e.Critical && !known(e.Id) {
			c.UnhandledCritical = append(c.UnhandledCritical, e.Id)
		}
	}
	return nil
}

func known(id asn1.ObjectIdentifier) bool {
	for _, k := range knownCritical {
		if k.Equal(id) {
			return true
		}
	}
	return false
}

// Country returns the subject's countryName (ISO 3166-1 alpha-2 as in the
// certificate), or "".
func (c *Certificate) Country() string {
	if len(c.Subject.Country) == 0 {
		return ""
	}
	return c.Subject.Country[0]
}

// ValidAt reports whether t is within [NotBefore, NotAfter].
func (c *Certificate) ValidAt(t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}

// CheckSignatureFrom verifies that parent's key signed c.
func (c *Certificate) CheckSignatureFrom(parent *Certificate, pol Policy) error {
	return parent.PublicKey.Verify(c.SignatureAlgorithm, pkix.AlgorithmIdentifier{}, c.RawTBS, c.Signature, pol)
}

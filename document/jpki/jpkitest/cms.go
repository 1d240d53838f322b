package jpkitest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/cms"
	"github.com/madoguchi/madoguchi/document/internal/cms/cmstest"
)

// CMSOptions shapes a CMS SignedData made by SignCMS.
type CMSOptions struct {
	Detached      bool
	BySKI         bool // identify the signer by subjectKeyIdentifier, not issuer/serial
	NoSignedAttrs bool
	SigningTime   time.Time             // non-zero: add a signing-time attribute
	EmbedCert     bool                  // put the signer's certificate into the SignedData
	Certificates  [][]byte              // more certificates to embed
	ContentType   asn1.ObjectIdentifier // zero: id-data
	Digest        []byte                // non-nil: a wrong messageDigest value
	// NameCert names this certificate in the SignerInfo instead of the card's.
	NameCert  *Card
	DigestAlg asn1.ObjectIdentifier // zero: SHA-256
}

var (
	oidSHA256Alg  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidRSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSigningTim = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
)

// SignCMS signs content as a JPKI client library does: CMS SignedData,
// RSA PKCS#1 v1.5 with SHA-256.
func (c *Card) SignCMS(content []byte, o CMSOptions) ([]byte, error) {
	named := c
	if o.NameCert != nil {
		named = o.NameCert
	}
	ct := o.ContentType
	if ct == nil {
		ct = cms.OIDData
	}
	dalg := o.DigestAlg
	if dalg == nil {
		dalg = oidSHA256Alg
	}
	s := cmstest.Signer{
		Hash:          crypto.SHA256,
		DigestAlg:     pkix.AlgorithmIdentifier{Algorithm: dalg},
		SigAlg:        pkix.AlgorithmIdentifier{Algorithm: oidRSASHA256, Parameters: asn1.NullRawValue},
		NoSignedAttrs: o.NoSignedAttrs,
		Digest:        o.Digest,
		Sign: func(msg []byte) ([]byte, error) {
			h := sha256.Sum256(msg)
			return rsa.SignPKCS1v15(nil, c.Key, crypto.SHA256, h[:])
		},
	}
	if o.BySKI {
		s.SKI = named.Cert.SubjectKeyId
	} else {
		s.IssuerName, s.Serial = named.Cert.RawIssuer, named.Cert.SerialNumber
	}
	if s.Digest == nil && o.Detached {
		d := sha256.Sum256(content)
		s.Digest = d[:]
	}
	if !o.SigningTime.IsZero() {
		tv, err := asn1.MarshalWithParams(o.SigningTime.UTC(), "utc")
		if err != nil {
			return nil, err
		}
		attr, err := asn1.Marshal(struct {
			Type   asn1.ObjectIdentifier
			Values []asn1.RawValue `asn1:"set"`
		}{oidSigningTim, []asn1.RawValue{{FullBytes: tv}}})
		if err != nil {
			return nil, err
		}
		s.ExtraAttrs = [][]byte{attr}
	}
	sd := cmstest.SignedData{EContentType: ct, Signers: []cmstest.Signer{s}, Certificates: o.Certificates}
	if !o.Detached {
		sd.EContent = content
	}
	if o.EmbedCert {
		sd.Certificates = append([][]byte{c.Cert.Raw}, sd.Certificates...)
	}
	if o.NoSignedAttrs && o.Detached {
		// cmstest signs the eContent; a detached signature covers the content.
		s.Sign = func([]byte) ([]byte, error) {
			h := sha256.Sum256(content)
			return rsa.SignPKCS1v15(nil, c.Key, crypto.SHA256, h[:])
		}
		sd.Signers[0] = s
	}
	return cmstest.Build(sd)
}

// Package cmstest builds CMS SignedData for tests: EF.SOD files, master
// lists and signed challenges made with test keys. It is imported only by
// _test.go files.
package cmstest

import (
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
)

// Signer describes one SignerInfo.
type Signer struct {
	IssuerName []byte   // raw DER Name; with Serial, or use SKI
	Serial     *big.Int //
	SKI        []byte
	Hash       crypto.Hash              // digest of eContent and of the signed attributes
	DigestAlg  pkix.AlgorithmIdentifier // as written
	SigAlg     pkix.AlgorithmIdentifier
	// Sign signs the DER signed attributes (SET OF) or, with NoSignedAttrs,
	// the content. It receives the message, not the digest.
	Sign          func(msg []byte) ([]byte, error)
	NoSignedAttrs bool
	// Digest, if set, replaces the message-digest attribute value.
	Digest []byte
	// ExtraAttrs are appended raw (each a DER Attribute SEQUENCE).
	ExtraAttrs [][]byte
}

// SignedData is what to build.
type SignedData struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte // nil: detached
	Certificates [][]byte
	CRLs         [][]byte
	Signers      []Signer
}

// Build encodes a ContentInfo with the SignedData.
func Build(sd SignedData) ([]byte, error) {
	var b cryptobyte.Builder
	var errOut error
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(3)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, s := range sd.Signers {
						addAlg(b, s.DigestAlg)
					}
				})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(sd.EContentType)
					if sd.EContent != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(sd.EContent)
						})
					}
				})
				if len(sd.Certificates) > 0 {
					b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, c := range sd.Certificates {
							b.AddBytes(c)
						}
					})
				}
				if len(sd.CRLs) > 0 {
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						for _, c := range sd.CRLs {
							b.AddBytes(c)
						}
					})
				}
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
					for _, s := range sd.Signers {
						if err := addSigner(b, sd, s); err != nil {
							errOut = err
						}
					}
				})
			})
		})
	})
	if errOut != nil {
		return nil, errOut
	}
	return b.Bytes()
}

func addAlg(b *cryptobyte.Builder, a pkix.AlgorithmIdentifier) {
	der, err := asn1.Marshal(a)
	if err != nil {
		b.SetError(err)
		return
	}
	b.AddBytes(der)
}

// SignedAttrs returns the DER SET OF signed attributes for content.
func SignedAttrs(s Signer, ct asn1.ObjectIdentifier, content []byte) ([]byte, error) {
	digest := s.Digest
	if digest == nil {
		h := s.Hash.New()
		h.Write(content)
		digest = h.Sum(nil)
	}
	var a cryptobyte.Builder
	a.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidContentType)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(ct) })
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oidMessageDigest)
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
		})
		for _, x := range s.ExtraAttrs {
			b.AddBytes(x)
		}
	})
	return a.Bytes()
}

func addSigner(b *cryptobyte.Builder, sd SignedData, s Signer) error {
	var attrs []byte
	msg := sd.EContent
	if !s.NoSignedAttrs {
		var err error
		if attrs, err = SignedAttrs(s, sd.EContentType, sd.EContent); err != nil {
			return err
		}
		msg = attrs
	}
	sig, err := s.Sign(msg)
	if err != nil {
		return err
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		if s.SKI != nil {
			b.AddASN1Int64(3)
			b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(s.SKI) })
		} else {
			b.AddASN1Int64(1)
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(s.IssuerName)
				b.AddASN1BigInt(s.Serial)
			})
		}
		addAlg(b, s.DigestAlg)
		if attrs != nil {
			t := append([]byte{}, attrs...)
			t[0] = 0xA0
			b.AddBytes(t)
		}
		addAlg(b, s.SigAlg)
		b.AddASN1OctetString(sig)
	})
	return nil
}

// Package residencetest mints residence card chip files signed under a TEST
// root, in the layout and check-code construction that package residence
// verifies.
//
// Invariants: the root carries residence.TestAnchorMarker in its subject
// organisation, so residence.Verifier.CheckProduction refuses it; keys are
// RSA-2048 from the given random source.
package residencetest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/residence"
)

// Card is what the test issuer writes.
type Card struct {
	Type    residence.CardType // "1" or "2"
	Front   []byte             // TIFF; nil for a minimal header
	Face    []byte             // JPEG 2000; nil for a minimal codestream
	Address string             // back side, optional
}

// Issuer is a test root CA and a card-signing key it certifies.
type Issuer struct {
	root    *x509.Certificate
	rootKey *rsa.PrivateKey
	signer  *x509.Certificate
	signKey *rsa.PrivateKey
}

// Minimal images used when none is given.
var (
	MinimalTIFF = []byte{'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00}
	MinimalJ2K  = []byte{0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00, 0xFF, 0xD9}
)

// New creates a test issuer valid from notBefore to notAfter (both
// certificates), with keys from r (crypto/rand if nil).
func New(r io.Reader, notBefore, notAfter time.Time) (*Issuer, error) {
	if r == nil {
		r = rand.Reader
	}
	is := &Issuer{}
	var err error
	if is.rootKey, err = rsa.GenerateKey(r, 2048); err != nil {
		return nil, err
	}
	if is.signKey, err = rsa.GenerateKey(r, 2048); err != nil {
		return nil, err
	}
	rootT := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{Country: []string{"JP"}, Organization: []string{residence.TestAnchorMarker}, CommonName: "Test Residence Card Root"},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(r, rootT, rootT, &is.rootKey.PublicKey, is.rootKey)
	if err != nil {
		return nil, err
	}
	if is.root, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	signT := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{Country: []string{"JP"}, Organization: []string{residence.TestAnchorMarker}, CommonName: "Test Residence Card Signer"},
		NotBefore:    notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if der, err = x509.CreateCertificate(r, signT, is.root, &is.signKey.PublicKey, is.rootKey); err != nil {
		return nil, err
	}
	if is.signer, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	return is, nil
}

// Root returns the TEST root certificate.
func (is *Issuer) Root() *x509.Certificate { return is.root }

// RootPEM returns the TEST root certificate in PEM.
func (is *Issuer) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.root.Raw})
}

// Issue mints the card files.
func (is *Issuer) Issue(c Card) (residence.Files, error) {
	var f residence.Files
	if c.Type == "" {
		c.Type = residence.ResidenceCard
	}
	f.Common = append(tlv.Append(nil, 0xC0, []byte("13")), tlv.Append(nil, 0xC1, []byte(c.Type))...)
	front, face := c.Front, c.Face
	if front == nil {
		front = MinimalTIFF
	}
	if face == nil {
		face = MinimalJ2K
	}
	f.Front = tlv.Append(nil, 0xD0, front)
	f.Face = tlv.Append(nil, 0xD1, face)
	if c.Address != "" {
		f.Back = append(tlv.Append(nil, 0xD4, []byte("20250401")), tlv.Append(nil, 0xD5, []byte(c.Address))...)
	}
	return f, is.Resign(&f, crypto.SHA256)
}

// Resign recomputes DF3/EF01 over the current images with hash h
// (crypto.SHA1 makes a downgraded check code for refusal tests). It pads
// as the spec says and fails if an image is longer than its padded size.
func (is *Issuer) Resign(f *residence.Files, h crypto.Hash) error {
	fo, err := tlv.Parse(f.Front)
	if err != nil {
		return err
	}
	fa, err := tlv.Parse(f.Face)
	if err != nil {
		return err
	}
	if len(fo.Value) > residence.FrontSize || len(fa.Value) > residence.FaceSize {
		return fmt.Errorf("residencetest: image too long")
	}
	msg := make([]byte, residence.FrontSize+residence.FaceSize)
	copy(msg, fo.Value)
	copy(msg[residence.FrontSize:], fa.Value)
	var d []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		d = s[:]
	case crypto.SHA1:
		s := sha1.Sum(msg)
		d = s[:]
	default:
		return fmt.Errorf("residencetest: hash %v not supported", h)
	}
	sig, err := rsa.SignPKCS1v15(nil, is.signKey, h, d)
	if err != nil {
		return err
	}
	f.Signature = append(tlv.Append(nil, 0xDA, sig), tlv.Append(nil, 0xDB, is.signer.Raw)...)
	return nil
}

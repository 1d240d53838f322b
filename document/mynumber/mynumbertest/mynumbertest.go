// Package mynumbertest mints My Number card AP files (券面事項入力補助AP and
// 券面事項確認AP) signed under a TEST J-LIS key, in the layouts and signature
// constructions that package mynumber verifies.
//
// Invariants: the anchor returned by Anchor is marked Test, so
// mynumber.Verifier.CheckProduction refuses it; the My Number given to
// Issue is written only into Files.MyNumber (and its SHA-256 into EF03
// DF31), as on a real card, so tests can prove it never leaks.
package mynumbertest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/mynumber"
)

// Card is what the test issuer writes. Sex is "1", "2" or "3".
type Card struct {
	MyNumber         string // 12 digits; written only to EF01
	Name, Address    string
	Birth, Expiry    time.Time
	Sex              string
	NamePNG, AddrPNG []byte // nil for a minimal PNG signature
	Face             []byte // JPEG 2000; nil for a minimal codestream
}

// Issuer is a test J-LIS root key plus the two AP signing keys it certifies.
type Issuer struct {
	root            *rsa.PrivateKey
	rootRef         [16]byte
	textKey, visKey *rsa.PrivateKey
}

// New creates a test issuer with RSA-2048 keys from r (crypto/rand if nil).
func New(r io.Reader) (*Issuer, error) {
	if r == nil {
		r = rand.Reader
	}
	is := &Issuer{}
	var err error
	for _, k := range []**rsa.PrivateKey{&is.root, &is.textKey, &is.visKey} {
		if *k, err = rsa.GenerateKey(r, 2048); err != nil {
			return nil, err
		}
	}
	ref := sha256.Sum256(is.root.N.Bytes())
	copy(is.rootRef[:], ref[:16])
	return is, nil
}

// Anchor returns the TEST J-LIS anchor.
func (is *Issuer) Anchor() mynumber.Anchor {
	return mynumber.Anchor{Ref: is.rootRef, Key: &is.root.PublicKey, Test: true}
}

// MinimalPNG and MinimalJ2K are image headers used when none is given.
var (
	MinimalPNG = []byte{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, 'I', 'H', 'D', 'R'}
	MinimalJ2K = []byte{0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00}
)

// Issue mints all files of both APs, signed with SHA-256.
func (is *Issuer) Issue(c Card) (mynumber.Files, error) {
	var f mynumber.Files
	f.MyNumber = tlv.Append(nil, 0x10, []byte(c.MyNumber))
	var b []byte
	b = tlv.Append(b, 0xDF21, []byte{0x00, 0x01, 0x02, 0x03})
	b = tlv.Append(b, 0xDF22, []byte(c.Name))
	b = tlv.Append(b, 0xDF23, []byte(c.Address))
	b = tlv.Append(b, 0xDF24, []byte(c.Birth.Format("20060102")))
	b = tlv.Append(b, 0xDF25, []byte(c.Sex))
	f.Basic4 = tlv.Append(nil, 0xFF20, b)
	var err error
	if f.TextSignature, err = is.TextSignature(c.MyNumber, f.Basic4, crypto.SHA256); err != nil {
		return f, err
	}
	if f.TextCert, err = is.cert(&is.textKey.PublicKey, "TEXT", crypto.SHA256); err != nil {
		return f, err
	}
	png := func(p []byte) []byte {
		if p == nil {
			return MinimalPNG
		}
		return p
	}
	face := c.Face
	if face == nil {
		face = MinimalJ2K
	}
	var v []byte
	v = tlv.Append(v, 0xDF21, []byte{0x01})
	v = tlv.Append(v, 0xDF22, []byte(c.Birth.Format("20060102")))
	v = tlv.Append(v, 0xDF23, []byte(c.Sex))
	v = tlv.Append(v, 0xDF24, rawKey(&is.visKey.PublicKey))
	v = tlv.Append(v, 0xDF25, png(c.NamePNG))
	v = tlv.Append(v, 0xDF26, png(c.AddrPNG))
	v = tlv.Append(v, 0xDF27, face)
	sig, err := sign(is.visKey, crypto.SHA256, v)
	if err != nil {
		return f, err
	}
	v = tlv.Append(v, 0xDF28, sig)
	v = tlv.Append(v, 0xDF29, []byte(c.Expiry.Format("20060102")))
	v = tlv.Append(v, 0xDF2A, MinimalPNG)
	f.Visual = tlv.Append(nil, 0xFF20, v)
	if f.VisualCert, err = is.cert(&is.visKey.PublicKey, "VISU", crypto.SHA256); err != nil {
		return f, err
	}
	// The My Number image (EF05), as a real card holds it.
	f.MyNumberImage = tlv.Append(nil, 0xFF40, append(tlv.Append(nil, 0xDF41, append(append([]byte{}, MinimalPNG...), []byte(c.MyNumber)...)), tlv.Append(nil, 0xDF43, make([]byte, 256))...))
	return f, nil
}

// TextSignature builds text AP EF03 over the given basic-4 file with hash h
// (crypto.SHA1 makes a downgraded signature for refusal tests).
func (is *Issuer) TextSignature(myNumber string, basic4 []byte, h crypto.Hash) ([]byte, error) {
	mh := sha256.Sum256(tlv.Append(nil, 0x10, []byte(myNumber)))
	bh := sha256.Sum256(basic4)
	signed := append(tlv.Append(nil, 0xDF31, mh[:]), tlv.Append(nil, 0xDF32, bh[:])...)
	sig, err := sign(is.textKey, h, signed)
	if err != nil {
		return nil, err
	}
	return tlv.Append(nil, 0xFF30, tlv.Append(signed, 0xDF33, sig)), nil
}

// ForeignCert returns a CV certificate for the text key signed by another
// root (an unknown issuer that claims this issuer's reference).
func (is *Issuer) ForeignCert(other *Issuer) ([]byte, error) {
	return other.certWithRef(&is.textKey.PublicKey, "TEXT", crypto.SHA256, is.rootRef)
}

func (is *Issuer) cert(k *rsa.PublicKey, label string, h crypto.Hash) ([]byte, error) {
	return is.certWithRef(k, label, h, is.rootRef)
}

func (is *Issuer) certWithRef(k *rsa.PublicKey, label string, h crypto.Hash, issuerRef [16]byte) ([]byte, error) {
	var body []byte
	body = append(body, issuerRef[:]...)
	subj := make([]byte, 16)
	copy(subj, "MADOGUCHI-"+label)
	body = append(body, subj...)
	body = append(body, rawKey(k)...)
	bodyTLV := tlv.Append(nil, 0x5F4E, body)
	sig, err := sign(is.root, h, bodyTLV)
	if err != nil {
		return nil, err
	}
	return tlv.Append(nil, 0x7F21, tlv.Append(bodyTLV, 0x5F37, sig)), nil
}

func rawKey(k *rsa.PublicKey) []byte {
	return tlv.Append(tlv.Append(nil, 0x82, big.NewInt(int64(k.E)).Bytes()), 0x81, k.N.Bytes())
}

func sign(k *rsa.PrivateKey, h crypto.Hash, msg []byte) ([]byte, error) {
	var d []byte
	switch h {
	case crypto.SHA256:
		s := sha256.Sum256(msg)
		d = s[:]
	case crypto.SHA1:
		s := sha1.Sum(msg)
		d = s[:]
	default:
		return nil, fmt.Errorf("mynumbertest: hash %v not supported", h)
	}
	return rsa.SignPKCS1v15(nil, k, h, d)
}

// Package jpdltest mints Japanese driver's licence chip files signed by a
// TEST 公安委員会 key, in the exact layouts and signature construction that
// package jpdl verifies. No public licence with a real signature can be
// used in tests; this issuer stands in for one.
//
// Invariants: the issuer's certificate carries jpdl.TestAnchorMarker in its
// subject organisation, so jpdl.Verifier.CheckProduction refuses it; keys
// are RSA-2048 from the given random source and never leave the Issuer
// except through Certificate/CertificatePEM (public half only).
package jpdltest

import (
	"bytes"
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

	"github.com/madoguchi/madoguchi/document/internal/jis"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
	"github.com/madoguchi/madoguchi/document/jpdl"
)

// Licence is what the test issuer writes onto a chip. Text is JIS X 0208
// (kanji, kana, full-width digits); Number is 12 ASCII digits.
type Licence struct {
	Name, Kana, Address, Honseki, PSC, Colour string
	Conditions                                []string
	Birth, Issued, Expiry                     time.Time
	Number                                    string
	Photo                                     []byte // JPEG 2000; nil for a minimal codestream
	Changes                                   []Change
}

// Change is a change record written after issue (EF04, or EF06 for Item
// "honseki"). Item is one of name, kana, address, conditions,
// conditions_removed, remarks, honseki.
type Change struct {
	Date        time.Time
	Item, Value string
	PSC         string
}

// Issuer is a test 公安委員会.
type Issuer struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// New creates a test issuer with a fresh RSA-2048 key from r (crypto/rand
// if nil) and a self-signed test anchor certificate.
func New(r io.Reader, name string) (*Issuer, error) {
	if r == nil {
		r = rand.Reader
	}
	key, err := rsa.GenerateKey(r, 2048)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	ski := sha1.Sum(pub)
	serial := new(big.Int).SetBytes(ski[:8])
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Country: []string{"JP"}, Organization: []string{jpdl.TestAnchorMarker},
			CommonName: name,
		},
		NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		SubjectKeyId: ski[:],
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, cert: cert}, nil
}

// Certificate returns the TEST anchor certificate.
func (is *Issuer) Certificate() *x509.Certificate { return is.cert }

// CertificatePEM returns the TEST anchor certificate in PEM.
func (is *Issuer) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.cert.Raw})
}

// MinimalJ2K is a JPEG 2000 codestream header (SOC, SIZ) used as a photo
// when none is given.
var MinimalJ2K = []byte{0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10}

// Issue mints the licence files, signed with SHA-256.
func (is *Issuer) Issue(l Licence) (jpdl.Files, error) {
	var f jpdl.Files
	var err error
	f.Common = append(tlv.Append(nil, 0x45, append([]byte("010"), append(BCDDate(l.Issued), BCDDate(l.Expiry)...)...)), tlv.Append(nil, 0x46, []byte{0x01, 0x02})...)
	var m []byte
	m = tlv.Append(m, 0x11, []byte{0x02})
	for _, t := range []struct {
		tag tlv.Tag
		s   string
	}{{0x12, l.Name}, {0x13, l.Kana}, {0x17, l.Address}, {0x1A, l.Colour}, {0x20, l.PSC}} {
		if m, err = appendText(m, t.tag, t.s); err != nil {
			return f, err
		}
	}
	m = tlv.Append(m, 0x16, EraDate(l.Birth))
	m = tlv.Append(m, 0x18, EraDate(l.Issued))
	m = tlv.Append(m, 0x19, []byte("1234567890"))
	m = tlv.Append(m, 0x1B, EraDate(l.Expiry))
	for i, c := range l.Conditions {
		if i >= 4 {
			return f, fmt.Errorf("jpdltest: at most 4 conditions")
		}
		if m, err = appendText(m, tlv.Tag(0x1C+i), c); err != nil {
			return f, err
		}
	}
	m = tlv.Append(m, 0x21, []byte(l.Number))
	m = tlv.Append(m, 0x26, EraDate(l.Issued)) // 普通
	m = tlv.Append(m, 0x22, nil)               // 二・小・原: not held
	f.Matters = PadFF(m, 880)
	if f.Honseki, err = appendText(nil, 0x31, l.Honseki); err != nil {
		return f, err
	}
	f.Honseki = PadFF(f.Honseki, 256)
	photo := l.Photo
	if photo == nil {
		photo = MinimalJ2K
	}
	f.Photo = PadFF(tlv.Append(nil, 0x5F40, photo), len(photo)+64)
	var ef04, ef06 []byte
	items := map[string]tlv.Tag{"name": 0x53, "kana": 0x54, "address": 0x55, "conditions": 0x56, "conditions_removed": 0x57, "remarks": 0x58, "honseki": 0x5B}
	for _, c := range l.Changes {
		tag, ok := items[c.Item]
		if !ok {
			return f, fmt.Errorf("jpdltest: unknown change item %q", c.Item)
		}
		var rec []byte
		rec = tlv.Append(rec, 0x51, []byte{0x02})
		rec = tlv.Append(rec, 0x52, EraDate(c.Date))
		if rec, err = appendText(rec, tag, c.Value); err != nil {
			return f, err
		}
		if rec, err = appendText(rec, 0x5A, c.PSC); err != nil {
			return f, err
		}
		if c.Item == "honseki" {
			ef06 = append(ef06, rec...)
		} else {
			ef04 = append(ef04, rec...)
		}
	}
	if ef04 != nil {
		f.Changes = PadFF(append(tlv.Append(nil, 0x50, []byte{1}), ef04...), 1024)
	}
	if ef06 != nil {
		f.HonsekiChanges = PadFF(append(tlv.Append(nil, 0x50, []byte{1}), ef06...), 256)
	}
	return f, is.Resign(&f, crypto.SHA256)
}

// Resign recomputes EF07 over the current DF1/EF01, DF1/EF02 and DF2/EF01
// with hash h (crypto.SHA1 makes a downgraded signature for refusal tests).
func (is *Issuer) Resign(f *jpdl.Files, h crypto.Hash) error {
	var msg []byte
	msg = append(msg, TrimFF(f.Matters)...)
	msg = append(msg, TrimFF(f.Honseki)...)
	msg = append(msg, TrimFF(f.Photo)...)
	var digest []byte
	switch h {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		digest = d[:]
	case crypto.SHA1:
		d := sha1.Sum(msg)
		digest = d[:]
	default:
		return fmt.Errorf("jpdltest: hash %v not supported", h)
	}
	sig, err := rsa.SignPKCS1v15(nil, is.key, h, digest)
	if err != nil {
		return err
	}
	var s []byte
	s = tlv.Append(s, 0xB1, sig)
	s = tlv.Append(s, 0xB2, is.cert.SerialNumber.Bytes())
	s = tlv.Append(s, 0xB3, []byte(is.cert.Issuer.CommonName))
	s = tlv.Append(s, 0xB4, []byte(is.cert.Subject.CommonName))
	s = tlv.Append(s, 0xB5, is.cert.SubjectKeyId)
	f.Signature = PadFF(s, 512)
	return nil
}

func appendText(dst []byte, tag tlv.Tag, s string) ([]byte, error) {
	if s == "" {
		return dst, nil
	}
	b, err := jis.Encode(s)
	if err != nil {
		return nil, fmt.Errorf("jpdltest: tag %s: %w", tag, err)
	}
	return tlv.Append(dst, tag, b), nil
}

// TrimFF drops the 0xFF padding after the TLV objects of a licence file
// (a copy; the input is left as is).
func TrimFF(b []byte) []byte {
	rest := b
	for len(rest) > 0 && rest[0] != 0xFF {
		_, r, err := tlv.Next(rest)
		if err != nil {
			return b
		}
		rest = r
	}
	return bytes.Clone(b[:len(b)-len(rest)])
}

// PadFF pads b with 0xFF to n bytes, as licence files are stored.
func PadFF(b []byte, n int) []byte {
	for len(b) < n {
		b = append(b, 0xFF)
	}
	return b
}

// BCDDate writes a date as the licence's 4-byte BCD YYYYMMDD.
func BCDDate(t time.Time) []byte {
	s := t.Format("20060102")
	out := make([]byte, 4)
	for i := range out {
		out[i] = (s[2*i]-'0')<<4 | (s[2*i+1] - '0')
	}
	return out
}

// EraDate writes a date as an era digit (1 明治 … 5 令和) and YYMMDD.
func EraDate(t time.Time) []byte {
	eras := []struct {
		digit byte
		start time.Time
	}{
		{'5', time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)},
		{'4', time.Date(1989, 1, 8, 0, 0, 0, 0, time.UTC)},
		{'3', time.Date(1926, 12, 25, 0, 0, 0, 0, time.UTC)},
		{'2', time.Date(1912, 7, 30, 0, 0, 0, 0, time.UTC)},
		{'1', time.Date(1868, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	for _, e := range eras {
		if !d.Before(e.start) {
			return fmt.Appendf(nil, "%c%02d%02d%02d", e.digit, t.Year()-e.start.Year()+1, int(t.Month()), t.Day())
		}
	}
	return []byte("0000000")
}

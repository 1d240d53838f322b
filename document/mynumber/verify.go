package mynumber

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/madoguchi/madoguchi/document/internal/pkcs1"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

// Files are the raw files read from the card. MyNumber and MyNumberImage
// exist only so that a client that sent them anyway is handled safely:
// Verify zeroises them on entry and never reads them.
type Files struct {
	MyNumber      []byte // text AP EF01 (個人番号): zeroised, never read
	Basic4        []byte // text AP EF02
	TextSignature []byte // text AP EF03
	TextCert      []byte // text AP EF04
	Visual        []byte // visual AP EF02
	VisualCert    []byte // visual AP EF04
	MyNumberImage []byte // visual AP EF05 (個人番号 image): zeroised, never read
}

// Anchor is a configured J-LIS key that signs the APs' CV certificates.
type Anchor struct {
	Ref  [16]byte // key reference, equal to the certificate's issuer reference
	Key  *rsa.PublicKey
	Test bool // a test anchor (mynumbertest); refused by CheckProduction
}

// PEM block headers used by ParseAnchorsPEM.
const (
	HeaderKeyReference = "Key-Reference"         // 32 hex digits
	HeaderTestAnchor   = "Madoguchi-Test-Anchor" // "true" marks a test anchor
)

// ErrAnchor reports an unusable trust configuration.
var ErrAnchor = errors.New("mynumber: unusable trust anchor")

// ParseAnchorsPEM reads "PUBLIC KEY" PEM blocks (PKIX RSA keys), each with a
// Key-Reference header, and optionally Madoguchi-Test-Anchor: true.
func ParseAnchorsPEM(b []byte) ([]Anchor, error) {
	var out []Anchor
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%w: PEM block %q, want PUBLIC KEY", ErrAnchor, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrAnchor, err)
		}
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: %T key, want RSA", ErrAnchor, k)
		}
		ref, err := hex.DecodeString(blk.Headers[HeaderKeyReference])
		if err != nil || len(ref) != 16 {
			return nil, fmt.Errorf("%w: %s header must be 32 hex digits", ErrAnchor, HeaderKeyReference)
		}
		a := Anchor{Key: rk, Test: strings.EqualFold(blk.Headers[HeaderTestAnchor], "true")}
		copy(a.Ref[:], ref)
		out = append(out, a)
	}
	if len(bytes.TrimSpace(b)) != 0 {
		return nil, fmt.Errorf("%w: trailing data that is not PEM", ErrAnchor)
	}
	return out, nil
}

// MarshalAnchorPEM encodes an anchor for ParseAnchorsPEM.
func MarshalAnchorPEM(a Anchor) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(a.Key)
	if err != nil {
		return nil, err
	}
	h := map[string]string{HeaderKeyReference: hex.EncodeToString(a.Ref[:])}
	if a.Test {
		h[HeaderTestAnchor] = "true"
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: h, Bytes: der}), nil
}

// Verifier verifies My Number card AP data against configured J-LIS keys.
type Verifier struct {
	anchors []Anchor
}

// NewVerifier returns a verifier; at least one anchor is required.
func NewVerifier(anchors []Anchor) (*Verifier, error) {
	if len(anchors) == 0 {
		return nil, fmt.Errorf("%w: no J-LIS keys configured", ErrAnchor)
	}
	for i, a := range anchors {
		if a.Key == nil || a.Key.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: anchor %d: RSA key of at least %d bits required", ErrAnchor, i, MinRSABits)
		}
		for _, b := range anchors[:i] {
			if b.Ref == a.Ref {
				return nil, fmt.Errorf("%w: anchor %d repeats key reference %X", ErrAnchor, i, a.Ref)
			}
		}
	}
	return &Verifier{anchors: append([]Anchor(nil), anchors...)}, nil
}

// CheckProduction returns document.ErrTestAnchor if a test anchor is
// configured. The server calls it at start-up in production.
func (v *Verifier) CheckProduction() error {
	for _, a := range v.anchors {
		if a.Test {
			return fmt.Errorf("%w: mynumber anchor %X", document.ErrTestAnchor, a.Ref)
		}
	}
	return nil
}

// zero overwrites b.
func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// Verify checks the supplied APs at time now: the text AP (EF02, EF03,
// EF04), the visual AP (EF02, EF04), or both. Before anything else it
// zeroises f.MyNumber and f.MyNumberImage (the caller's buffers) and sets
// them to nil. It returns the evidence and nil when every mandatory check
// passed; otherwise a *document.RefusalError and, when the files parsed, the
// evidence with the failed check (Verified=false).
func (v *Verifier) Verify(f *Files, now time.Time) (*document.Evidence, error) {
	dropped := len(f.MyNumber) > 0 || len(f.MyNumberImage) > 0
	zero(f.MyNumber)
	zero(f.MyNumberImage)
	f.MyNumber, f.MyNumberImage = nil, nil

	text := len(f.Basic4) > 0 || len(f.TextSignature) > 0 || len(f.TextCert) > 0
	visual := len(f.Visual) > 0 || len(f.VisualCert) > 0
	if !text && !visual {
		return nil, refuse("kind", document.ErrNotAccepted, "no 券面事項入力補助AP or 券面事項確認AP files supplied")
	}
	ev := &document.Evidence{Kind: kind, IssuingCountry: "JPN", Issuer: "地方公共団体情報システム機構 (J-LIS)"}
	if dropped {
		ev.AddCheck("mynumber.dropped", document.Pass, false, "個人番号 file(s) supplied and zeroised unread")
	}
	fail := func(check string, err error) (*document.Evidence, error) {
		var re *document.RefusalError
		detail := err.Error()
		if errors.As(err, &re) {
			detail = re.Reason
		}
		ev.AddCheck(check, document.Fail, true, detail)
		ev.Attributes, ev.Photo = nil, nil
		ev.Finish()
		return ev, err
	}
	var b4 Basic4
	var vis Visual
	if text {
		for _, r := range []struct {
			name string
			b    []byte
		}{{"textap/EF02", f.Basic4}, {"textap/EF03", f.TextSignature}, {"textap/EF04", f.TextCert}} {
			if len(r.b) == 0 {
				return nil, refuse("file."+r.name, document.ErrMalformed, "%s missing: the text AP needs EF02, EF03 and EF04", r.name)
			}
		}
		var sig TextSignature
		var cert CVCert
		var err error
		if b4, err = ParseBasic4(f.Basic4); err != nil {
			return nil, err
		}
		if sig, err = ParseTextSignature(f.TextSignature); err != nil {
			return nil, err
		}
		if cert, err = ParseCVCert("textap/EF04", f.TextCert); err != nil {
			return nil, err
		}
		ev.AddDigest("textap/EF02", f.Basic4)
		ev.AddDigest("textap/EF03 (DF31 masked)", masked(f.TextSignature))
		ev.AddDigest("textap/EF04", f.TextCert)
		if err := v.verifyCert("textap.certificate", cert); err != nil {
			return fail("textap.certificate", err)
		}
		ev.AddCheck("textap.certificate", document.Pass, true, fmt.Sprintf("CV certificate %X signed by configured J-LIS key %X", cert.SubjectRef, cert.IssuerRef))
		h := sha256.Sum256(b4.Encoded)
		if !bytes.Equal(h[:], sig.Basic4Hash) {
			return fail("textap.basic4_hash", refuse("textap.basic4_hash", document.ErrTampered, "SHA-256 of the basic-4 file differs from the signed hash DF32"))
		}
		ev.AddCheck("textap.basic4_hash", document.Pass, true, "basic-4 file matches the signed hash DF32")
		d := sha256.Sum256(sig.signed)
		err = pkcs1.VerifySHA256(cert.Key, d[:], sig.Value)
		zero(sig.signed)
		if err != nil {
			return fail("textap.signature", refuse("textap.signature", err, "signature DF33 over DF31 and DF32: %v", err))
		}
		ev.AddCheck("textap.signature", document.Pass, true, "RSA PKCS#1 v1.5 SHA-256 signature DF33 verified; the 個人番号 was not read")
	}
	if visual {
		for _, r := range []struct {
			name string
			b    []byte
		}{{"visualap/EF02", f.Visual}, {"visualap/EF04", f.VisualCert}} {
			if len(r.b) == 0 {
				return nil, refuse("file."+r.name, document.ErrMalformed, "%s missing: the visual AP needs EF02 and EF04", r.name)
			}
		}
		var cert CVCert
		var err error
		if vis, err = ParseVisual(f.Visual); err != nil {
			return nil, err
		}
		if cert, err = ParseCVCert("visualap/EF04", f.VisualCert); err != nil {
			return nil, err
		}
		ev.AddDigest("visualap/EF02", f.Visual)
		ev.AddDigest("visualap/EF04", f.VisualCert)
		if err := v.verifyCert("visualap.certificate", cert); err != nil {
			return fail("visualap.certificate", err)
		}
		ev.AddCheck("visualap.certificate", document.Pass, true, fmt.Sprintf("CV certificate %X signed by configured J-LIS key %X", cert.SubjectRef, cert.IssuerRef))
		d := sha256.Sum256(vis.signed)
		if err := pkcs1.VerifySHA256(cert.Key, d[:], vis.Value); err != nil {
			return fail("visualap.signature", refuse("visualap.signature", err, "signature DF28 over DF21–DF27: %v", err))
		}
		ev.AddCheck("visualap.signature", document.Pass, true, "RSA PKCS#1 v1.5 SHA-256 signature DF28 over DF21–DF27 verified")
	}
	if text && visual {
		if !b4.Birth.Equal(vis.Birth) || b4.Sex != vis.Sex {
			return fail("consistency", refuse("consistency", document.ErrNotAccepted, "text AP and visual AP disagree on birth date or sex: not one card"))
		}
		ev.AddCheck("consistency", document.Pass, true, "text AP and visual AP agree on birth date and sex")
	}

	var attrs []document.Attribute
	add := func(name, value string, signed bool) {
		attrs = append(attrs, document.Attribute{Name: name, Value: document.Secret(value), Signed: signed})
	}
	if text {
		add("name", b4.Name, true)
		add("address", b4.Address, true)
		add("birthdate", b4.Birth.Format(time.DateOnly), true)
		add("gender", b4.Sex, true)
	}
	if visual {
		if !text {
			add("birthdate", vis.Birth.Format(time.DateOnly), true)
			add("gender", vis.Sex, true)
		}
		add("name_image_png", base64.StdEncoding.EncodeToString(vis.NamePNG), true)
		add("address_image_png", base64.StdEncoding.EncodeToString(vis.AddressPNG), true)
		ev.Photo = &document.Photo{Format: "jpeg2000", Data: vis.Face, Signed: true}
		if vis.HasExpiry {
			add("expiry_date", vis.Expiry.Format(time.DateOnly), false)
			ev.Expiry = vis.Expiry
			if now.After(vis.Expiry.AddDate(0, 0, 1)) {
				ev.Attributes = attrs
				return fail("document.expiry", refuse("document.expiry", document.ErrExpired, "card expired on %s (expiry DF29 is not covered by the signature)", vis.Expiry.Format(time.DateOnly)))
			}
			ev.AddCheck("document.expiry", document.Pass, false, "card valid until "+vis.Expiry.Format(time.DateOnly)+" (expiry DF29 is not covered by the signature)")
		}
	}
	ev.Attributes = attrs
	ev.Finish()
	return ev, nil
}

func (v *Verifier) verifyCert(check string, c CVCert) error {
	for _, a := range v.anchors {
		if a.Ref != c.IssuerRef {
			continue
		}
		d := sha256.Sum256(c.body)
		if err := pkcs1.VerifySHA256(a.Key, d[:], c.sig); err != nil {
			return refuse(check, err, "CV certificate signature 5F37 by J-LIS key %X: %v", a.Ref, err)
		}
		return nil
	}
	return refuse(check, document.ErrUnknownIssuer, "CV certificate issuer reference %X is not a configured J-LIS key", c.IssuerRef)
}

// masked returns a copy of EF03 with the DF31 value (a hash of the My
// Number) replaced by zeros, for the evidence digest.
func masked(ef03 []byte) []byte {
	out := bytes.Clone(ef03)
	o, _, err := tlv.Next(out)
	if err != nil {
		return nil
	}
	cs, err := tlv.ParseAll(o.Value)
	if err != nil {
		return nil
	}
	for _, c := range cs {
		if c.Tag == tagMyNumHash {
			zero(c.Value)
		}
	}
	return out
}

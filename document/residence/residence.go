package residence

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/madoguchi/madoguchi/document/internal/pkcs1"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

const kind = document.KindResidence

// Padded sizes of the signed images, and other limits.
const (
	FrontSize    = 7000
	FaceSize     = 3000
	MaxCommon    = 64
	MaxBack      = 1024
	MaxSignature = 4096
)

// TestAnchorMarker is put in the subject organisation of every test root
// (residencetest); CheckProduction refuses such roots.
const TestAnchorMarker = document.TestAnchorMarker

// Files are the raw files read from the card. Back and the permission
// files are optional.
type Files struct {
	Common      []byte    // MF/EF01
	Front       []byte    // DF1/EF01
	Face        []byte    // DF1/EF02
	Back        []byte    // DF2/EF01 住居地
	Permissions [3][]byte // DF2/EF02–EF04
	Signature   []byte    // DF3/EF01
}

func refuse(check string, err error, format string, args ...any) error {
	return document.Refuse(kind, check, err, format, args...)
}

var foreign = map[tlv.Tag]string{
	0x45: "driver's licence common data", 0x12: "driver's licence 記載事項", 0xB1: "a driver's licence signature",
	0x5F40: "a driver's licence photo", 0x7F21: "a My Number card-verifiable certificate",
	0x77: "an ICAO EF.SOD", 0x60: "an ICAO EF.COM", 0x61: "an ICAO DG1", 0x75: "an ICAO DG2",
}

// objects decodes a file of TLV objects with optional 0xFF/0x00 padding at
// the end, each tag at most once and in allowed.
func objects(name string, b []byte, limit int, allowed ...tlv.Tag) (map[tlv.Tag]tlv.Object, error) {
	if len(b) > limit {
		return nil, refuse("file."+name, document.ErrTooLarge, "%s is %d bytes, limit %d", name, len(b), limit)
	}
	m := map[tlv.Tag]tlv.Object{}
	rest := b
	for len(rest) > 0 {
		if rest[0] == 0xFF || rest[0] == 0x00 {
			if len(bytes.Trim(rest, "\x00\xff")) != 0 {
				if len(rest) >= 2 {
					t := tlv.Tag(uint16(rest[0])<<8 | uint16(rest[1]))
					if t == 0xFF30 || t == 0xFF20 {
						return nil, refuse("kind", document.ErrNotAccepted, "%s holds tag %s, a My Number card object, not residence card data", name, t)
					}
				}
				return nil, refuse("file."+name, document.ErrMalformed, "%s: data after padding", name)
			}
			break
		}
		o, r, err := tlv.Next(rest)
		if err != nil {
			return nil, refuse("file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s does not decode at offset %d", name, len(b)-len(rest))
		}
		ok := false
		for _, a := range allowed {
			ok = ok || o.Tag == a
		}
		if !ok {
			if what, f := foreign[o.Tag]; f {
				return nil, refuse("kind", document.ErrNotAccepted, "%s holds tag %s, %s, not residence card data", name, o.Tag, what)
			}
			return nil, refuse("file."+name, document.ErrMalformed, "%s: unexpected tag %s", name, o.Tag)
		}
		if _, dup := m[o.Tag]; dup {
			return nil, refuse("file."+name, document.ErrMalformed, "%s: tag %s repeated", name, o.Tag)
		}
		m[o.Tag] = o
		rest = r
	}
	return m, nil
}

func single(name string, b []byte, limit int, tag tlv.Tag) ([]byte, error) {
	m, err := objects(name, b, limit, tag)
	if err != nil {
		return nil, err
	}
	o, ok := m[tag]
	if !ok {
		return nil, refuse("file."+name, document.ErrMalformed, "%s: tag %s missing", name, tag)
	}
	return o.Value, nil
}

// CardType is MF/EF01 C1.
type CardType string

// Card types.
const (
	ResidenceCard    CardType = "1" // 在留カード
	SpecialPermanent CardType = "2" // 特別永住者証明書
)

// ParseCommon decodes MF/EF01 and returns the card type.
func ParseCommon(b []byte) (CardType, error) {
	const name = "MF/EF01"
	m, err := objects(name, b, MaxCommon, 0xC0, 0xC1, 0xC2)
	if err != nil {
		return "", err
	}
	c, ok := m[0xC1]
	if _, v := m[0xC0]; !ok || !v {
		return "", refuse("kind", document.ErrNotAccepted, "%s lacks the residence card common data C0 and C1", name)
	}
	switch t := CardType(c.Value); t {
	case ResidenceCard, SpecialPermanent:
		return t, nil
	}
	return "", refuse("kind", document.ErrNotAccepted, "%s: card type %q is neither a residence card nor a special permanent resident certificate", name, c.Value)
}

// Back is the unsigned back-side data.
type Back struct {
	Written time.Time
	Address string
}

var jst = time.FixedZone("JST", 9*3600)

func text(name string, tag tlv.Tag, v []byte) (string, error) {
	// The spec writes these in Shift_JIS/UTF-8 depending on version; we
	// accept UTF-8 only and refuse anything else rather than guess.
	if !utf8.Valid(v) || bytes.ContainsAny(v, "\x00\r\n") {
		return "", refuse("file."+name, document.ErrMalformed, "%s: tag %s is not UTF-8 text", name, tag)
	}
	return strings.TrimRight(string(v), " 　"), nil
}

// ParseBack decodes DF2/EF01.
func ParseBack(b []byte) (Back, error) {
	const name = "DF2/EF01"
	m, err := objects(name, b, MaxBack, 0xD4, 0xD5, 0xD6)
	if err != nil {
		return Back{}, err
	}
	var r Back
	if o, ok := m[0xD4]; ok && len(o.Value) > 0 {
		if r.Written, err = time.ParseInLocation("20060102", string(o.Value), jst); err != nil || len(o.Value) != 8 {
			return Back{}, refuse("file."+name, document.ErrMalformed, "%s: D4 is not a YYYYMMDD date", name)
		}
	}
	if o, ok := m[0xD5]; ok {
		if r.Address, err = text(name, 0xD5, o.Value); err != nil {
			return Back{}, err
		}
	}
	return r, nil
}

// Signature is DF3/EF01.
type Signature struct {
	CheckCode []byte
	Cert      *x509.Certificate
}

// ParseSignature decodes DF3/EF01.
func ParseSignature(b []byte) (Signature, error) {
	const name = "DF3/EF01"
	m, err := objects(name, b, MaxSignature, 0xDA, 0xDB)
	if err != nil {
		return Signature{}, err
	}
	da, ok1 := m[0xDA]
	db, ok2 := m[0xDB]
	if !ok1 || !ok2 {
		return Signature{}, refuse("file."+name, document.ErrMalformed, "%s: check code DA or certificate DB missing", name)
	}
	c, err := x509.ParseCertificate(db.Value)
	if err != nil {
		return Signature{}, refuse("file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s: certificate DB does not parse", name)
	}
	return Signature{CheckCode: bytes.Clone(da.Value), Cert: c}, nil
}

var (
	tiffLE = []byte{'I', 'I', 0x2A, 0x00}
	tiffBE = []byte{'M', 'M', 0x00, 0x2A}
)

func isJPEG2000(b []byte) bool {
	jp2 := []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}
	return bytes.HasPrefix(b, jp2) || bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
}

// Verifier verifies residence cards against configured root certificates.
type Verifier struct {
	roots *x509.CertPool
	certs []*x509.Certificate
}

// ErrAnchor reports an unusable trust configuration.
var ErrAnchor = errors.New("residence: unusable trust anchor")

// NewVerifier returns a verifier trusting the given root certificates; at
// least one is required.
func NewVerifier(roots []*x509.Certificate) (*Verifier, error) {
	if len(roots) == 0 {
		return nil, fmt.Errorf("%w: no residence card roots configured", ErrAnchor)
	}
	v := &Verifier{roots: x509.NewCertPool()}
	for i, c := range roots {
		if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() < MinRSABits {
			return nil, fmt.Errorf("%w: root %d (%s) must hold an RSA key of at least %d bits", ErrAnchor, i, c.Subject, MinRSABits)
		}
		v.roots.AddCert(c)
		v.certs = append(v.certs, c)
	}
	return v, nil
}

// CheckProduction returns document.ErrTestAnchor if a test root is
// configured. The server calls it at start-up in production.
func (v *Verifier) CheckProduction() error {
	for _, c := range v.certs {
		if document.IsTestAnchor(c) {
			return fmt.Errorf("%w: residence root %s", document.ErrTestAnchor, c.Subject)
		}
	}
	return nil
}

// Verify checks the card files at time now. It returns the evidence and nil
// when every mandatory check passed; otherwise a *document.RefusalError and,
// when the files parsed, the evidence with the failed check
// (Verified=false).
func (v *Verifier) Verify(f Files, now time.Time) (*document.Evidence, error) {
	for _, r := range []struct {
		name string
		b    []byte
	}{{"MF/EF01", f.Common}, {"DF1/EF01", f.Front}, {"DF1/EF02", f.Face}, {"DF3/EF01", f.Signature}} {
		if len(r.b) == 0 {
			return nil, refuse("file."+r.name, document.ErrMalformed, "%s missing", r.name)
		}
	}
	ct, err := ParseCommon(f.Common)
	if err != nil {
		return nil, err
	}
	front, err := single("DF1/EF01", f.Front, FrontSize+16, 0xD0)
	if err != nil {
		return nil, err
	}
	face, err := single("DF1/EF02", f.Face, FaceSize+16, 0xD1)
	if err != nil {
		return nil, err
	}
	if len(front) > FrontSize || len(face) > FaceSize {
		return nil, refuse("file.DF1", document.ErrMalformed, "image longer than its signed size (front %d/%d, face %d/%d bytes)", len(front), FrontSize, len(face), FaceSize)
	}
	if !bytes.HasPrefix(front, tiffLE) && !bytes.HasPrefix(front, tiffBE) {
		return nil, refuse("file.DF1/EF01", document.ErrMalformed, "front image is not TIFF")
	}
	if !isJPEG2000(face) {
		return nil, refuse("file.DF1/EF02", document.ErrMalformed, "face image is not JPEG 2000")
	}
	// Zero padding makes trailing zero bytes of an image unauthenticated;
	// a JPEG 2000 codestream ends with the EOC marker, so requiring it
	// pins the face image's length.
	if !bytes.HasSuffix(face, []byte{0xFF, 0xD9}) {
		return nil, refuse("file.DF1/EF02", document.ErrMalformed, "face image does not end with the JPEG 2000 EOC marker")
	}
	sig, err := ParseSignature(f.Signature)
	if err != nil {
		return nil, err
	}
	var back Back
	if len(f.Back) > 0 {
		if back, err = ParseBack(f.Back); err != nil {
			return nil, err
		}
	}
	var perms []string
	for i, p := range f.Permissions {
		if len(p) == 0 {
			continue
		}
		name := fmt.Sprintf("DF2/EF%02d", i+2)
		tag := tlv.Tag(0xD7 + i)
		v, err := single(name, p, MaxBack, tag)
		if err != nil {
			return nil, err
		}
		s, err := text(name, tag, v)
		if err != nil {
			return nil, err
		}
		if s != "" {
			perms = append(perms, s)
		}
	}

	ev := &document.Evidence{Kind: kind, IssuingCountry: "JPN", Issuer: "出入国在留管理庁 (Immigration Services Agency of Japan)"}
	for _, d := range []struct {
		name string
		b    []byte
	}{
		{"MF/EF01", f.Common}, {"DF1/EF01", f.Front}, {"DF1/EF02", f.Face}, {"DF2/EF01", f.Back},
		{"DF2/EF02", f.Permissions[0]}, {"DF2/EF03", f.Permissions[1]}, {"DF2/EF04", f.Permissions[2]}, {"DF3/EF01", f.Signature},
	} {
		if len(d.b) > 0 {
			ev.AddDigest(d.name, d.b)
		}
	}
	fail := func(check string, sentinel error, format string, args ...any) (*document.Evidence, error) {
		detail := fmt.Sprintf(format, args...)
		ev.AddCheck(check, document.Fail, true, detail)
		ev.Finish()
		return ev, refuse(check, sentinel, "%s", detail)
	}
	ev.AddCheck("structure", document.Pass, true, fmt.Sprintf("card type %s files decode", ct))

	chains, err := sig.Cert.Verify(x509.VerifyOptions{Roots: v.roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return fail("certificate", document.ErrExpired, "card certificate %s is outside its validity on %s", sig.Cert.Subject, now.Format(time.DateOnly))
		}
		return fail("certificate", document.ErrUnknownIssuer, "card certificate %s (issuer %s) does not chain to a configured root: %v", sig.Cert.Subject, sig.Cert.Issuer, err)
	}
	ev.AddCheck("certificate", document.Pass, true, fmt.Sprintf("card certificate %s chains to %s", sig.Cert.Subject, chains[0][len(chains[0])-1].Subject))
	if sig.Cert.KeyUsage != 0 && sig.Cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fail("certificate.key_usage", document.ErrUnknownIssuer, "card certificate key usage does not allow signatures")
	}
	key, ok := sig.Cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fail("signature", document.ErrUnsupported, "card certificate holds a %T key, want RSA", sig.Cert.PublicKey)
	}
	h := sha256.New()
	h.Write(front)
	h.Write(make([]byte, FrontSize-len(front)))
	h.Write(face)
	h.Write(make([]byte, FaceSize-len(face)))
	if err := pkcs1.VerifySHA256(key, h.Sum(nil), sig.CheckCode); err != nil {
		ev.AddCheck("signature", document.Fail, true, "check code over the padded front and face images: "+err.Error())
		ev.Finish()
		return ev, refuse("signature", err, "check code over the padded front and face images")
	}
	ev.AddCheck("signature", document.Pass, true, "RSA PKCS#1 v1.5 SHA-256 check code over front (7000 B) and face (3000 B) images verified")

	add := func(name, value string, signed bool) {
		ev.Attributes = append(ev.Attributes, document.Attribute{Name: name, Value: document.Secret(value), Signed: signed})
	}
	add("card_type", map[CardType]string{ResidenceCard: "residence_card", SpecialPermanent: "special_permanent_resident_certificate"}[ct], true)
	add("front_image_tiff", base64.StdEncoding.EncodeToString(front), true)
	if back.Address != "" {
		add("address", back.Address, false)
		if !back.Written.IsZero() {
			add("address_written", back.Written.Format(time.DateOnly), false)
		}
	}
	for i, p := range perms {
		add(fmt.Sprintf("back_entry_%d", i+1), p, false)
	}
	if len(f.Back) > 0 || len(perms) > 0 {
		ev.AddCheck("back", document.Pass, false, "back-side entries (DF2) are not covered by the check code: reported unsigned")
	}
	ev.Photo = &document.Photo{Format: "jpeg2000", Data: bytes.Clone(face), Signed: true}
	ev.Finish()
	return ev, nil
}

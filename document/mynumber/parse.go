package mynumber

import (
	"bytes"
	"crypto/rsa"
	"fmt"
	"math/big"
	"time"
	"unicode/utf8"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/internal/tlv"
)

const kind = document.KindMyNumber

// Size limits per file.
const (
	MaxBasic4    = 2048
	MaxSignature = 1024
	MaxCert      = 1024
	MaxVisual    = 64 << 10
)

const (
	tagFile       = 0xFF20
	tagSigObject  = 0xFF30
	tagMyNumHash  = 0xDF31
	tagBasic4Hash = 0xDF32
	tagTextSig    = 0xDF33
	tagCVCert     = 0x7F21
	tagCVBody     = 0x5F4E
	tagCVSig      = 0x5F37
)

func refuse(check string, err error, format string, args ...any) error {
	return document.Refuse(kind, check, err, format, args...)
}

// foreign names structures of other cards, for mixed bundles.
var foreign = map[tlv.Tag]string{
	0x45: "driver's licence common data", 0x12: "driver's licence 記載事項", 0xB1: "a driver's licence signature",
	0x5F40: "a driver's licence photo", 0xDA: "a residence card check code", 0xDB: "a residence card certificate",
	0xD0: "a residence card front image", 0xD1: "a residence card face image", 0xC0: "residence card common data",
	0x77: "an ICAO EF.SOD", 0x60: "an ICAO EF.COM",
}

// one decodes a file holding one object with tag want (optionally followed
// by 0xFF padding, left by readers that read whole files).
func one(name string, b []byte, limit int, want tlv.Tag) (tlv.Object, error) {
	if len(b) > limit {
		return tlv.Object{}, refuse("file."+name, document.ErrTooLarge, "%s is %d bytes, limit %d", name, len(b), limit)
	}
	if len(b) == 0 {
		return tlv.Object{}, refuse("file."+name, document.ErrMalformed, "%s is empty", name)
	}
	o, rest, err := tlv.Next(b)
	if err != nil {
		return tlv.Object{}, refuse("file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s does not decode", name)
	}
	if len(bytes.TrimLeft(rest, "\xff")) != 0 {
		return tlv.Object{}, refuse("file."+name, document.ErrMalformed, "%s: %d bytes after the object", name, len(rest))
	}
	if o.Tag != want {
		if what, ok := foreign[o.Tag]; ok {
			return tlv.Object{}, refuse("kind", document.ErrNotAccepted, "%s holds tag %s, %s, not My Number card data", name, o.Tag, what)
		}
		return tlv.Object{}, refuse("file."+name, document.ErrMalformed, "%s: tag %s, want %s", name, o.Tag, want)
	}
	return o, nil
}

// children decodes the value of o into its child objects, each tag at
// most once, and checks the tags are in allowed (in any order).
func children(name string, o tlv.Object, allowed ...tlv.Tag) (map[tlv.Tag]tlv.Object, []tlv.Object, error) {
	cs, err := tlv.ParseAll(o.Value)
	if err != nil {
		return nil, nil, refuse("file."+name, fmt.Errorf("%w: %w", document.ErrMalformed, err), "%s: content does not decode", name)
	}
	m := map[tlv.Tag]tlv.Object{}
	for _, c := range cs {
		ok := false
		for _, a := range allowed {
			ok = ok || c.Tag == a
		}
		if !ok {
			return nil, nil, refuse("file."+name, document.ErrMalformed, "%s: unexpected tag %s", name, c.Tag)
		}
		if _, dup := m[c.Tag]; dup {
			return nil, nil, refuse("file."+name, document.ErrMalformed, "%s: tag %s repeated", name, c.Tag)
		}
		m[c.Tag] = c
	}
	return m, cs, nil
}

func need(name string, m map[tlv.Tag]tlv.Object, tags ...tlv.Tag) error {
	for _, t := range tags {
		if _, ok := m[t]; !ok {
			return refuse("file."+name, document.ErrMalformed, "%s: tag %s missing", name, t)
		}
	}
	return nil
}

// Basic4 is the text AP's basic-4 information.
type Basic4 struct {
	Name, Address string
	Birth         time.Time
	Sex           string // "male", "female", "unknown"
	Encoded       []byte // the EF02 object as encoded (hashed into DF32)
}

func utf8Text(name string, o tlv.Object) (string, error) {
	if !utf8.Valid(o.Value) || bytes.ContainsAny(o.Value, "\x00\r\n") {
		return "", refuse("file."+name, document.ErrMalformed, "%s: tag %s is not a UTF-8 line", name, o.Tag)
	}
	return string(o.Value), nil
}

func ymd(name string, o tlv.Object) (time.Time, error) {
	t, err := time.ParseInLocation("20060102", string(o.Value), jst)
	if err != nil || len(o.Value) != 8 {
		return time.Time{}, refuse("file."+name, document.ErrMalformed, "%s: tag %s is not a YYYYMMDD date", name, o.Tag)
	}
	return t, nil
}

var jst = time.FixedZone("JST", 9*3600)

func sex(name string, o tlv.Object) (string, error) {
	switch string(o.Value) {
	case "1":
		return "male", nil
	case "2":
		return "female", nil
	case "3", "9":
		return "unknown", nil
	}
	return "", refuse("file."+name, document.ErrMalformed, "%s: tag %s is not a sex code", name, o.Tag)
}

// ParseBasic4 decodes text AP EF02.
func ParseBasic4(b []byte) (Basic4, error) {
	const name = "textap/EF02"
	o, err := one(name, b, MaxBasic4, tagFile)
	if err != nil {
		return Basic4{}, err
	}
	m, _, err := children(name, o, 0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25)
	if err != nil {
		return Basic4{}, err
	}
	if err := need(name, m, 0xDF22, 0xDF23, 0xDF24, 0xDF25); err != nil {
		return Basic4{}, err
	}
	var r Basic4
	if r.Name, err = utf8Text(name, m[0xDF22]); err != nil {
		return Basic4{}, err
	}
	if r.Address, err = utf8Text(name, m[0xDF23]); err != nil {
		return Basic4{}, err
	}
	if r.Birth, err = ymd(name, m[0xDF24]); err != nil {
		return Basic4{}, err
	}
	if r.Sex, err = sex(name, m[0xDF25]); err != nil {
		return Basic4{}, err
	}
	r.Encoded = o.Raw
	return r, nil
}

// TextSignature is text AP EF03. MyNumberHash is kept only inside the
// verification; callers must not store it.
type TextSignature struct {
	myNumberHash []byte
	Basic4Hash   []byte
	Value        []byte
	signed       []byte // DF31 ‖ DF32 as encoded
}

// ParseTextSignature decodes text AP EF03.
func ParseTextSignature(b []byte) (TextSignature, error) {
	const name = "textap/EF03"
	o, err := one(name, b, MaxSignature, tagSigObject)
	if err != nil {
		return TextSignature{}, err
	}
	m, cs, err := children(name, o, tagMyNumHash, tagBasic4Hash, tagTextSig)
	if err != nil {
		return TextSignature{}, err
	}
	if err := need(name, m, tagMyNumHash, tagBasic4Hash, tagTextSig); err != nil {
		return TextSignature{}, err
	}
	if len(cs) != 3 || cs[0].Tag != tagMyNumHash || cs[1].Tag != tagBasic4Hash {
		return TextSignature{}, refuse("file."+name, document.ErrMalformed, "%s: objects out of order", name)
	}
	for _, t := range []tlv.Tag{tagMyNumHash, tagBasic4Hash} {
		if len(m[t].Value) != 32 {
			return TextSignature{}, refuse("file."+name, document.ErrWeakAlgorithm, "%s: tag %s is a %d-byte hash, want SHA-256 (32 bytes)", name, t, len(m[t].Value))
		}
	}
	return TextSignature{
		myNumberHash: m[tagMyNumHash].Value,
		Basic4Hash:   bytes.Clone(m[tagBasic4Hash].Value),
		Value:        bytes.Clone(m[tagTextSig].Value),
		signed:       append(append([]byte{}, cs[0].Raw...), cs[1].Raw...),
	}, nil
}

// CVCert is a card-verifiable certificate.
type CVCert struct {
	IssuerRef, SubjectRef [16]byte
	Key                   *rsa.PublicKey
	body                  []byte // the 5F4E object as encoded
	sig                   []byte
}

// ParseCVCert decodes a 7F21 card-verifiable certificate (EF04 of either AP).
func ParseCVCert(name string, b []byte) (CVCert, error) {
	o, err := one(name, b, MaxCert, tagCVCert)
	if err != nil {
		return CVCert{}, err
	}
	m, _, err := children(name, o, tagCVBody, tagCVSig)
	if err != nil {
		return CVCert{}, err
	}
	if err := need(name, m, tagCVBody, tagCVSig); err != nil {
		return CVCert{}, err
	}
	body := m[tagCVBody].Value
	if len(body) < 32 {
		return CVCert{}, refuse("file."+name, document.ErrMalformed, "%s: certificate body is %d bytes", name, len(body))
	}
	var c CVCert
	copy(c.IssuerRef[:], body[:16])
	copy(c.SubjectRef[:], body[16:32])
	if c.Key, err = rawRSAKey(name, body[32:]); err != nil {
		return CVCert{}, err
	}
	c.body = m[tagCVBody].Raw
	c.sig = m[tagCVSig].Value
	return c, nil
}

// rawRSAKey decodes two TLV objects: exponent, then modulus.
func rawRSAKey(name string, b []byte) (*rsa.PublicKey, error) {
	objs, err := tlv.ParseAll(b)
	if err != nil || len(objs) != 2 {
		return nil, refuse("file."+name, document.ErrMalformed, "%s: public key is not exponent and modulus", name)
	}
	e, n := objs[0].Value, objs[1].Value
	if len(e) == 0 || len(e) > 4 || len(n) == 0 || len(n) > 1024 || n[0] == 0 {
		return nil, refuse("file."+name, document.ErrMalformed, "%s: public key sizes out of range", name)
	}
	ei := new(big.Int).SetBytes(e)
	if ei.Int64() < 3 || ei.Int64()%2 == 0 {
		return nil, refuse("file."+name, document.ErrMalformed, "%s: public exponent invalid", name)
	}
	k := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}
	if k.N.BitLen() < MinRSABits {
		return nil, refuse("file."+name, document.ErrWeakAlgorithm, "%s: RSA-%d key, minimum %d", name, k.N.BitLen(), MinRSABits)
	}
	return k, nil
}

// Visual is the visual AP EF02. Images are copies.
type Visual struct {
	Birth      time.Time
	Sex        string
	NamePNG    []byte
	AddressPNG []byte
	Face       []byte // JPEG 2000
	Expiry     time.Time
	HasExpiry  bool
	Value      []byte // DF28
	signed     []byte // DF21…DF27 as encoded
}

var pngMagic = []byte{0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A}

// ParseVisual decodes visual AP EF02.
func ParseVisual(b []byte) (Visual, error) {
	const name = "visualap/EF02"
	o, err := one(name, b, MaxVisual, tagFile)
	if err != nil {
		return Visual{}, err
	}
	m, cs, err := children(name, o, 0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25, 0xDF26, 0xDF27, 0xDF28, 0xDF29, 0xDF2A)
	if err != nil {
		return Visual{}, err
	}
	if err := need(name, m, 0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25, 0xDF26, 0xDF27, 0xDF28); err != nil {
		return Visual{}, err
	}
	var v Visual
	for i, c := range cs {
		if c.Tag == 0xDF28 {
			if i != 7 {
				return Visual{}, refuse("file."+name, document.ErrMalformed, "%s: signature DF28 must follow DF21–DF27", name)
			}
			break
		}
		v.signed = append(v.signed, c.Raw...)
	}
	if v.Birth, err = ymd(name, m[0xDF22]); err != nil {
		return Visual{}, err
	}
	if v.Sex, err = sex(name, m[0xDF23]); err != nil {
		return Visual{}, err
	}
	for _, t := range []tlv.Tag{0xDF25, 0xDF26} {
		if !bytes.HasPrefix(m[t].Value, pngMagic) {
			return Visual{}, refuse("file."+name, document.ErrMalformed, "%s: tag %s is not a PNG image", name, t)
		}
	}
	if !isJPEG2000(m[0xDF27].Value) {
		return Visual{}, refuse("file."+name, document.ErrMalformed, "%s: face photo DF27 is not JPEG 2000", name)
	}
	v.NamePNG, v.AddressPNG, v.Face = bytes.Clone(m[0xDF25].Value), bytes.Clone(m[0xDF26].Value), bytes.Clone(m[0xDF27].Value)
	v.Value = bytes.Clone(m[0xDF28].Value)
	if e, ok := m[0xDF29]; ok {
		if v.Expiry, err = ymd(name, e); err != nil {
			return Visual{}, err
		}
		v.HasExpiry = true
	}
	return v, nil
}

func isJPEG2000(b []byte) bool {
	jp2 := []byte{0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A}
	return bytes.HasPrefix(b, jp2) || bytes.HasPrefix(b, []byte{0xFF, 0x4F, 0xFF, 0x51})
}

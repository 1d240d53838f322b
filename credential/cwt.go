package credential

// The credential: a CWT (RFC 8392) in a COSE_Sign1, Base45-encoded behind
// the prefix "MDG2:" in a QR code's alphanumeric mode.
//
//	claims = { 1: iss (tstr), 2: sub (tstr, pseudonymous), 4: exp, 6: iat,
//	           7: cti (bstr, 16), "t": tenant id, "m": model code (bstr, 4),
//	           "s": status-list index (uint), "f": template envelope }
//
// The model code is the first four bytes of SHA-256 over the recogniser's
// model id: a verifier recognises its own engine's model by it, and the
// full id is the template envelope's HPKE aad, so a credential opens only
// on an engine with exactly that model id.
//
// The prefix is the format version. Format 1 ("MDG1:": text claim keys
// "tnt", "mdl", "sli", "tpl", the model id in full, an int8 template with
// a float32 scale) is refused with ErrOldFormat, which says to reissue;
// nothing was issued outside development before format 2.
//
// Everything in it is checked twice, as HCERT advises: the shape before
// the signature is verified (parse), the meaning after (Verify).

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Prefix starts every credential's QR text; it names the format version.
const Prefix = "MDG2:"

// oldPrefixes are earlier formats' prefixes, refused with ErrOldFormat.
var oldPrefixes = []string{"MDG1:"}

// ErrOldFormat: a credential of an earlier format; it must be reissued.
var ErrOldFormat = errors.New("credential: an earlier credential format, no longer accepted: reissue it")

// Limits of a credential.
const (
	MaxQRText    = 2400 // characters of QR text accepted (v40-M alphanumeric holds 3,391; we issue far less)
	maxIDText    = 128
	maxModelLen  = 128
	ctiLen       = 16
	modelCodeLen = 4
)

// Claims are a credential's signed contents.
type Claims struct {
	Issuer      string   `cbor:"1,keyasint"`
	Subject     string   `cbor:"2,keyasint"`
	Expiry      int64    `cbor:"4,keyasint"`
	IssuedAt    int64    `cbor:"6,keyasint"`
	CTI         []byte   `cbor:"7,keyasint"`
	Tenant      string   `cbor:"t"`
	ModelCode   []byte   `cbor:"m"`
	StatusIndex uint32   `cbor:"s"`
	Template    envelope `cbor:"f"`
	// Model is the recogniser's model id. The issuer sets it (Sign derives
	// ModelCode from it); a parsed credential has it only once
	// ResolveModel has found it among the verifier's models.
	Model string `cbor:"-"`
}

// ModelCode is the code a credential carries for a model id.
func ModelCode(model string) []byte {
	h := sha256.Sum256([]byte(model))
	return h[:modelCodeLen]
}

// ResolveModel sets c.Model to the one of models whose code the
// credential carries (ErrModel if none).
func (c *Claims) ResolveModel(models []string) error {
	for _, m := range models {
		if bytes.Equal(ModelCode(m), c.ModelCode) {
			c.Model = m
			return nil
		}
	}
	return fmt.Errorf("%w: model code %x", ErrModel, c.ModelCode)
}

// ID is the credential's id as the API names it: "crd_" and the
// base32 of its cti.
func (c *Claims) ID() string { return "crd_" + strings.ToLower(b32(c.CTI)) }

func textOK(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func (c *Claims) check() error {
	switch {
	case !textOK(c.Issuer, maxIDText), !textOK(c.Subject, maxIDText), !textOK(c.Tenant, maxIDText):
		return fmt.Errorf("%w: iss, sub and t are 1-%d printable characters", ErrMalformed, maxIDText)
	case len(c.ModelCode) != modelCodeLen:
		return fmt.Errorf("%w: m must be %d bytes", ErrMalformed, modelCodeLen)
	case len(c.CTI) != ctiLen:
		return fmt.Errorf("%w: cti must be %d bytes", ErrMalformed, ctiLen)
	case c.IssuedAt <= 0 || c.Expiry <= c.IssuedAt:
		return fmt.Errorf("%w: iat and exp", ErrMalformed)
	}
	return c.Template.check()
}

// Issued is a signed credential.
type Issued struct {
	Claims Claims
	// COSE is the tagged COSE_Sign1; Text is what the QR code holds.
	COSE []byte
	Text string
}

// Sign builds and signs a credential: the compact template is sealed to
// the tenant's branch key (version), then the claims are signed by the
// issuer key.
func Sign(iss *IssuerKey, c Claims, branchPub *ecdh.PublicKey, branchVersion uint32, compact []byte) (*Issued, error) {
	if !textOK(c.Model, maxModelLen) {
		return nil, fmt.Errorf("%w: model id of 1-%d printable characters", ErrMalformed, maxModelLen)
	}
	c.ModelCode = ModelCode(c.Model)
	env, err := sealTemplate(branchPub, branchVersion, c.Tenant, c.CTI, c.Model, compact)
	if err != nil {
		return nil, err
	}
	c.Template = env
	if err := c.check(); err != nil {
		return nil, err
	}
	payload, err := marshal(&c)
	if err != nil {
		return nil, err
	}
	msg, err := signSign1(iss.signer, iss.kid[:], payload)
	if err != nil {
		return nil, err
	}
	return &Issued{Claims: c, COSE: msg, Text: QRText(msg)}, nil
}

// QRText is the QR text of a tagged COSE_Sign1 credential: the prefix and
// its Base45 (what Sign puts in Issued.Text; Parse reverses it).
func QRText(cose []byte) string { return Prefix + base45Encode(cose) }

// Parsed is a credential whose structure was checked; nothing about its
// signature, validity or status is known yet.
type Parsed struct {
	Claims Claims
	Kid    [kidLen]byte
	msg    *sign1
}

// Parse decodes QR text (or, with no prefix, the COSE bytes as Base45) into
// a Parsed credential, checking only its structure.
func Parse(text string) (*Parsed, error) {
	if len(text) > MaxQRText {
		return nil, fmt.Errorf("%w: longer than %d characters", ErrMalformed, MaxQRText)
	}
	rest, ok := strings.CutPrefix(text, Prefix)
	if !ok && slices.ContainsFunc(oldPrefixes, func(p string) bool { return strings.HasPrefix(text, p) }) {
		return nil, ErrOldFormat
	}
	if !ok {
		return nil, fmt.Errorf("%w: not a madoguchi credential (prefix %q)", ErrMalformed, Prefix)
	}
	b, err := base45Decode(rest)
	if err != nil {
		return nil, err
	}
	return ParseCOSE(b)
}

// ParseCOSE checks the structure of a tagged COSE_Sign1 credential.
func ParseCOSE(b []byte) (*Parsed, error) {
	m, err := parseSign1(b)
	if err != nil {
		return nil, err
	}
	var p Parsed
	if err := unmarshal(m.Payload, &p.Claims); err != nil {
		return nil, err
	}
	if err := p.Claims.check(); err != nil {
		return nil, err
	}
	copy(p.Kid[:], m.Unprotected.Kid)
	p.msg = m
	return &p, nil
}

// VerifySignature checks the credential's signature against the issuer
// keys (by kid).
func (p *Parsed) VerifySignature(keys KeySet) error {
	pub, ok := keys[p.Kid]
	if !ok {
		return fmt.Errorf("%w: unknown issuer key", ErrSignature)
	}
	return p.msg.verify(pub)
}

// OpenTemplate decrypts the template with the tenant's branch keys (by
// version). Call it only after VerifySignature and ResolveModel (the
// model id is the envelope's aad).
func (p *Parsed) OpenTemplate(branchKeys map[uint32]*ecdh.PrivateKey) ([]byte, error) {
	k, ok := branchKeys[p.Claims.Template.KeyVersion]
	if !ok {
		return nil, fmt.Errorf("%w: no branch key of version %d", ErrDecrypt, p.Claims.Template.KeyVersion)
	}
	return p.Claims.Template.open(k, p.Claims.Tenant, p.Claims.CTI, p.Claims.Model)
}

// KeySet holds issuer public keys by kid.
type KeySet map[[kidLen]byte]*ecdsa.PublicKey

// times converts the claims' times.
func (c *Claims) times() (iat, exp time.Time) {
	return time.Unix(c.IssuedAt, 0), time.Unix(c.Expiry, 0)
}

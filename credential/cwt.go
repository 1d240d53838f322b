package credential

// The credential: a CWT (RFC 8392) in a COSE_Sign1, Base45-encoded behind
// the prefix "MDG1:" in a QR code's alphanumeric mode.
//
//	claims = { 1: iss (tstr), 2: sub (tstr, pseudonymous), 4: exp, 6: iat,
//	           7: cti (bstr, 16), "tnt": tenant id, "mdl": model id,
//	           "sli": status-list index (uint), "tpl": envelope }
//
// Everything in it is checked twice, as HCERT advises: the shape before
// the signature is verified (parse), the meaning after (Verify).

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Prefix starts every credential's QR text.
const Prefix = "MDG1:"

// Limits of a credential.
const (
	MaxQRText   = 2400 // characters of QR text accepted (v40-M alphanumeric holds 3,391; we issue far less)
	maxIDText   = 128
	maxModelLen = 128
	ctiLen      = 16
)

// Claims are a credential's signed contents.
type Claims struct {
	Issuer      string   `cbor:"1,keyasint"`
	Subject     string   `cbor:"2,keyasint"`
	Expiry      int64    `cbor:"4,keyasint"`
	IssuedAt    int64    `cbor:"6,keyasint"`
	CTI         []byte   `cbor:"7,keyasint"`
	Tenant      string   `cbor:"tnt"`
	Model       string   `cbor:"mdl"`
	StatusIndex uint32   `cbor:"sli"`
	Template    envelope `cbor:"tpl"`
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
	case !textOK(c.Issuer, maxIDText), !textOK(c.Subject, maxIDText), !textOK(c.Tenant, maxIDText), !textOK(c.Model, maxModelLen):
		return fmt.Errorf("%w: iss, sub, tnt and mdl are 1-%d printable characters", ErrMalformed, maxIDText)
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
// version) and expands it. Call it only after VerifySignature.
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

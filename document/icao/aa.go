package icao

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/subtle"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"github.com/madoguchi/madoguchi/document/internal/cert"
)

// ChallengeSize is the length of the INTERNAL AUTHENTICATE challenge (ICAO
// 9303 Part 11 §6.1).
const ChallengeSize = 8

// ErrAA is returned when an Active Authentication response does not verify.
var ErrAA = errors.New("icao: active authentication failed")

// ActiveAuth is the chip's answer to the server's challenge.
type ActiveAuth struct {
	Challenge []byte // issued by the server for this session, 8 bytes
	Signature []byte // the INTERNAL AUTHENTICATE response
}

var (
	oidECDSASHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSASHA224 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 1}
	oidECDSASHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
)

// VerifyActiveAuth checks an Active Authentication response against the
// DG15 public key. RSA keys use ISO/IEC 9796-2 digital signature scheme 1
// (partial message recovery, trailer 0xBC for SHA-1 or 0x??CC naming the
// hash); ECDSA keys sign the challenge with the hash named by DG14's
// ActiveAuthenticationInfo (aaAlg; nil: SHA-256/384/512 by key size), the
// signature plain r‖s or DER.
func VerifyActiveAuth(dg15SPKI []byte, aaAlg asn1.ObjectIdentifier, aa ActiveAuth, pol cert.Policy) error {
	if len(aa.Challenge) != ChallengeSize {
		return fmt.Errorf("%w: challenge of %d bytes, want %d", ErrAA, len(aa.Challenge), ChallengeSize)
	}
	key, err := cert.ParsePublicKey(dg15SPKI)
	if err != nil {
		return fmt.Errorf("%w: DG15 key: %w", ErrMalformed, err)
	}
	switch {
	case key.RSA != nil:
		return verifyISO9796(key, aa, pol)
	case key.EC != nil:
		h, err := aaHash(aaAlg, key.EC.Curve.BitSize())
		if err != nil {
			return err
		}
		if err := aaCheckHash(h, pol); err != nil {
			return err
		}
		d := h.New()
		d.Write(aa.Challenge)
		digest := d.Sum(nil)
		if key.EC.VerifyPlain(digest, aa.Signature) || key.EC.VerifyASN1(digest, aa.Signature) {
			return nil
		}
		return fmt.Errorf("%w: ECDSA signature does not verify for this challenge", ErrAA)
	}
	return fmt.Errorf("%w: unsupported DG15 key", ErrAA)
}

func aaHash(alg asn1.ObjectIdentifier, bits int) (crypto.Hash, error) {
	switch {
	case alg == nil:
		switch {
		case bits <= 256:
			return crypto.SHA256, nil
		case bits <= 384:
			return crypto.SHA384, nil
		}
		return crypto.SHA512, nil
	case alg.Equal(oidECDSASHA1):
		return crypto.SHA1, nil
	case alg.Equal(oidECDSASHA224):
		return crypto.SHA224, nil
	case alg.Equal(oidECDSASHA256):
		return crypto.SHA256, nil
	case alg.Equal(oidECDSASHA384):
		return crypto.SHA384, nil
	case alg.Equal(oidECDSASHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: AA signature algorithm %v", ErrAA, alg)
}

// iso9796Trailers maps the hash identifier byte of a two-byte trailer
// (ISO/IEC 10118-3 numbering) to the hash.
var iso9796Trailers = map[byte]crypto.Hash{0x33: crypto.SHA1, 0x34: crypto.SHA256, 0x35: crypto.SHA512, 0x36: crypto.SHA384, 0x38: crypto.SHA224}

func verifyISO9796(key *cert.PublicKey, aa ActiveAuth, pol cert.Policy) error {
	n := key.RSA.N
	k := (n.BitLen() + 7) / 8
	if len(aa.Signature) != k {
		return fmt.Errorf("%w: RSA response of %d bytes for a %d-byte modulus", ErrAA, len(aa.Signature), k)
	}
	if n.BitLen() < pol.MinRSABits && n.BitLen() < 1024 {
		return fmt.Errorf("%w: AA key of %d bits", ErrAA, n.BitLen())
	}
	s := new(big.Int).SetBytes(aa.Signature)
	if s.Cmp(n) >= 0 {
		return fmt.Errorf("%w: response out of range", ErrAA)
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(key.RSA.E)), n)
	// ISO/IEC 9796-2 allows the signer to send min(s, n−s): accept the
	// representative that ends in the trailer nibble 0xC.
	if m.Bit(0) != 0 || m.Bit(1) != 0 || m.Bit(2) != 1 || m.Bit(3) != 1 {
		m.Sub(n, m)
	}
	f := m.FillBytes(make([]byte, k))
	if len(f) < 2 {
		return fmt.Errorf("%w: bad representative", ErrAA)
	}
	var h crypto.Hash
	var tlen int
	switch {
	case f[len(f)-1] == 0xBC:
		h, tlen = crypto.SHA1, 1
	case f[len(f)-1] == 0xCC:
		var ok bool
		if h, ok = iso9796Trailers[f[len(f)-2]]; !ok {
			return fmt.Errorf("%w: unknown ISO 9796-2 hash identifier %#x", ErrAA, f[len(f)-2])
		}
		tlen = 2
	default:
		return fmt.Errorf("%w: ISO 9796-2 trailer missing", ErrAA)
	}
	if err := aaCheckHash(h, pol); err != nil {
		return err
	}
	// Leading zero bytes: the representative has the modulus's bit size;
	// the header nibble sits in the first non-zero byte.
	i := 0
	for i < len(f) && f[i] == 0 {
		i++
	}
	f = f[i:]
	hl := h.Size()
	if len(f) < 1+hl+tlen {
		return fmt.Errorf("%w: representative too short", ErrAA)
	}
	if f[0] != 0x6A {
		return fmt.Errorf("%w: ISO 9796-2 header %#x, want 0x6A (partial recovery)", ErrAA, f[0])
	}
	m1 := f[1 : len(f)-hl-tlen]
	d := f[len(f)-hl-tlen : len(f)-tlen]
	hh := h.New()
	hh.Write(m1)
	hh.Write(aa.Challenge)
	if subtle.ConstantTimeCompare(hh.Sum(nil), d) != 1 {
		return fmt.Errorf("%w: RSA response is not for this challenge", ErrAA)
	}
	if bytes.Equal(m1, nil) {
		return fmt.Errorf("%w: empty recovered message", ErrAA)
	}
	return nil
}

// aaCheckHash applies the policy to the AA hash, except that SHA-1 is
// accepted: most deployed AA chips use it, and here it signs a fresh
// server challenge, where collisions give an attacker nothing (a forgery
// would need a second preimage). MD5 and unknown hashes stay refused.
func aaCheckHash(h crypto.Hash, pol cert.Policy) error {
	if h == crypto.SHA1 {
		return nil
	}
	if err := pol.CheckHash(h); err != nil {
		return fmt.Errorf("%w: %w", ErrAA, err)
	}
	return nil
}

// NewChallenge returns a fresh random Active Authentication challenge for
// the server to send to the reader; the session keeps it and passes it to
// Verify with the chip's response.
func NewChallenge() ([]byte, error) {
	c := make([]byte, ChallengeSize)
	if _, err := rand.Read(c); err != nil {
		return nil, err
	}
	return c, nil
}

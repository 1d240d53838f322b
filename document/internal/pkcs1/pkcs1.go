// Package pkcs1 verifies the RSA PKCS#1 v1.5 SHA-256 issuer signatures of the
// Japanese ID chips (driver's licence, My Number card, residence card) and
// tells apart the failures a reviewer needs to read: a weak key, a
// wrong-length signature, a SHA-1 downgrade, and a signature that does not
// match. Every failure wraps one of the document package's sentinels.
package pkcs1

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"

	"github.com/madoguchi/madoguchi/document"
)

// MinRSABits is the smallest issuer key accepted.
const MinRSABits = 2048

// digestInfoSHA1 is the DER DigestInfo prefix of a SHA-1 PKCS#1 v1.5
// signature (RFC 8017 §9.2, note 1).
var digestInfoSHA1 = []byte{0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2B, 0x0E, 0x03, 0x02, 0x1A, 0x05, 0x00, 0x04, 0x14}

var (
	errSigLength = errors.New("signature length does not match the key")
	errSHA1      = errors.New("signature uses SHA-1")
	errSigBad    = errors.New("signature does not verify")
)

// VerifySHA256 verifies an RSA PKCS#1 v1.5 SHA-256 signature over
// digest and tells apart the failures a reviewer cares about: a short key, a
// signature of the wrong length, a SHA-1 signature (downgrade), and a
// signature that does not match.
func VerifySHA256(pub *rsa.PublicKey, digest, sig []byte) error {
	if pub.N.BitLen() < MinRSABits {
		return fmt.Errorf("%w: RSA-%d key, minimum %d", document.ErrWeakAlgorithm, pub.N.BitLen(), MinRSABits)
	}
	if len(sig) != pub.Size() {
		return fmt.Errorf("%w: %w: %d bytes, key needs %d", document.ErrMalformed, errSigLength, len(sig), pub.Size())
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err == nil {
		return nil
	}
	if usesSHA1(pub, sig) {
		return fmt.Errorf("%w: %w", document.ErrWeakAlgorithm, errSHA1)
	}
	return fmt.Errorf("%w: %w", document.ErrTampered, errSigBad)
}

// usesSHA1 opens the signature with the public key and reports whether it
// is a well-formed PKCS#1 v1.5 block carrying a SHA-1 DigestInfo.
func usesSHA1(pub *rsa.PublicKey, sig []byte) bool {
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return false
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, pub.Size()))
	if em[0] != 0 || em[1] != 1 {
		return false
	}
	i := 2
	for i < len(em) && em[i] == 0xFF {
		i++
	}
	if i < 10 || i >= len(em) || em[i] != 0 {
		return false
	}
	t := em[i+1:]
	return len(t) == len(digestInfoSHA1)+20 && bytes.HasPrefix(t, digestInfoSHA1)
}

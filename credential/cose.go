package credential

// COSE_Sign1 (RFC 9052 §4.2) with ES256 (ECDSA P-256 with SHA-256, COSE
// algorithm -7), written by hand for the one shape this package needs:
//
//	COSE_Sign1 = #6.18([ protected: bstr .cbor {1: -7},
//	                     unprotected: {4: kid (bstr, 8 bytes)},
//	                     payload: bstr,
//	                     signature: bstr (r || s, 64 bytes) ])
//
// The signature covers the Sig_structure ["Signature1", protected, h'',
// payload]. Nothing else is accepted: another algorithm, a missing or
// longer kid, extra header parameters, a detached payload or a signature
// of the wrong length is ErrMalformed before any key is used. Tests verify
// these signatures with an independent implementation (cose-js under
// Node) and known-answer vectors.

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

const (
	coseTagSign1 = 0xd2 // CBOR tag 18, one byte
	algES256     = -7
	kidLen       = 8
	sigLen       = 64
)

// ErrSignature: the COSE signature does not verify, or names a key the
// verifier does not hold.
var ErrSignature = errors.New("credential: signature does not verify")

type protectedHeader struct {
	Alg int64 `cbor:"1,keyasint"`
}

type unprotectedHeader struct {
	Kid []byte `cbor:"4,keyasint"`
}

type sign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected unprotectedHeader
	Payload     []byte
	Signature   []byte
}

// protectedES256 is the only protected header this package writes or
// reads: the map {1: -7}, encoded.
var protectedES256 = []byte{0xa1, 0x01, 0x26}

func sigStructure(protected, payload []byte) ([]byte, error) {
	return marshal([]any{"Signature1", protected, []byte{}, payload})
}

// signSign1 returns the tagged COSE_Sign1 of payload under k (an ECDSA
// P-256 crypto.Signer: a private key or one held in an HSM).
func signSign1(k crypto.Signer, kid, payload []byte) ([]byte, error) {
	if len(kid) != kidLen {
		return nil, fmt.Errorf("credential: kid must be %d bytes", kidLen)
	}
	tbs, err := sigStructure(protectedES256, payload)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(tbs)
	der, err := k.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("credential: signing: %w", err)
	}
	sig, err := rawSignature(der)
	if err != nil {
		return nil, err
	}
	body, err := marshal(sign1{Protected: protectedES256, Unprotected: unprotectedHeader{Kid: kid}, Payload: payload, Signature: sig})
	if err != nil {
		return nil, err
	}
	return append([]byte{coseTagSign1}, body...), nil
}

// rawSignature turns an ASN.1 ECDSA P-256 signature into COSE's r || s.
func rawSignature(der []byte) ([]byte, error) {
	var (
		in, seq cryptobyte.String = der, nil
		r, s    big.Int
	)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() ||
		r.Sign() <= 0 || s.Sign() <= 0 || r.BitLen() > 256 || s.BitLen() > 256 {
		return nil, errors.New("credential: the signer returned a malformed ECDSA signature")
	}
	sig := make([]byte, sigLen)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// parseSign1 checks the shape of a tagged COSE_Sign1 and returns it with
// the kid; it verifies nothing.
func parseSign1(b []byte) (*sign1, error) {
	if len(b) < 2 || b[0] != coseTagSign1 {
		return nil, fmt.Errorf("%w: not a tagged COSE_Sign1", ErrMalformed)
	}
	var m sign1
	if err := unmarshal(b[1:], &m); err != nil {
		return nil, err
	}
	if !bytes.Equal(m.Protected, protectedES256) {
		var h protectedHeader
		if err := unmarshal(m.Protected, &h); err == nil && h.Alg != algES256 {
			return nil, fmt.Errorf("%w: algorithm %d is not ES256", ErrMalformed, h.Alg)
		}
		return nil, fmt.Errorf("%w: protected header is not exactly {1: -7}", ErrMalformed)
	}
	if len(m.Unprotected.Kid) != kidLen {
		return nil, fmt.Errorf("%w: kid must be %d bytes", ErrMalformed, kidLen)
	}
	if m.Payload == nil {
		return nil, fmt.Errorf("%w: detached payload", ErrMalformed)
	}
	if len(m.Signature) != sigLen {
		return nil, fmt.Errorf("%w: ES256 signature must be %d bytes", ErrMalformed, sigLen)
	}
	return &m, nil
}

// verify checks m's signature with pub.
func (m *sign1) verify(pub *ecdsa.PublicKey) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return ErrSignature
	}
	tbs, err := sigStructure(m.Protected, m.Payload)
	if err != nil {
		return err
	}
	h := sha256.Sum256(tbs)
	r := new(big.Int).SetBytes(m.Signature[:32])
	s := new(big.Int).SetBytes(m.Signature[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return ErrSignature
	}
	return nil
}

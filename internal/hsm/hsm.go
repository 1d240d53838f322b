// Package hsm opens private keys held in a hardware security module (or a
// TPM, smart card or secure element) through PKCS#11, the interface every
// bank HSM speaks, and gives them to the rest of the server as the
// standard library's opaque key interfaces: a crypto.Signer (ECDSA P-256,
// Ed25519) and an ecdh.KeyExchanger (ECDH P-256, for crypto/hpke).
//
// A key is named by a PKCS#11 URI (RFC 7512, see URI); the PIN comes from
// the file or environment variable its pin-source names, never from the
// URI itself, and appears in no error or log.
//
// Invariants:
//   - Opening fails closed, with an error that names what is wrong and
//     wraps one of this package's sentinels: ErrURI, ErrNoCgo, ErrModule
//     (the module cannot be loaded), ErrToken, ErrPIN, ErrKeyNotFound,
//     ErrKeyType (another algorithm, or a key not allowed to sign or
//     derive), ErrExportable.
//   - Only keys the token will never reveal are opened: CKA_SENSITIVE true
//     and CKA_EXTRACTABLE false; the private key bytes never enter this
//     process. (ECDH gives the process the shared secret of each exchange,
//     which HPKE's key schedule needs; never the key.)
//   - At open, the key proves it is the private half of the public key
//     object found beside it (a signature verified, or an exchange
//     compared), so a mislabelled public key is a startup error, not a
//     wrong kid in every credential.
//   - A module is initialised once per process and finalised when its last
//     key closes; each key has one session, used by one operation at a
//     time.
//
// PKCS#11 needs cgo (the module is a C shared library loaded with
// dlopen). A binary built with CGO_ENABLED=0 still has this package: every
// Open returns ErrNoCgo.
package hsm

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

var (
	// ErrURI: the key URI is malformed or uses what this package refuses.
	ErrURI = errors.New("hsm: bad PKCS#11 key URI")
	// ErrNoCgo: this binary cannot load PKCS#11 modules.
	ErrNoCgo = errors.New("hsm: this binary was built without cgo; PKCS#11 keys need a cgo build")
	// ErrModule: the module is missing or does not load or initialise.
	ErrModule = errors.New("hsm: PKCS#11 module unusable")
	// ErrToken: no token (or several) with the URI's label and serial.
	ErrToken = errors.New("hsm: token not found")
	// ErrPIN: the PIN cannot be read, or the token refuses it.
	ErrPIN = errors.New("hsm: PIN refused or unreadable")
	// ErrKeyNotFound: no private key (or several, or no public key beside
	// it) matches the URI.
	ErrKeyNotFound = errors.New("hsm: key not found")
	// ErrKeyType: the key is of another algorithm or curve, may not be
	// used for this operation, or does not match its public key.
	ErrKeyType = errors.New("hsm: wrong key type")
	// ErrExportable: the token would let the key leave it.
	ErrExportable = errors.New("hsm: key is extractable or not sensitive")
)

// Algorithm is what a key does.
type Algorithm int

// The algorithms this package opens and generates.
const (
	ECDSAP256 Algorithm = iota + 1 // CKK_EC on P-256 with CKA_SIGN, CKM_ECDSA
	Ed25519                        // CKK_EC_EDWARDS with CKA_SIGN, CKM_EDDSA
	ECDHP256                       // CKK_EC on P-256 with CKA_DERIVE, CKM_ECDH1_DERIVE
)

func (a Algorithm) String() string {
	switch a {
	case ECDSAP256:
		return "ECDSA P-256"
	case Ed25519:
		return "Ed25519"
	case ECDHP256:
		return "ECDH P-256"
	}
	return fmt.Sprintf("Algorithm(%d)", int(a))
}

// Signer is a signing key in a token. It is safe for concurrent use (one
// operation at a time reaches the token).
type Signer struct {
	k   *key
	alg Algorithm
	pub crypto.PublicKey // *ecdsa.PublicKey or ed25519.PublicKey
}

var _ crypto.Signer = (*Signer)(nil)

// OpenSigner opens the ECDSA P-256 or Ed25519 signing key uri names.
func OpenSigner(uri string) (*Signer, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	k, alg, point, err := open(u, true)
	if err != nil {
		return nil, err
	}
	s := &Signer{k: k, alg: alg}
	if s.pub, err = publicKey(alg, point); err == nil {
		err = s.selfTest()
	}
	if err != nil {
		k.close()
		return nil, fmt.Errorf("%s: %w", u.keyName(), err)
	}
	return s, nil
}

// Public returns the public key (*ecdsa.PublicKey or ed25519.PublicKey).
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Algorithm reports ECDSAP256 or Ed25519.
func (s *Signer) Algorithm() Algorithm { return s.alg }

// Sign signs with the token. ECDSA: digest is a hash of its size (opts
// names the hash) and the signature is ASN.1 DER, as crypto/ecdsa's.
// Ed25519: digest is the whole message, opts.HashFunc() must be 0 (pure
// Ed25519, no context).
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("hsm: Sign needs opts (the hash, or crypto.Hash(0) for Ed25519)")
	}
	switch s.alg {
	case ECDSAP256:
		if opts.HashFunc() == 0 || len(digest) != opts.HashFunc().Size() {
			return nil, errors.New("hsm: ECDSA signs a digest of the hash opts names")
		}
		raw, err := s.k.sign(s.alg, digest)
		if err != nil {
			return nil, err
		}
		if len(raw) != 64 {
			return nil, fmt.Errorf("hsm: the token returned a %d-byte ECDSA signature", len(raw))
		}
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1BigInt(new(big.Int).SetBytes(raw[:32]))
			b.AddASN1BigInt(new(big.Int).SetBytes(raw[32:]))
		})
		return b.Bytes()
	case Ed25519:
		if o, ok := opts.(*ed25519.Options); (ok && o.Context != "") || opts.HashFunc() != 0 {
			return nil, errors.New("hsm: Ed25519 signs the message itself (no prehash, no context)")
		}
		return s.k.sign(s.alg, digest)
	}
	return nil, ErrKeyType
}

// selfTest signs a random message and verifies it with the public key.
func (s *Signer) selfTest() error {
	msg := make([]byte, 32)
	rand.Read(msg)
	var ok bool
	switch pub := s.pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		sig, err := s.Sign(nil, h[:], crypto.SHA256)
		if err != nil {
			return err
		}
		ok = ecdsa.VerifyASN1(pub, h[:], sig)
	case ed25519.PublicKey:
		sig, err := s.Sign(nil, msg, crypto.Hash(0))
		if err != nil {
			return err
		}
		ok = ed25519.Verify(pub, msg, sig)
	}
	if !ok {
		return fmt.Errorf("%w: the private key does not match the public key object beside it", ErrKeyType)
	}
	return nil
}

// Close ends the key's session (and the module's, after its last key).
func (s *Signer) Close() error { return s.k.close() }

// LogValue names the key, never a secret.
func (s *Signer) LogValue() slog.Value { return slog.StringValue("pkcs11:" + s.alg.String()) }

// KeyExchanger is an ECDH P-256 key in a token, for
// hpke.NewDHKEMPrivateKey. It is safe for concurrent use.
type KeyExchanger struct {
	k   *key
	pub *ecdh.PublicKey
}

var _ ecdh.KeyExchanger = (*KeyExchanger)(nil)

// OpenKeyExchanger opens the ECDH P-256 key uri names.
func OpenKeyExchanger(uri string) (*KeyExchanger, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	k, _, point, err := open(u, false)
	if err != nil {
		return nil, err
	}
	x := &KeyExchanger{k: k}
	x.pub, err = ecdh.P256().NewPublicKey(point)
	if err != nil {
		err = fmt.Errorf("%w: public key object: %v", ErrKeyType, err)
	} else {
		err = x.selfTest()
	}
	if err != nil {
		k.close()
		return nil, fmt.Errorf("%s: %w", u.keyName(), err)
	}
	return x, nil
}

// PublicKey returns the public key.
func (x *KeyExchanger) PublicKey() *ecdh.PublicKey { return x.pub }

// Curve returns ecdh.P256().
func (x *KeyExchanger) Curve() ecdh.Curve { return ecdh.P256() }

// ECDH returns the shared secret (the x coordinate, 32 bytes), computed
// by the token, as (*ecdh.PrivateKey).ECDH does.
func (x *KeyExchanger) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	if peer == nil || peer.Curve() != ecdh.P256() {
		return nil, errors.New("hsm: ECDH with a key on another curve")
	}
	return x.k.derive(peer.Bytes())
}

// selfTest exchanges with a fresh key on both sides and compares.
func (x *KeyExchanger) selfTest() error {
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	got, err := x.ECDH(eph.PublicKey())
	if err != nil {
		return err
	}
	want, err := eph.ECDH(x.pub)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: the private key does not match the public key object beside it", ErrKeyType)
	}
	return nil
}

// Close ends the key's session (and the module's, after its last key).
func (x *KeyExchanger) Close() error { return x.k.close() }

// LogValue names the key, never a secret.
func (x *KeyExchanger) LogValue() slog.Value { return slog.StringValue("pkcs11:" + ECDHP256.String()) }

// publicKey decodes a public point of alg.
func publicKey(alg Algorithm, point []byte) (crypto.PublicKey, error) {
	switch alg {
	case ECDSAP256:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
		if err != nil {
			return nil, fmt.Errorf("%w: public key object: %v", ErrKeyType, err)
		}
		return pub, nil
	case Ed25519:
		if len(point) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("%w: public key object: %d bytes, want %d", ErrKeyType, len(point), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(bytes.Clone(point)), nil
	}
	return nil, ErrKeyType
}

// DER of the curves' CKA_EC_PARAMS: the named-curve OIDs, and Ed25519's
// printable-string form some tokens use.
var (
	paramsP256         = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	paramsEd25519      = []byte{0x06, 0x03, 0x2b, 0x65, 0x70}
	paramsEd25519Named = append([]byte{0x13, 0x0c}, "edwards25519"...)
	paramsX25519       = []byte{0x06, 0x03, 0x2b, 0x65, 0x6e}
)

// ecPoint unwraps CKA_EC_POINT: a DER OCTET STRING (PKCS#11 v2.40), or
// the raw point some tokens return.
func ecPoint(v []byte) []byte {
	s := cryptobyte.String(v)
	var inner cryptobyte.String
	if s.ReadASN1(&inner, asn1.OCTET_STRING) && s.Empty() {
		return inner
	}
	return v
}

package credential

// The template envelope: HPKE (RFC 9180, Go's crypto/hpke) base mode with
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-128-GCM, sealed to the
// tenant's branch key:
//
//	envelope = [ key_version: uint, enc: bstr (32), ciphertext: bstr ]
//	info     = "madoguchi/credential/template/v1" 0x00 tenant 0x00 cti
//	aad      = model id
//
// One recipient for the whole tenant, not one per branch device: a
// per-device entry costs 32 + 16 + 16 bytes and a bank has hundreds of
// counters, which no QR code holds; the tenant's branch key is instead
// distributed to each enrolled device, wrapped by HPKE to that device's own
// key (WrapBranchKey). The info binds the ciphertext to its credential and
// tenant, the aad to its model, so an envelope moved into another
// credential does not open.

import (
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
	"fmt"
	"strconv"
)

// The KEM is DHKEM(X25519, HKDF-SHA256), implied by the X25519 keys.
var (
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES128GCM()
)

// ErrDecrypt: the envelope does not open with the keys held (another
// tenant's key, a removed key version, or a tampered ciphertext).
var ErrDecrypt = errors.New("credential: template envelope does not open")

type envelope struct {
	_          struct{} `cbor:",toarray"`
	KeyVersion uint32
	Enc        []byte
	Ciphertext []byte
}

func templateInfo(tenant string, cti []byte) []byte {
	b := []byte("madoguchi/credential/template/v1\x00" + tenant + "\x00")
	return append(b, cti...)
}

// sealTemplate encrypts a compact template to the tenant's branch key.
func sealTemplate(pub *ecdh.PublicKey, version uint32, tenant string, cti []byte, model string, compact []byte) (envelope, error) {
	pk, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return envelope{}, err
	}
	enc, s, err := hpke.NewSender(pk, hpkeKDF, hpkeAEAD, templateInfo(tenant, cti))
	if err != nil {
		return envelope{}, err
	}
	ct, err := s.Seal([]byte(model), compact)
	if err != nil {
		return envelope{}, err
	}
	return envelope{KeyVersion: version, Enc: enc, Ciphertext: ct}, nil
}

func (e envelope) check() error {
	if len(e.Enc) != 32 || len(e.Ciphertext) < 16+2 || len(e.Ciphertext) > 16+1+MaxTemplateDim {
		return fmt.Errorf("%w: template envelope sizes", ErrMalformed)
	}
	return nil
}

// open decrypts the envelope with the branch key of its version.
func (e envelope) open(priv *ecdh.PrivateKey, tenant string, cti []byte, model string) ([]byte, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	r, err := hpke.NewRecipient(e.Enc, k, hpkeKDF, hpkeAEAD, templateInfo(tenant, cti))
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := r.Open([]byte(model), e.Ciphertext)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func branchKeyInfo(tenant, device string, version uint32) []byte {
	return []byte("madoguchi/credential/branch-key/v1\x00" + tenant + "\x00" + device + "\x00" + strconv.FormatUint(uint64(version), 10))
}

// WrapBranchKey seals the tenant's branch private key (version) to one
// enrolled device's HPKE public key: enc || ciphertext. The KEM is the
// device key's own: DHKEM(X25519) for a key in a file, DHKEM(P-256) for
// one held in an HSM.
func WrapBranchKey(devicePub *ecdh.PublicKey, tenant, device string, version uint32, branchKey *ecdh.PrivateKey) ([]byte, error) {
	pk, err := hpke.NewDHKEMPublicKey(devicePub)
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, hpkeKDF, hpkeAEAD, branchKeyInfo(tenant, device, version), branchKey.Bytes())
}

// UnwrapBranchKey opens what WrapBranchKey sealed, with the device's key
// (an *ecdh.PrivateKey, or a key whose ECDH runs in an HSM).
func UnwrapBranchKey(deviceKey ecdh.KeyExchanger, tenant, device string, version uint32, wrapped []byte) (*ecdh.PrivateKey, error) {
	if len(wrapped) > 256 {
		return nil, fmt.Errorf("%w: wrapped branch key too long", ErrMalformed)
	}
	k, err := hpke.NewDHKEMPrivateKey(deviceKey)
	if err != nil {
		return nil, err
	}
	pt, err := hpke.Open(k, hpkeKDF, hpkeAEAD, branchKeyInfo(tenant, device, version), wrapped)
	if err != nil {
		return nil, ErrDecrypt
	}
	return ecdh.X25519().NewPrivateKey(pt)
}

package ekyc

// Device keys: a registered kiosk or card reader signs each chip read it
// posts, binding the read to the session's nonce.
//
// Invariants:
//   - A device key is an ES256 (P-256) or Ed25519 public key registered for
//     one API client of one tenant (RegisterDeviceKey), audited; revoking it
//     is audited too. Its id is a thumbprint of the key, so one key is
//     registered once.
//   - The device signs DeviceSigningInput: the session id, the session's
//     nonce (ChipChallenge) and the read's chip.BundleDigest. A signature
//     is accepted only from the key's own client, of the session's tenant,
//     not revoked, over this session's nonce and these exact files; any
//     other signature is ErrDeviceSignature and nothing is stored (the
//     refusal is audited). A replayed signed read therefore fails in every
//     other session, and in its own session it is ErrAlreadyReceived.
//   - Policy.DeviceSignature decides what an unsigned read is: accepted
//     (""), a decision reason ReasonChipUnsigned ("reason"), or refused at
//     upload ("refuse").

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// ErrDeviceSignature: a chip read's device signature is missing where the
// policy refuses unsigned reads, or does not verify with a registered key of
// the posting device.
var ErrDeviceSignature = errors.New("ekyc: device signature refused")

// Device signature algorithms.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Device signature policies (Policy.DeviceSignature).
const (
	DeviceSignatureOptional = ""       // unsigned reads accepted; a signature sent must verify
	DeviceSignatureReason   = "reason" // an unsigned read is ReasonChipUnsigned
	DeviceSignatureRefuse   = "refuse" // an unsigned read is refused at upload
)

// MaxDeviceKeyBytes bounds a registered public key (DER SubjectPublicKeyInfo).
const MaxDeviceKeyBytes = 512

// DeviceKey is a registered device's public key.
type DeviceKey struct {
	ID        string
	TenantID  string
	ClientID  string
	Alg       string
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
	pub       any
}

// DeviceSignature is what a device sends with a chip read: the id of its
// registered key and its signature over DeviceSigningInput (ES256: the
// 64-byte r‖s of JWS; Ed25519: 64 bytes).
type DeviceSignature struct {
	KeyID     string
	Signature []byte
}

// ChipRead is one chip read from a device: the document kind, its files
// (any spelling document/chip accepts) and, optionally, the device's
// signature.
type ChipRead struct {
	Kind   string
	Files  map[string][]byte
	Device *DeviceSignature
}

// DeviceSigningInput is what a device signs for a chip read:
//
//	"madoguchi-chip-read-v1" LF session LF base64url(nonce) LF hex(bundle)
//
// where nonce is the session's chip nonce (ChipChallenge) and bundle is
// chip.BundleDigest of the files keyed by canonical name.
func DeviceSigningInput(session string, nonce []byte, bundle [32]byte) []byte {
	return []byte("madoguchi-chip-read-v1\n" + session + "\n" + b64(nonce) + "\n" + hex.EncodeToString(bundle[:]))
}

// parseDeviceKey accepts a DER SubjectPublicKeyInfo of a P-256 or Ed25519 key.
func parseDeviceKey(der []byte) (any, string, error) {
	if len(der) == 0 || len(der) > MaxDeviceKeyBytes {
		return nil, "", fmt.Errorf("%w: public key must be 1-%d bytes of DER", ErrInvalidInput, MaxDeviceKeyBytes)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, "", fmt.Errorf("%w: public key is not a DER SubjectPublicKeyInfo", ErrInvalidInput)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("%w: an EC device key must be P-256 (ES256)", ErrInvalidInput)
		}
		return k, AlgES256, nil
	case ed25519.PublicKey:
		return k, AlgEdDSA, nil
	}
	return nil, "", fmt.Errorf("%w: a device key must be ES256 (P-256) or Ed25519", ErrInvalidInput)
}

func deviceKeyID(der []byte) string {
	sum := sha256.Sum256(der)
	return "dk_" + b64(sum[:16])
}

// RegisterDeviceKey registers a public key (DER SubjectPublicKeyInfo, P-256
// or Ed25519) for the API client clientID of tenant, audited. Registering a
// key that is already registered is ErrState.
func (s *Service) RegisterDeviceKey(ctx context.Context, a Actor, tenant, clientID string, der []byte) (*DeviceKey, error) {
	if clientID == "" || len(clientID) > 64 || !printable(clientID) {
		return nil, fmt.Errorf("%w: client_id must be 1-64 printable characters", ErrInvalidInput)
	}
	pub, alg, err := parseDeviceKey(der)
	if err != nil {
		return nil, err
	}
	k := &DeviceKey{ID: deviceKeyID(der), TenantID: tenant, ClientID: clientID, Alg: alg, CreatedAt: s.now(), pub: pub}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_device_keys (key_id, tenant_id, client_id, alg, public_key, created_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, 0)`, k.ID, tenant, clientID, alg, der, store.Micros(k.CreatedAt)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: this key is already registered", ErrState)
			}
			return err
		}
		return s.record(ctx, tx, a, tenant, "ekyc.device_key.register", k.ID, audit.OutcomeOK,
			map[string]string{"client": clientID, "alg": alg})
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RevokeDeviceKey revokes tenant's device key id, audited; reads signed
// with it are refused from then on. Another tenant's key is ErrNotFound.
func (s *Service) RevokeDeviceKey(ctx context.Context, a Actor, tenant, id string) error {
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE ekyc_device_keys SET revoked_at = ? WHERE key_id = ? AND tenant_id = ? AND revoked_at = 0`,
			store.Micros(s.now()), id, tenant)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return s.record(ctx, tx, a, tenant, "ekyc.device_key.revoke", id, audit.OutcomeOK, nil)
	})
}

// DeviceKeys lists tenant's device keys, revoked ones included.
func (s *Service) DeviceKeys(ctx context.Context, tenant string) ([]DeviceKey, error) {
	rows, err := s.db.Query(ctx, `SELECT key_id, client_id, alg, created_at, revoked_at FROM ekyc_device_keys
		WHERE tenant_id = ? ORDER BY created_at, key_id`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceKey
	for rows.Next() {
		k := DeviceKey{TenantID: tenant}
		var c, r int64
		if err := rows.Scan(&k.ID, &k.ClientID, &k.Alg, &c, &r); err != nil {
			return nil, err
		}
		k.CreatedAt = store.FromMicros(c)
		if r != 0 {
			k.RevokedAt = store.FromMicros(r)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ChipChallenge returns the nonce a device signs its chip read of session
// id with (DeviceSigningInput). The session must take a chip and still
// accept one.
func (s *Service) ChipChallenge(ctx context.Context, a Actor, tenant, id string) ([]byte, error) {
	ss, err := s.Get(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	if !ss.Method.NeedsChip {
		return nil, fmt.Errorf("%w: this session's method takes no chip data", ErrState)
	}
	if ss.State != StateCreated && ss.State != StateCapturing {
		return nil, fmt.Errorf("%w: chip data is accepted only before submission", ErrState)
	}
	return ss.nonce, nil
}

// verifyDevice checks a read's device signature for session ss posted by
// actor a; it returns the key id.
func (s *Service) verifyDevice(ctx context.Context, a Actor, ss *Session, sig *DeviceSignature, bundle [32]byte) (string, error) {
	if sig.KeyID == "" || len(sig.KeyID) > 64 || len(sig.Signature) != 64 {
		return "", fmt.Errorf("%w: a device signature needs a key id and 64 signature bytes", ErrDeviceSignature)
	}
	var (
		client, alg string
		der         []byte
		revoked     int64
	)
	err := s.db.QueryRow(ctx, `SELECT client_id, alg, public_key, revoked_at FROM ekyc_device_keys WHERE key_id = ? AND tenant_id = ?`,
		sig.KeyID, ss.TenantID).Scan(&client, &alg, &der, &revoked)
	switch {
	case isNotFound(err):
		return "", fmt.Errorf("%w: no such device key in this tenant", ErrDeviceSignature)
	case err != nil:
		return "", err
	case revoked != 0:
		return "", fmt.Errorf("%w: the device key is revoked", ErrDeviceSignature)
	case client != a.ID:
		return "", fmt.Errorf("%w: the device key belongs to another device", ErrDeviceSignature)
	}
	pub, _, err := parseDeviceKey(der)
	if err != nil {
		return "", err
	}
	msg := DeviceSigningInput(ss.ID, ss.nonce, bundle)
	ok := false
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(msg)
		r, s := new(big.Int).SetBytes(sig.Signature[:32]), new(big.Int).SetBytes(sig.Signature[32:])
		ok = ecdsa.Verify(k, h[:], r, s)
	case ed25519.PublicKey:
		ok = ed25519.Verify(k, msg, sig.Signature)
	}
	if !ok {
		return "", fmt.Errorf("%w: the signature does not verify for this session and these files", ErrDeviceSignature)
	}
	return sig.KeyID, nil
}

// DecodeDeviceSignature decodes a device signature's base64url fields; nil
// in, nil out.
func DecodeDeviceSignature(keyID, sig string) (*DeviceSignature, error) {
	if keyID == "" && sig == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, fmt.Errorf("%w: device signature is not base64url", ErrInvalidInput)
	}
	return &DeviceSignature{KeyID: keyID, Signature: b}, nil
}

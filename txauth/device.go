package txauth

// Decoupled confirmation on a second registered device: the customer's
// phone app (a device registered for the customer, holding a P-256 key
// that never leaves it, e.g. in the Secure Enclave or StrongBox) polls for
// the confirmations waiting for it, shows each transaction from the
// server's copy, and approves or refuses it by signing
//
//	SHA-256("madoguchi/txauth/device/v1" 0x00 || transaction_hash || nonce || 0x00 || decision)
//
// with decision "approve" or "reject". The PC's browser never sees the
// device's display, so malware on the PC cannot show the customer one payee
// on the phone and send another (what you see is what you sign, on a
// channel the PC does not control). The device token only lets the app
// poll; approving needs the key.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/vault"
)

// Device decisions.
const (
	DeviceApprove = "approve"
	DeviceReject  = "reject"
)

// ErrDeviceSignature: the device's signature does not verify for this
// confirmation and decision.
var ErrDeviceSignature = errors.New("txauth: device signature refused")

// DeviceChallenge is what a registered device signs for a decision on a
// transaction with hash txHash and the confirmation's device nonce.
func DeviceChallenge(txHash [32]byte, nonce []byte, decision string) [32]byte {
	h := sha256.New()
	h.Write([]byte("madoguchi/txauth/device/v1\x00"))
	h.Write(txHash[:])
	h.Write(nonce)
	h.Write([]byte{0})
	h.Write([]byte(decision))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// Device is a registered second device (no secret).
type Device struct {
	ID         string    `json:"id"`
	CustomerID string    `json:"customer"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

// RegisteredDevice is a new device and the token its app polls with (shown
// once).
type RegisteredDevice struct {
	Device Device
	Token  string
}

func deviceAAD(id string) []byte { return vault.AAD("txauth.device", id) }

// MaxDeviceKey bounds a device's public key (DER SubjectPublicKeyInfo).
const MaxDeviceKey = 256

// RegisterDevice registers the customer's second device with its P-256
// public key (DER SubjectPublicKeyInfo). The relying service calls it from
// its own app after authenticating the customer there; the key is sealed
// under the customer's subject.
func (s *Service) RegisterDevice(ctx context.Context, a Actor, tenant, customerID, name string, publicKey []byte) (*RegisteredDevice, error) {
	if _, err := parseDeviceKey(publicKey); err != nil {
		return nil, err
	}
	if name == "" || !displayText(name, 64) {
		return nil, fmt.Errorf("%w: name must be 1-64 printable characters", ErrInvalidInput)
	}
	cu, err := s.customer(ctx, tenant, customerID)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("dev_")
	if err != nil {
		return nil, err
	}
	tok, err := s.random(32)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256(tok)
	now := s.now()
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		sealed, err := s.cfg.Vault.Seal(ctx, tx, cu.Subject(), deviceAAD(id), publicKey)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO txauth_devices (id, tenant_id, customer_id, name, token_hash, public_key, created_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 0)`, id, tenant, cu.ID, name, th[:], sealed, store.Micros(now)); err != nil {
			return err
		}
		return s.record(ctx, tx, a, tenant, "txauth.device.register", id, audit.OutcomeOK, map[string]string{"customer": cu.ID})
	})
	if err != nil {
		return nil, err
	}
	return &RegisteredDevice{Device: Device{ID: id, CustomerID: cu.ID, Name: name, CreatedAt: now}, Token: b64(tok)}, nil
}

// RevokeDevice ends a device at once.
func (s *Service) RevokeDevice(ctx context.Context, a Actor, tenant, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE txauth_devices SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at = 0`, store.Micros(s.now()), id, tenant)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrNotFound
		}
		return s.record(ctx, tx, a, tenant, "txauth.device.revoke", id, audit.OutcomeOK, nil)
	})
}

type deviceRow struct {
	id, tenant, customer string
	sealed               []byte
}

// deviceByToken authenticates a device app (ErrToken for an unknown or
// revoked device).
func (s *Service) deviceByToken(ctx context.Context, token string) (*deviceRow, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 32 {
		return nil, ErrToken
	}
	th := sha256.Sum256(raw)
	var d deviceRow
	err = s.db.QueryRow(ctx, `SELECT id, tenant_id, customer_id, public_key FROM txauth_devices WHERE token_hash = ? AND revoked_at = 0`, th[:]).
		Scan(&d.id, &d.tenant, &d.customer, &d.sealed)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrToken
	}
	return &d, err
}

// deviceAvailable checks at opening that the customer has a device, and
// gives the confirmation its device nonce.
func (s *Service) deviceAvailable(ctx context.Context, tx *store.Tx, c *Confirmation) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM txauth_devices WHERE tenant_id = ? AND customer_id = ? AND revoked_at = 0`, c.TenantID, c.CustomerID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the customer has no registered device", ErrFactor)
	}
	nonce, err := s.random(32)
	if err != nil {
		return err
	}
	c.deviceNonce = nonce
	return nil
}

// Pending is a confirmation waiting for the device: the transaction as the
// server holds it, its hash and the nonce to sign.
type Pending struct {
	Confirmation string       `json:"confirmation"`
	Transaction  *Transaction `json:"transaction"`
	Hash         string       `json:"transaction_hash"`
	Nonce        string       `json:"nonce"`
	ExpiresAt    time.Time    `json:"expires_at"`
}

// DevicePending lists the device's customer's confirmations that wait for
// a device decision (read by the device's own app; audited).
func (s *Service) DevicePending(ctx context.Context, token string) ([]Pending, error) {
	d, err := s.deviceByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT c.id FROM txauth_confirmations c JOIN txauth_device_nonces n ON n.confirmation_id = c.id
		WHERE c.tenant_id = ? AND c.customer_id = ? AND c.state = ? AND c.expires_at > ? AND n.used_at = 0 ORDER BY c.created_at LIMIT 20`,
		d.tenant, d.customer, string(StatePending), store.Micros(s.now()))
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []Pending{}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, id := range ids {
			c, err := getConfirmation(ctx, tx, d.tenant, id)
			if err != nil {
				return err
			}
			if slices.Contains(c.Satisfied, FactorDevice) {
				continue
			}
			p, err := s.pendingItem(ctx, tx, c)
			if err != nil {
				return err
			}
			out = append(out, *p)
		}
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: "device:" + d.id}, d.tenant, "txauth.device.poll", d.id, audit.OutcomeOK,
			map[string]string{"pending": fmt.Sprint(len(out))})
	})
	return out, err
}

// pendingItem is c as the device shows it: the server's copy of the
// transaction, its hash and the nonce to sign.
func (s *Service) pendingItem(ctx context.Context, tx *store.Tx, c *Confirmation) (*Pending, error) {
	t, err := s.openTransaction(ctx, tx, c)
	if err != nil {
		return nil, err
	}
	var nonce []byte
	if err := tx.QueryRow(ctx, `SELECT nonce FROM txauth_device_nonces WHERE confirmation_id = ?`, c.ID).Scan(&nonce); err != nil {
		return nil, err
	}
	return &Pending{Confirmation: c.ID, Transaction: t, Hash: b64(c.TxHash[:]), Nonce: b64(nonce), ExpiresAt: c.ExpiresAt}, nil
}

// DeviceDecide records the device's signed decision on a confirmation: an
// approval satisfies the device factor; a refusal rejects the confirmation
// and raises a customer_mismatch alert. The nonce is spent either way.
func (s *Service) DeviceDecide(ctx context.Context, token, confirmationID, decision string, signature []byte) (*Confirmation, error) {
	if decision != DeviceApprove && decision != DeviceReject {
		return nil, fmt.Errorf("%w: decision must be approve or reject", ErrInvalidInput)
	}
	if len(signature) == 0 || len(signature) > 80 {
		return nil, fmt.Errorf("%w: signature must be a DER ECDSA signature", ErrInvalidInput)
	}
	d, err := s.deviceByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	c, err := getConfirmation(ctx, s.db, d.tenant, confirmationID)
	if err != nil {
		return nil, err
	}
	if c.CustomerID != d.customer {
		return nil, ErrNotFound
	}
	if err := s.expireIfDue(ctx, c); err != nil {
		return nil, err
	}
	cu, err := s.customer(ctx, d.tenant, d.customer)
	if err != nil {
		return nil, err
	}
	p, _, err := loadPolicy(ctx, s.db, d.tenant)
	if err != nil {
		return nil, err
	}
	actor := Actor{Kind: audit.ActorSystem, ID: "device:" + d.id}
	err = s.inTx(ctx, func(tx *store.Tx) error {
		if c.State.Final() {
			return fmt.Errorf("%w: the confirmation is %s", ErrState, c.State)
		}
		var nonce []byte
		err := tx.QueryRow(ctx, `SELECT nonce FROM txauth_device_nonces WHERE confirmation_id = ? AND used_at = 0`, c.ID).Scan(&nonce)
		if errors.Is(err, store.ErrNotFound) {
			return ErrReplay
		} else if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE txauth_device_nonces SET used_at = ? WHERE confirmation_id = ? AND used_at = 0`, store.Micros(s.now()), c.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrReplay
		}
		if err := s.verifyDevice(ctx, tx, cu, d, c, nonce, decision, signature); err != nil {
			if rerr := s.record(ctx, tx, actor, c.TenantID, "txauth.device.decide", c.ID, audit.OutcomeDenied, map[string]string{"reason": "signature"}); rerr != nil {
				return rerr
			}
			return errCommit{err}
		}
		if err := s.record(ctx, tx, actor, c.TenantID, "txauth.device.decide", c.ID, audit.OutcomeOK, map[string]string{"decision": decision, "device": d.id}); err != nil {
			return err
		}
		if decision == DeviceApprove {
			return s.satisfy(ctx, tx, c, FactorDevice, actor)
		}
		if err := s.raise(ctx, tx, &p, c.TenantID, c.CustomerID, c.ID, AlertMismatch, "high", map[string]string{"reported_by": "device"}); err != nil {
			return err
		}
		if err := s.finish(ctx, tx, c, StateRejected, actor, map[string]string{"reason": "device_refused"}); err != nil {
			return err
		}
		if p.Webhook != "" {
			return s.notice(ctx, tx, p.Webhook, c.TenantID, c.CustomerID, c.ID, NoticeMismatch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return getConfirmation(ctx, s.db, d.tenant, c.ID)
}

func (s *Service) verifyDevice(ctx context.Context, tx *store.Tx, cu *ekyc.Customer, d *deviceRow, c *Confirmation, nonce []byte, decision string, sig []byte) error {
	der, err := s.cfg.Vault.Open(ctx, tx, cu.Subject(), deviceAAD(d.id), d.sealed)
	if err != nil {
		return err
	}
	pk, err := parseDeviceKey(der)
	if err != nil {
		return errors.New("txauth: stored device key unreadable")
	}
	h := DeviceChallenge(c.TxHash, nonce, decision)
	if !ecdsa.VerifyASN1(pk, h[:], sig) {
		return ErrDeviceSignature
	}
	return nil
}

// parseDeviceKey parses a device's public key: DER SubjectPublicKeyInfo of
// a P-256 key, at most MaxDeviceKey bytes (ErrInvalidInput otherwise).
func parseDeviceKey(der []byte) (*ecdsa.PublicKey, error) {
	if len(der) == 0 || len(der) > MaxDeviceKey {
		return nil, fmt.Errorf("%w: public_key must be a DER P-256 key of at most %d bytes", ErrInvalidInput, MaxDeviceKey)
	}
	k, err := x509.ParsePKIXPublicKey(der)
	pk, ok := k.(*ecdsa.PublicKey)
	if err != nil || !ok || pk.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: public_key must be a DER P-256 key", ErrInvalidInput)
	}
	return pk, nil
}

// storeDeviceNonce keeps the confirmation's device nonce (in open's
// transaction).
func storeDeviceNonce(ctx context.Context, tx *store.Tx, c *Confirmation) error {
	if c.deviceNonce == nil {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO txauth_device_nonces (confirmation_id, tenant_id, nonce, used_at) VALUES (?, ?, ?, 0)`, c.ID, c.TenantID, c.deviceNonce)
	return err
}

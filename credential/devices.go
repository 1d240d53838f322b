package credential

// Branch devices. A counter PC runs `madoguchi branch init`, which makes
// its two keys (an HPKE key that receives the tenant's branch key: X25519
// in a file, or P-256 held in an HSM, which is what PKCS#11 tokens
// exchange with; and an Ed25519 note key that signs its own audit log and
// its requests)
// and prints an enrolment code. One staff member (admin role) files the
// enrolment with that code; a different one approves it (dual control).
// Removal is the same: requested by one, approved by another; approving
// it makes a new version of the tenant's branch key, so credentials issued
// afterwards are unreadable to the removed device (those issued before
// stay readable to it: reissue them if the device was lost).
//
// A device authenticates its requests with a signed note (its Ed25519
// key) naming itself and the time; its log checkpoints are signed by the
// same key, so the server needs no shared secret with it.

import (
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
)

// Staff is a staff member acting on branch devices or credentials.
type Staff struct {
	ID        string
	Roles     []string
	TenantID  string // "" for operator staff (every tenant)
	RequestID string
}

func (st Staff) sees(tenant string) bool { return st.TenantID == "" || st.TenantID == tenant }

func (st Staff) actor() Actor {
	return Actor{Kind: audit.ActorStaff, ID: st.ID, RequestID: st.RequestID}
}

func (st Staff) admin() error {
	if st.ID == "" || !slices.Contains(st.Roles, "admin") {
		return fmt.Errorf("%w: the admin role is required", ErrForbidden)
	}
	return nil
}

// Device states.
const (
	DevicePending         = "pending"
	DeviceActive          = "active"
	DeviceRemovalPending  = "removal_pending"
	DeviceRemoved         = "removed"
	EnrolmentCodePrefix   = "mdgb1."
	maxDeviceName         = 64
	deviceRequestValidity = 5 * time.Minute
)

// Device is an enrolled (or pending, or removed) branch device.
type Device struct {
	ID          string    `json:"id"`
	TenantID    string    `json:"tenant"`
	Name        string    `json:"name"`
	State       string    `json:"state"`
	RequestedBy string    `json:"requested_by"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	RemovalBy   string    `json:"removal_requested_by,omitempty"`
	RemovedBy   string    `json:"removed_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	LogSize     uint64    `json:"log_size"`
	SyncedAt    time.Time `json:"synced_at,omitzero"`
	hpke        []byte
	logKey      string
}

// Fingerprint is a short digest of the device's keys for staff to compare
// with what the counter PC shows.
func (d *Device) Fingerprint() string { return fingerprint(d.hpke, d.logKey) }

// EnrolmentCode is what `madoguchi branch init` prints.
func EnrolmentCode(hpkePub *ecdh.PublicKey, logVerifierKey string) string {
	return EnrolmentCodePrefix + base64.RawURLEncoding.EncodeToString(hpkePub.Bytes()) + "." + logVerifierKey
}

// ParseEnrolmentCode splits an enrolment code.
func ParseEnrolmentCode(code string) (*ecdh.PublicKey, string, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(code), EnrolmentCodePrefix)
	if !ok || len(rest) > 512 {
		return nil, "", fmt.Errorf("%w: not an enrolment code", ErrInvalidInput)
	}
	h, vkey, ok := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if !ok || err != nil {
		return nil, "", fmt.Errorf("%w: not an enrolment code", ErrInvalidInput)
	}
	pub, err := devicePublicKey(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%w: enrolment code key", ErrInvalidInput)
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return nil, "", fmt.Errorf("%w: enrolment code log key", ErrInvalidInput)
	}
	return pub, vkey, nil
}

// devicePublicKey decodes a device's HPKE public key by its length: 32
// bytes are X25519, 65 an uncompressed P-256 point. The branch key is
// wrapped to each device with the DHKEM of the device's own curve.
func devicePublicKey(raw []byte) (*ecdh.PublicKey, error) {
	if len(raw) == 65 {
		return ecdh.P256().NewPublicKey(raw)
	}
	return ecdh.X25519().NewPublicKey(raw)
}

const deviceCols = `id, tenant_id, name, hpke_public, log_key, state, requested_by, approved_by, removal_by, removed_by, created_at, log_size, synced_at`

func scanDevice(row interface{ Scan(...any) error }) (*Device, error) {
	var (
		d               Device
		created, synced int64
		size            int64
	)
	if err := row.Scan(&d.ID, &d.TenantID, &d.Name, &d.hpke, &d.logKey, &d.State, &d.RequestedBy, &d.ApprovedBy, &d.RemovalBy, &d.RemovedBy, &created, &size, &synced); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	d.CreatedAt, d.LogSize = store.FromMicros(created), uint64(size)
	if synced != 0 {
		d.SyncedAt = store.FromMicros(synced)
	}
	return &d, nil
}

func getDevice(ctx context.Context, q rowQuerier, id string) (*Device, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	return scanDevice(q.QueryRow(ctx, `SELECT `+deviceCols+` FROM credential_devices WHERE id = ?`, id))
}

// Device returns a device the staff member may see.
func (s *Service) Device(ctx context.Context, st Staff, id string) (*Device, error) {
	d, err := getDevice(ctx, s.cfg.DB, id)
	if err != nil {
		return nil, err
	}
	if !st.sees(d.TenantID) {
		return nil, ErrNotFound
	}
	return d, nil
}

// Devices lists the tenant's devices.
func (s *Service) Devices(ctx context.Context, st Staff, tenant string) ([]Device, error) {
	if !st.sees(tenant) {
		return nil, ErrNotFound
	}
	rows, err := s.cfg.DB.Query(ctx, `SELECT `+deviceCols+` FROM credential_devices WHERE tenant_id = ? ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *d)
	}
	return out, rows.Err()
}

// RequestDevice files a branch device's enrolment (first of two people).
func (s *Service) RequestDevice(ctx context.Context, st Staff, tenant, name, code string) (*Device, error) {
	if err := st.admin(); err != nil {
		return nil, err
	}
	if !st.sees(tenant) {
		return nil, ErrNotFound
	}
	if !textOK(name, maxDeviceName) {
		return nil, fmt.Errorf("%w: name must be 1-%d printable characters", ErrInvalidInput, maxDeviceName)
	}
	pub, vkey, err := ParseEnrolmentCode(code)
	if err != nil {
		return nil, err
	}
	id, err := s.newID("bdv_")
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO credential_devices (`+deviceCols+`, activated_at, removed_at) VALUES (?, ?, ?, ?, ?, ?, ?, '', '', '', ?, 0, 0, 0, 0)`,
			id, tenant, name, pub.Bytes(), vkey, DevicePending, st.ID, store.Micros(now)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("%w: these device keys are already enrolled", ErrState)
			}
			return err
		}
		return s.record(ctx, tx, st.actor(), tenant, "credential.device.request", id, audit.OutcomeOK, map[string]string{"fingerprint": fingerprint(pub.Bytes(), vkey)})
	})
	if err != nil {
		return nil, err
	}
	return s.Device(ctx, st, id)
}

// ApproveDevice activates a pending device; the approver must not be the
// staff member who filed it.
func (s *Service) ApproveDevice(ctx context.Context, st Staff, id string) (*Device, error) {
	return s.transition(ctx, st, id, DevicePending, DeviceActive, "credential.device.approve")
}

// RequestRemoval files a device's removal (first of two people).
func (s *Service) RequestRemoval(ctx context.Context, st Staff, id string) (*Device, error) {
	return s.transition(ctx, st, id, DeviceActive, DeviceRemovalPending, "credential.device.removal_request")
}

// ApproveRemoval removes the device (a different person than the one who
// asked) and makes a new branch key version for the tenant.
func (s *Service) ApproveRemoval(ctx context.Context, st Staff, id string) (*Device, error) {
	return s.transition(ctx, st, id, DeviceRemovalPending, DeviceRemoved, "credential.device.remove")
}

func (s *Service) transition(ctx context.Context, st Staff, id, from, to, action string) (*Device, error) {
	if err := st.admin(); err != nil {
		return nil, err
	}
	err := s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		d, err := getDevice(ctx, tx, id)
		if err != nil {
			return err
		}
		if !st.sees(d.TenantID) {
			return ErrNotFound
		}
		if d.State != from {
			return fmt.Errorf("%w: the device is %s", ErrState, d.State)
		}
		now := store.Micros(s.cfg.Now())
		var q string
		switch to {
		case DeviceActive:
			if d.RequestedBy == st.ID {
				return fmt.Errorf("%w: a second staff member must approve", ErrForbidden)
			}
			q = `UPDATE credential_devices SET state = ?, approved_by = ?, activated_at = ? WHERE id = ? AND state = ?`
		case DeviceRemovalPending:
			q = `UPDATE credential_devices SET state = ?, removal_by = ?, removed_at = ? WHERE id = ? AND state = ?`
		case DeviceRemoved:
			if d.RemovalBy == st.ID {
				return fmt.Errorf("%w: a second staff member must approve", ErrForbidden)
			}
			q = `UPDATE credential_devices SET state = ?, removed_by = ?, removed_at = ? WHERE id = ? AND state = ?`
		}
		res, err := tx.Exec(ctx, q, to, st.ID, now, id, from)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: the device changed meanwhile", ErrState)
		}
		if to == DeviceRemoved {
			bk, err := s.branchPublic(ctx, tx, d.TenantID)
			if err != nil {
				return err
			}
			if _, err := s.newBranchKey(ctx, tx, d.TenantID, bk.version+1); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, st.actor(), d.TenantID, action, id, audit.OutcomeOK, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.Device(ctx, st, id)
}

// DeviceRequest is the text a device signs (as a note) to authenticate a
// request: a fixed first line, its id and the Unix time.
func DeviceRequest(device string, at time.Time) string {
	return "madoguchi/credential/branch-request/v1\n" + device + "\n" + strconv.FormatInt(at.Unix(), 10) + "\n"
}

// authDevice checks a signed device request and returns the active device.
func (s *Service) authDevice(ctx context.Context, signed []byte) (*Device, error) {
	if len(signed) > 2048 {
		return nil, ErrDeviceAuth
	}
	text, _, ok := strings.Cut(string(signed), "\n\n")
	lines := strings.Split(text, "\n")
	if !ok || len(lines) != 3 || lines[0] != "madoguchi/credential/branch-request/v1" {
		return nil, ErrDeviceAuth
	}
	d, err := getDevice(ctx, s.cfg.DB, lines[1])
	if err != nil {
		return nil, ErrDeviceAuth
	}
	v, err := note.NewVerifier(d.logKey)
	if err != nil {
		return nil, ErrDeviceAuth
	}
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		return nil, ErrDeviceAuth
	}
	sec, err := strconv.ParseInt(lines[2], 10, 64)
	if err != nil {
		return nil, ErrDeviceAuth
	}
	if d := s.cfg.Now().Sub(time.Unix(sec, 0)); d > deviceRequestValidity || d < -deviceRequestValidity {
		return nil, fmt.Errorf("%w: request time outside ±%v", ErrDeviceAuth, deviceRequestValidity)
	}
	if d.State != DeviceActive && d.State != DeviceRemovalPending {
		return nil, fmt.Errorf("%w: device is %s", ErrDeviceAuth, d.State)
	}
	return d, nil
}

package credential

// What a branch device fetches when online (Bundle) and what it sends
// (IngestLog): the trust it verifies against, and its own audit log.

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/ekyc"
	"github.com/madoguchi/madoguchi/store"
)

func fingerprint(hpke []byte, logKey string) string {
	h := sha256.Sum256(append(append([]byte(nil), hpke...), logKey...))
	x := hex.EncodeToString(h[:8])
	return x[:4] + "-" + x[4:8] + "-" + x[8:12] + "-" + x[12:]
}

// BranchPolicy is what the branch decides with: the tenant's calibrated
// face-match threshold for one model, and its liveness rule (from the
// tenant's eKYC policy and the server's calibration).
type BranchPolicy struct {
	Model       string  `json:"model"`
	Threshold   float64 `json:"threshold"`
	TargetFMR   float64 `json:"target_fmr"`
	Consistency float64 `json:"consistency"`
	MinPAD      float64 `json:"min_pad"`
	// PAD gives passive PAD scores thresholds of their own (the tenant's
	// eKYC policy liveness.pad; unset ones use MinPAD).
	PAD            ekyc.PADThresholds `json:"pad,omitzero"`
	YawThreshold   float64            `json:"yaw_threshold"`
	EARClosed      float64            `json:"ear_closed"`
	EAROpen        float64            `json:"ear_open"`
	ChallengeSteps int                `json:"challenge_steps"`
	MinFrames      int                `json:"min_frames"`
}

// Policies gives a tenant's branch policy; an error (no eKYC policy, no
// calibration) means the branch cannot decide and will refuse.
type Policies interface {
	BranchPolicy(ctx context.Context, tenant string) (BranchPolicy, error)
}

// WrappedKey is a tenant branch key version wrapped to one device.
type WrappedKey struct {
	Version uint32 `json:"version"`
	Wrapped []byte `json:"wrapped"`
}

// Bundle is the trust a device caches.
type Bundle struct {
	Device     string          `json:"device"`
	Tenant     string          `json:"tenant"`
	Issuer     string          `json:"issuer"`
	IssuerKeys []PublicKeyJSON `json:"issuer_keys"`
	StatusList []byte          `json:"status_list"`
	BranchKeys []WrappedKey    `json:"branch_keys"`
	Policy     *BranchPolicy   `json:"policy,omitempty"`
	PolicyErr  string          `json:"policy_error,omitempty"`
	ServerTime time.Time       `json:"server_time"`
	LogSize    uint64          `json:"log_size"`
}

// Bundle answers a device's signed request with its trust bundle.
func (s *Service) Bundle(ctx context.Context, signed []byte, pol Policies) (*Bundle, error) {
	d, err := s.authDevice(ctx, signed)
	if err != nil {
		return nil, err
	}
	status, err := s.StatusList(ctx, d.TenantID)
	if err != nil {
		return nil, err
	}
	keys, err := s.IssuerKeys()
	if err != nil {
		return nil, err
	}
	devPub, err := devicePublicKey(d.hpke)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Device: d.ID, Tenant: d.TenantID, Issuer: s.cfg.IssuerName, IssuerKeys: keys, StatusList: status,
		ServerTime: s.cfg.Now().UTC(), LogSize: d.LogSize}
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := s.branchPublic(ctx, tx, d.TenantID); err != nil { // version 1 exists from the first device on
			return err
		}
		rows, err := tx.Query(ctx, `SELECT version, sealed FROM credential_branch_keys WHERE tenant_id = ? ORDER BY version`, d.TenantID)
		if err != nil {
			return err
		}
		type sealedKey struct {
			v      int64
			sealed []byte
		}
		var ks []sealedKey
		for rows.Next() {
			var k sealedKey
			if err := rows.Scan(&k.v, &k.sealed); err != nil {
				rows.Close()
				return err
			}
			ks = append(ks, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range ks {
			raw, err := s.cfg.Vault.Open(ctx, tx, branchSubject(d.TenantID), branchKeyAAD(d.TenantID, uint32(k.v)), k.sealed)
			if err != nil {
				return err
			}
			priv, err := ecdh.X25519().NewPrivateKey(raw)
			if err != nil {
				return err
			}
			w, err := WrapBranchKey(devPub, d.TenantID, d.ID, uint32(k.v), priv)
			if err != nil {
				return err
			}
			b.BranchKeys = append(b.BranchKeys, WrappedKey{Version: uint32(k.v), Wrapped: w})
		}
		if _, err := tx.Exec(ctx, `UPDATE credential_devices SET synced_at = ? WHERE id = ?`, store.Micros(s.cfg.Now()), d.ID); err != nil {
			return err
		}
		return s.record(ctx, tx, Actor{Kind: audit.ActorSystem, ID: d.ID}, d.TenantID, "credential.device.bundle", d.ID, audit.OutcomeOK,
			map[string]string{"branch_keys": strconv.Itoa(len(ks))})
	})
	if err != nil {
		return nil, err
	}
	if pol != nil {
		p, err := pol.BranchPolicy(ctx, d.TenantID)
		if err != nil {
			b.PolicyErr = err.Error()
		} else {
			b.Policy = &p
		}
	}
	return b, nil
}

// MaxSyncLeaves bounds the entries one sync may carry.
const MaxSyncLeaves = 1000

// IngestLog takes a device's signed checkpoint and the entries after what
// the server already has; it checks that the checkpoint's tree is exactly
// the entries synced before plus these, then appends each entry to the
// server's audit log (actor: the device) in one transaction. It returns
// the new synced size.
func (s *Service) IngestLog(ctx context.Context, signed []byte, checkpoint []byte, leaves [][]byte) (uint64, error) {
	d, err := s.authDevice(ctx, signed)
	if err != nil {
		return 0, err
	}
	if len(leaves) > MaxSyncLeaves {
		return 0, fmt.Errorf("%w: at most %d entries a sync", ErrInvalidInput, MaxSyncLeaves)
	}
	cp, err := audit.VerifyCheckpoint(checkpoint, d.logKey)
	if err != nil {
		return 0, fmt.Errorf("%w: checkpoint: %v", ErrDeviceLog, err)
	}
	var size uint64
	err = s.cfg.DB.InTx(ctx, func(tx *store.Tx) error {
		fresh, err := getDevice(ctx, tx, d.ID)
		if err != nil {
			return err
		}
		if cp.Size != fresh.LogSize+uint64(len(leaves)) {
			return fmt.Errorf("%w: checkpoint size %d, have %d + %d entries", ErrDeviceLog, cp.Size, fresh.LogSize, len(leaves))
		}
		hashes := make([]tlog.Hash, 0, cp.Size)
		rows, err := tx.Query(ctx, `SELECT leaf_hash FROM credential_device_log WHERE device_id = ? ORDER BY idx`, d.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var h []byte
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return err
			}
			hashes = append(hashes, tlog.Hash(h))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		entries := make([]audit.Entry, len(leaves))
		for i, l := range leaves {
			e, err := audit.ParseLeaf(l)
			if err != nil {
				return fmt.Errorf("%w: entry %d: %v", ErrDeviceLog, fresh.LogSize+uint64(i), err)
			}
			entries[i] = e
			hashes = append(hashes, tlog.RecordHash(l))
		}
		if root := merkleRoot(hashes); !bytes.Equal(root[:], cp.Root[:]) {
			return fmt.Errorf("%w: the entries do not make the checkpoint's tree", ErrDeviceLog)
		}
		for i, e := range entries {
			idx := fresh.LogSize + uint64(i)
			h := hashes[idx]
			if _, err := tx.Exec(ctx, `INSERT INTO credential_device_log (device_id, idx, leaf_hash) VALUES (?, ?, ?)`, d.ID, int64(idx), h[:]); err != nil {
				return err
			}
			details := map[string]string{"branch_index": strconv.FormatUint(idx, 10), "branch_leaf_hash": hex.EncodeToString(h[:]),
				"branch_time": e.Time.UTC().Format(time.RFC3339Nano), "branch_action": e.Action}
			for k, v := range e.Details {
				if len(details) < audit.MaxDetails {
					details["b_"+k] = v
				}
			}
			if _, err := s.cfg.Audit.Append(ctx, tx, audit.Entry{ActorKind: audit.ActorSystem, ActorID: d.ID, TenantID: d.TenantID,
				Action: "credential.branch.entry", Object: e.Object, Outcome: e.Outcome, Details: details}); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE credential_devices SET log_size = ?, synced_at = ? WHERE id = ? AND log_size = ?`,
			int64(cp.Size), store.Micros(s.cfg.Now()), d.ID, int64(fresh.LogSize)); err != nil {
			return err
		}
		size = cp.Size
		return nil
	})
	if err != nil {
		var p *audit.EntryError
		if errors.As(err, &p) {
			return 0, fmt.Errorf("%w: %v", ErrDeviceLog, err)
		}
		return 0, err
	}
	return size, nil
}

// merkleRoot is the RFC 6962 tree hash of leaf hashes.
func merkleRoot(h []tlog.Hash) tlog.Hash {
	switch len(h) {
	case 0:
		return tlog.Hash(sha256.Sum256(nil))
	case 1:
		return h[0]
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	return tlog.NodeHash(merkleRoot(h[:k]), merkleRoot(h[k:]))
}

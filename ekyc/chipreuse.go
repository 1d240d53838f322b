package ekyc

// Chip reuse: the same chip read presented in another session.
//
// Invariants:
//   - For every verified chip read the service keeps one ChipReuseDigest
//     per issuer-signed object of the read (chip.SignedObjects), in
//     ekyc_chip_digests, in the chip's own transaction. The digest is an
//     HMAC-SHA256 under the server's ReuseKey, never a plain hash: without
//     the key, a digest cannot be tested against a guessed card.
//   - At decision time a session whose chip shares any digest with another
//     session (of any tenant) gets ReasonChipReused with its policy action
//     (reject by default). The reason says whether the other session was
//     this tenant's or another's, never which tenant or session.
//   - The digests are deleted when the session's subject is shredded.
//
// A later fraud package (document reuse) builds on ChipReuseDigest and the
// ekyc_chip_digests table; keep both small.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"

	"github.com/madoguchi/madoguchi/document"
	"github.com/madoguchi/madoguchi/document/chip"
	"github.com/madoguchi/madoguchi/internal/keyfile"
	"github.com/madoguchi/madoguchi/store"
)

// Reason codes of chip reuse and device signatures.
const (
	// ReasonChipReused: the chip's signed data was presented in another
	// session (of this tenant or, without naming it, of another).
	ReasonChipReused = "chip.reused"
	// ReasonChipUnsigned: the tenant's policy asks for a registered
	// device's signature over the chip read (device_signature "reason")
	// and the read carried none.
	ReasonChipUnsigned = "chip.device_unsigned"
)

// ReuseKey is the server secret that keys chip-reuse digests (32 bytes).
// It redacts itself in logs.
type ReuseKey struct{ k [32]byte }

// NewReuseKey wraps 32 secret bytes.
func NewReuseKey(b []byte) (*ReuseKey, error) {
	if len(b) != 32 {
		return nil, fmt.Errorf("ekyc: a chip-reuse key is 32 bytes, got %d", len(b))
	}
	k := &ReuseKey{}
	copy(k.k[:], b)
	return k, nil
}

// LogValue never shows the key.
func (k *ReuseKey) LogValue() slog.Value { return slog.StringValue("chip-reuse-key:REDACTED") }

// LoadReuseKey reads a chip-reuse key file: 64 hex digits (a trailing
// newline allowed), a regular file of mode 0600 or stricter, at most
// keyfile.MaxHexSize bytes. A missing file is fs.ErrNotExist.
func LoadReuseKey(path string) (*ReuseKey, error) {
	raw, err := keyfile.LoadHex(path, 32)
	if err != nil {
		return nil, fmt.Errorf("ekyc: chip-reuse key: %w", err)
	}
	defer clear(raw)
	return NewReuseKey(raw)
}

// LoadOrCreateDevReuseKey loads the key at path or, if there is none,
// creates one (0600). For development servers; production provisions it.
// Of several processes starting at once, one creates the key and all use it.
func LoadOrCreateDevReuseKey(path string) (k *ReuseKey, created bool, err error) {
	raw, created, err := keyfile.LoadOrCreateHex(path, 32)
	if err != nil {
		return nil, false, fmt.Errorf("ekyc: chip-reuse key: %w", err)
	}
	defer clear(raw)
	k, err = NewReuseKey(raw)
	return k, created && err == nil, err
}

// ChipReuseDigest is the keyed digest of one issuer-signed object of a
// chip: HMAC-SHA256 under key over "madoguchi/chip-reuse/v1", kind, object
// name and the object's bytes, NUL-separated.
func ChipReuseDigest(key *ReuseKey, kind document.Kind, object string, data []byte) []byte {
	m := hmac.New(sha256.New, key.k[:])
	m.Write([]byte("madoguchi/chip-reuse/v1\x00"))
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(object))
	m.Write([]byte{0})
	m.Write(data)
	return m.Sum(nil)
}

// chipDigests are the reuse digests of a read keyed by canonical names.
func (s *Service) chipDigests(kind document.Kind, files map[string][]byte) [][]byte {
	var out [][]byte
	for name, b := range chip.SignedObjects(kind, files) {
		out = append(out, ChipReuseDigest(s.cfg.ChipReuseKey, kind, name, b))
	}
	return out
}

// storeChipDigests records a verified read's digests in tx.
func storeChipDigests(ctx context.Context, tx *store.Tx, ss *Session, digests [][]byte, now int64) error {
	for _, d := range digests {
		if _, err := tx.Exec(ctx, `INSERT INTO ekyc_chip_digests (digest, session_id, tenant_id, created_at) VALUES (?, ?, ?, ?)`,
			d, ss.ID, ss.TenantID, now); err != nil && !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return nil
}

// chipReuse is what the store knows of other sessions holding the same
// chip: whether one is this tenant's, and whether one is another tenant's.
type chipReuse struct{ sameTenant, otherTenant bool }

func (s *Service) chipReuse(ctx context.Context, q querier, ss *Session) (chipReuse, error) {
	var r chipReuse
	rows, err := q.Query(ctx, `SELECT DISTINCT o.tenant_id FROM ekyc_chip_digests d
		JOIN ekyc_chip_digests o ON o.digest = d.digest AND o.session_id <> d.session_id
		WHERE d.session_id = ?`, ss.ID)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return r, err
		}
		if t == ss.TenantID {
			r.sameTenant = true
		} else {
			r.otherTenant = true
		}
	}
	return r, rows.Err()
}

// deleteChipDigests removes a session's digests (with its subject).
func deleteChipDigests(ctx context.Context, tx *store.Tx, session string) error {
	_, err := tx.Exec(ctx, `DELETE FROM ekyc_chip_digests WHERE session_id = ?`, session)
	return err
}

// reuseReasons adds the reuse reason through add.
func reuseReasons(r chipReuse, add func(code, detail string)) {
	switch {
	case r.sameTenant && r.otherTenant:
		add(ReasonChipReused, "the same chip read was presented in another session of this service and at another service using this server (not named)")
	case r.sameTenant:
		add(ReasonChipReused, "the same chip read was presented in another session of this service")
	case r.otherTenant:
		add(ReasonChipReused, "the same chip read was presented at another service using this server (not named)")
	}
}

// Package blob stores large immutable objects (ID document images, chip
// files, selfies) outside the record store, named by content: the SHA-256 of
// the stored bytes. Callers store ciphertext (see vault.SealBlob), so the
// address reveals nothing about the content.
//
// Invariants:
//   - Put commits a row in the blobs table BEFORE it writes the object, and
//     returns only after the object is durable (temp file, fsync, rename,
//     fsync folder on the filesystem; a completed PUT on S3).
//   - A record refers to a blob through Attach, in the record's own
//     transaction; a foreign key makes that fail if the blob row is gone, so
//     a committed reference never points at a swept blob. A crash between
//     Put and the record's commit leaves an orphan, never a dangling record.
//   - Sweep deletes blobs with no reference whose row is older than a grace
//     period (longer than any Put-to-commit window), holding the row's lock
//     while it deletes the object.
//   - Get verifies the SHA-256 of what it read against the Ref (ErrCorrupt)
//     and refuses objects over the size limit (ErrTooLarge).
//
// Backends: FS (the default, <data>/blobs/ab/cd/<hash>, folders 0700, files
// 0600) and S3 (any S3-compatible object store, path-style requests signed
// with AWS Signature Version 4).
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// Errors with a documented contract.
var (
	ErrNotFound   = errors.New("blob: not found")
	ErrCorrupt    = errors.New("blob: content does not match its address")
	ErrTooLarge   = errors.New("blob: too large")
	ErrInvalidRef = errors.New("blob: invalid reference")
)

// DefaultMaxSize is the default per-blob size limit.
const DefaultMaxSize = 32 << 20

// Ref is a blob's content address: the SHA-256 of its stored bytes.
type Ref struct{ sum [32]byte }

// RefOf returns the address of data.
func RefOf(data []byte) Ref { return Ref{sha256.Sum256(data)} }

// ParseRef parses the form String returns ("sha256:" and 64 lowercase hex digits).
func ParseRef(s string) (Ref, error) {
	h, ok := strings.CutPrefix(s, "sha256:")
	if !ok {
		return Ref{}, fmt.Errorf("%w: missing sha256: prefix", ErrInvalidRef)
	}
	return parseHex(h)
}

func parseHex(h string) (Ref, error) {
	var r Ref
	if len(h) != 64 || strings.ToLower(h) != h {
		return Ref{}, fmt.Errorf("%w: want 64 lowercase hex digits", ErrInvalidRef)
	}
	if _, err := hex.Decode(r.sum[:], []byte(h)); err != nil {
		return Ref{}, fmt.Errorf("%w: want 64 lowercase hex digits", ErrInvalidRef)
	}
	return r, nil
}

// String returns "sha256:<hex>".
func (r Ref) String() string { return "sha256:" + r.Hex() }

// Hex returns the 64 hex digits of the hash.
func (r Ref) Hex() string { return hex.EncodeToString(r.sum[:]) }

// IsZero reports whether r is the zero Ref (no blob).
func (r Ref) IsZero() bool { return r == Ref{} }

// key is the object's relative name: "ab/cd/<hex>".
func (r Ref) key() string {
	h := r.Hex()
	return h[0:2] + "/" + h[2:4] + "/" + h
}

// Backend stores objects by Ref. Put must be atomic and durable when it
// returns; Get returns ErrNotFound for a missing object and ErrTooLarge for
// one over limit bytes; Delete of a missing object succeeds.
type Backend interface {
	Put(ctx context.Context, r Ref, data []byte) error
	Get(ctx context.Context, r Ref, limit int64) ([]byte, error)
	Delete(ctx context.Context, r Ref) error
}

// Store is the blob store: a Backend plus the blobs and blob_refs tables
// (migration 0004). It is safe for concurrent use.
type Store struct {
	db  *store.DB
	be  Backend
	max int64
	now func() time.Time
}

// Option configures New.
type Option func(*Store)

// WithMaxSize sets the per-blob size limit (default DefaultMaxSize).
func WithMaxSize(n int64) Option { return func(s *Store) { s.max = n } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store over the migrated record store db and backend be.
func New(db *store.DB, be Backend, opts ...Option) (*Store, error) {
	if db == nil || be == nil {
		return nil, errors.New("blob: New needs a store and a backend")
	}
	s := &Store{db: db, be: be, max: DefaultMaxSize, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.max <= 0 {
		return nil, errors.New("blob: size limit must be positive")
	}
	return s, nil
}

// MaxSize reports the per-blob size limit.
func (s *Store) MaxSize() int64 { return s.max }

// Put stores data and returns its Ref. It first commits (or refreshes) the
// blob's row, then writes the object durably; the caller then Attaches the
// Ref in the transaction of the record that points at it. Putting the same
// bytes twice is harmless.
func (s *Store) Put(ctx context.Context, data []byte) (Ref, error) {
	if int64(len(data)) > s.max {
		return Ref{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), s.max)
	}
	r := RefOf(data)
	now := store.Micros(s.now())
	if _, err := s.db.Exec(ctx, `INSERT INTO blobs (hash, size, created_at) VALUES (?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET created_at = excluded.created_at`, r.Hex(), len(data), now); err != nil {
		return Ref{}, fmt.Errorf("blob: record %s: %w", r, err)
	}
	if err := s.be.Put(ctx, r, data); err != nil {
		return Ref{}, fmt.Errorf("blob: write %s: %w", r, err)
	}
	return r, nil
}

// Get reads the blob r and verifies its hash.
func (s *Store) Get(ctx context.Context, r Ref) ([]byte, error) {
	if r.IsZero() {
		return nil, ErrInvalidRef
	}
	b, err := s.be.Get(ctx, r, s.max)
	if err != nil {
		return nil, fmt.Errorf("blob: read %s: %w", r, err)
	}
	if RefOf(b) != r {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, r)
	}
	return b, nil
}

// Attach records, in tx, that owner (an opaque record id within tenant)
// refers to blob r. It fails with ErrNotFound if the blob is not recorded
// (never Put, or swept). Attaching twice is harmless.
func (s *Store) Attach(ctx context.Context, tx *store.Tx, r Ref, tenant, owner string) error {
	if r.IsZero() || tenant == "" || owner == "" || len(tenant) > 128 || len(owner) > 256 {
		return fmt.Errorf("%w: empty ref, tenant or owner, or too long", ErrInvalidRef)
	}
	q := `SELECT size FROM blobs WHERE hash = ?`
	if tx.Dialect() == store.Postgres {
		q += ` FOR SHARE` // holds off a concurrent Sweep until we commit
	}
	var size int64
	if err := tx.QueryRow(ctx, q, r.Hex()).Scan(&size); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: %s is not recorded", ErrNotFound, r)
		}
		return fmt.Errorf("blob: attach: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO blob_refs (hash, tenant_id, owner, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (hash, tenant_id, owner) DO NOTHING`, r.Hex(), tenant, owner, store.Micros(s.now())); err != nil {
		return fmt.Errorf("blob: attach: %w", err)
	}
	return nil
}

// Detach removes owner's reference to r in tx. Once no reference is left the
// blob is swept after the grace period.
func (s *Store) Detach(ctx context.Context, tx *store.Tx, r Ref, tenant, owner string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM blob_refs WHERE hash = ? AND tenant_id = ? AND owner = ?`, r.Hex(), tenant, owner); err != nil {
		return fmt.Errorf("blob: detach: %w", err)
	}
	return nil
}

// Refs lists the blobs owner refers to.
func (s *Store) Refs(ctx context.Context, tenant, owner string) ([]Ref, error) {
	rows, err := s.db.Query(ctx, `SELECT hash FROM blob_refs WHERE tenant_id = ? AND owner = ? ORDER BY hash`, tenant, owner)
	if err != nil {
		return nil, fmt.Errorf("blob: refs: %w", err)
	}
	defer rows.Close()
	var out []Ref
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		r, err := parseHex(h)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SweepReport counts what Sweep did.
type SweepReport struct {
	Deleted int // orphans deleted
	Skipped int // candidates referenced or refreshed meanwhile
}

// Sweep deletes blobs that no record refers to and whose row is older than
// grace. Each deletion runs in its own transaction that deletes the row
// (re-checking both conditions) and then the object before committing, so a
// concurrent Attach either commits first (and the row stays) or fails.
// grace must exceed the longest time between Put and the commit of the
// record that attaches it; one hour is a safe default.
func (s *Store) Sweep(ctx context.Context, grace time.Duration) (SweepReport, error) {
	var rep SweepReport
	if grace <= 0 {
		return rep, errors.New("blob: sweep grace must be positive")
	}
	cutoff := store.Micros(s.now().Add(-grace))
	const batch = 256
	for {
		cands, err := s.orphans(ctx, cutoff, batch)
		if err != nil {
			return rep, err
		}
		for _, r := range cands {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			var deleted bool
			err := s.db.InTx(ctx, func(tx *store.Tx) error {
				res, err := tx.Exec(ctx, `DELETE FROM blobs WHERE hash = ? AND created_at < ?
					AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE blob_refs.hash = blobs.hash)`, r.Hex(), cutoff)
				if err != nil {
					return err
				}
				if n, _ := res.RowsAffected(); n != 1 {
					return nil
				}
				deleted = true
				return s.be.Delete(ctx, r)
			})
			if err != nil {
				return rep, fmt.Errorf("blob: sweep %s: %w", r, err)
			}
			if deleted {
				rep.Deleted++
			} else {
				rep.Skipped++
			}
		}
		if len(cands) < batch {
			return rep, nil
		}
	}
}

func (s *Store) orphans(ctx context.Context, cutoff int64, limit int) ([]Ref, error) {
	rows, err := s.db.Query(ctx, `SELECT hash FROM blobs WHERE created_at < ?
		AND NOT EXISTS (SELECT 1 FROM blob_refs WHERE blob_refs.hash = blobs.hash)
		ORDER BY created_at, hash LIMIT ?`, cutoff, limit)
	if err != nil {
		return nil, fmt.Errorf("blob: sweep: %w", err)
	}
	defer rows.Close()
	var out []Ref
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		r, err := parseHex(h)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/madoguchi/madoguchi/store"
)

// Errors with a documented contract.
var (
	// ErrTampered reports stored log data that does not match the tree:
	// a changed, missing or reordered entry or hash, or a checkpoint whose
	// root the stored tree no longer produces.
	ErrTampered = errors.New("audit: log tampered")
	// ErrRollback reports a tree smaller than a checkpoint already signed
	// or seen (rows deleted, or the database restored from an old backup).
	ErrRollback = errors.New("audit: log rolled back")
	// ErrRange reports an index or size outside the tree.
	ErrRange = errors.New("audit: index or size out of range")
)

// Log is the audit log stored in a *store.DB. It is safe for concurrent use.
type Log struct {
	db     *store.DB
	signer *Signer
	now    func() time.Time
}

// New returns the Log stored in db whose checkpoints signer signs. The
// checkpoint origin is the signer's key name. db must be migrated.
func New(db *store.DB, signer *Signer) (*Log, error) {
	if db == nil || signer == nil {
		return nil, errors.New("audit: New needs a store and a signer")
	}
	return &Log{db: db, signer: signer, now: time.Now}, nil
}

// Origin returns the checkpoint origin line of this log.
func (l *Log) Origin() string { return l.signer.Name() }

// VerifierKey returns the note verifier key ("name+hash+key") that checks
// this log's checkpoints.
func (l *Log) VerifierKey() string { return l.signer.VerifierKey() }

// Append adds e to the log inside the caller's transaction tx and returns its
// index. The entry, its leaf hash and the new subtree hashes commit or roll
// back with tx, so no change commits without its entry and no entry without
// its change. Appenders are serialised by a lock on the log's head row (the
// SQLite write transaction already is). A zero e.Time is set to the Log's
// clock; e is refused with ErrInvalidEntry if it breaks a rule of Entry.
func (l *Log) Append(ctx context.Context, tx *store.Tx, e Entry) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	leaf, err := MarshalLeaf(e)
	if err != nil {
		return 0, err
	}
	q := `SELECT size FROM audit_head WHERE id = 1`
	if tx.Dialect() == store.Postgres {
		q += ` FOR UPDATE`
	}
	var n int64
	if err := tx.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: read head: %w", err)
	}
	hashes, err := tlog.StoredHashes(n, leaf, txHashReader(ctx, tx))
	if err != nil {
		return 0, fmt.Errorf("audit: compute hashes: %w", err)
	}
	leafHash := tlog.RecordHash(leaf)
	if _, err := tx.Exec(ctx, `INSERT INTO audit_entries (idx, leaf, leaf_hash, time_us, tenant_id, action, object) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		n, leaf, leafHash[:], store.Micros(e.Time), e.TenantID, e.Action, e.Object); err != nil {
		return 0, fmt.Errorf("audit: insert entry: %w", err)
	}
	base := tlog.StoredHashIndex(0, n)
	var sb strings.Builder
	args := make([]any, 0, 2*len(hashes))
	sb.WriteString(`INSERT INTO audit_hashes (id, hash) VALUES `)
	for i, h := range hashes {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(?, ?)")
		args = append(args, base+int64(i), h[:])
	}
	if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
		return 0, fmt.Errorf("audit: insert hashes: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET size = ? WHERE id = 1`, n+1); err != nil {
		return 0, fmt.Errorf("audit: update head: %w", err)
	}
	return uint64(n), nil
}

// querier is what both *store.DB and *store.Tx offer for reads.
type querier interface {
	Query(ctx context.Context, query string, args ...any) (rowsScanner, error)
}

type rowsScanner interface {
	Next() bool
	Scan(...any) error
	Close() error
	Err() error
}

type txQ struct{ tx *store.Tx }

func (q txQ) Query(ctx context.Context, s string, a ...any) (rowsScanner, error) {
	return q.tx.Query(ctx, s, a...)
}

type dbQ struct{ db *store.DB }

func (q dbQ) Query(ctx context.Context, s string, a ...any) (rowsScanner, error) {
	return q.db.Query(ctx, s, a...)
}

func txHashReader(ctx context.Context, tx *store.Tx) tlog.HashReader {
	return hashReader(ctx, txQ{tx})
}

// hashReader reads stored hashes by tlog index. A missing hash is
// ErrTampered: Append always stores every hash tlog asks for.
func hashReader(ctx context.Context, q querier) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		if len(idx) == 0 {
			return nil, nil
		}
		var sb strings.Builder
		sb.WriteString(`SELECT id, hash FROM audit_hashes WHERE id IN (`)
		args := make([]any, len(idx))
		for i, x := range idx {
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("?")
			args[i] = x
		}
		sb.WriteString(")")
		rows, err := q.Query(ctx, sb.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("audit: read hashes: %w", err)
		}
		defer rows.Close()
		got := make(map[int64]tlog.Hash, len(idx))
		for rows.Next() {
			var id int64
			var b []byte
			if err := rows.Scan(&id, &b); err != nil {
				return nil, fmt.Errorf("audit: read hashes: %w", err)
			}
			if len(b) != tlog.HashSize {
				return nil, fmt.Errorf("%w: stored hash %d has %d bytes", ErrTampered, id, len(b))
			}
			got[id] = tlog.Hash(b)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit: read hashes: %w", err)
		}
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := got[x]
			if !ok {
				level, n := tlog.SplitStoredHashIndex(x)
				return nil, fmt.Errorf("%w: stored hash (level %d, index %d) missing", ErrTampered, level, n)
			}
			out[i] = h
		}
		return out, nil
	})
}

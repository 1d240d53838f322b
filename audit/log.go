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
// checkpoint origin is the signer's key name. db must be migrated. A nil
// signer gives a read-only Log for proofs and entries (offline tools):
// Append still works, but Checkpoint fails with ErrNoSigner.
func New(db *store.DB, signer *Signer) (*Log, error) {
	if db == nil {
		return nil, errors.New("audit: New needs a store")
	}
	return &Log{db: db, signer: signer, now: time.Now}, nil
}

// ErrNoSigner reports a checkpoint asked of a Log opened without a signer.
var ErrNoSigner = errors.New("audit: no checkpoint signer configured")

// Origin returns the checkpoint origin line of this log ("" without a signer).
func (l *Log) Origin() string {
	if l.signer == nil {
		return ""
	}
	return l.signer.Name()
}

// VerifierKey returns the note verifier key ("name+hash+key") that checks
// this log's checkpoints ("" without a signer).
func (l *Log) VerifierKey() string {
	if l.signer == nil {
		return ""
	}
	return l.signer.VerifierKey()
}

// Append adds e to the log inside the caller's transaction tx and returns its
// index. The entry, its leaf hash and the new subtree hashes commit or roll
// back with tx, so no change commits without its entry and no entry without
// its change. Appenders are serialised by a lock on the log's head row (the
// SQLite write transaction already is). A zero e.Time is set to the Log's
// clock; e is refused with ErrInvalidEntry if it breaks a rule of Entry.
//
// The head lock is held until tx ends, so every audited transaction
// serialises from its Append to its commit. Call Append as the last
// statement of the transaction: that keeps the lock short and avoids lock
// order deadlocks with rows the transaction touches.
func (l *Log) Append(ctx context.Context, tx *store.Tx, e Entry) (uint64, error) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	leaf, err := MarshalLeaf(e)
	if err != nil {
		return 0, err
	}
	return appendLeaf(ctx, tx, leaf, e)
}

// appendLeaf stores leaf as the next entry; e supplies the query columns.
func appendLeaf(ctx context.Context, tx *store.Tx, leaf []byte, e Entry) (uint64, error) {
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

// Checkpoint returns a signed checkpoint (C2SP signed note) for the current
// tree size, creating and storing it if the latest stored checkpoint is
// older. Before signing it checks that the tree still extends the latest
// stored checkpoint (ErrRollback if the tree shrank, ErrTampered if the
// stored hashes no longer produce that checkpoint's root), so the log never
// signs two inconsistent checkpoints.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	return l.checkpoint(ctx, nil)
}

// CheckpointAt returns a signed checkpoint for an earlier tree size (stored
// like any other). Sizes below the latest stored checkpoint are allowed:
// they are consistent with it by construction and checked before signing.
func (l *Log) CheckpointAt(ctx context.Context, size uint64) ([]byte, error) {
	return l.checkpoint(ctx, &size)
}

func (l *Log) checkpoint(ctx context.Context, at *uint64) ([]byte, error) {
	if l.signer == nil {
		return nil, ErrNoSigner
	}
	var out []byte
	err := l.db.InTx(ctx, func(tx *store.Tx) error {
		q := txQ{tx}
		// Hold the head still (PostgreSQL; SQLite's write transaction
		// already does) so no checkpoint can appear above it meanwhile.
		hq := `SELECT size FROM audit_head WHERE id = 1`
		if tx.Dialect() == store.Postgres {
			hq += ` FOR SHARE`
		}
		var head int64
		if err := tx.QueryRow(ctx, hq).Scan(&head); err != nil {
			return fmt.Errorf("audit: read head: %w", err)
		}
		size := uint64(head)
		if at != nil {
			if *at > size {
				return fmt.Errorf("%w: size %d, log size %d", ErrRange, *at, size)
			}
			size = *at
		}
		root, err := treeHash(ctx, q, size)
		if err != nil {
			return err
		}
		// Check against the latest stored checkpoint (and the one at size).
		var (
			lsize  int64
			lroot  []byte
			lnote  string
			exists = true
		)
		err = tx.QueryRow(ctx, `SELECT size, root_hash, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&lsize, &lroot, &lnote)
		if errors.Is(err, store.ErrNotFound) {
			exists = false
		} else if err != nil {
			return fmt.Errorf("audit: read checkpoint: %w", err)
		}
		if exists {
			if lsize > head {
				return fmt.Errorf("%w: tree size %d, checkpoint signed at %d", ErrRollback, head, lsize)
			}
			if len(lroot) != 32 {
				return fmt.Errorf("%w: stored checkpoint %d root", ErrTampered, lsize)
			}
			lr := [32]byte(lroot)
			if err := l.checkExtends(ctx, q, uint64(lsize), lr, uint64(head)); err != nil {
				return err
			}
			if uint64(lsize) == size {
				if lr != root {
					return fmt.Errorf("%w: checkpoint %d root differs from the tree", ErrTampered, lsize)
				}
				if l.ownNote(lnote) {
					out = []byte(lnote)
					return nil
				}
			}
		}
		// An older size may already have a stored checkpoint.
		var snote string
		var sroot []byte
		err = tx.QueryRow(ctx, `SELECT root_hash, note FROM audit_checkpoints WHERE size = ?`, int64(size)).Scan(&sroot, &snote)
		switch {
		case err == nil:
			if string(sroot) != string(root[:]) {
				return fmt.Errorf("%w: checkpoint %d root differs from the tree", ErrTampered, size)
			}
			if l.ownNote(snote) {
				out = []byte(snote)
				return nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("audit: read checkpoint: %w", err)
		}
		signed, err := SignCheckpoint(Checkpoint{Origin: l.signer.Name(), Size: size, Root: root}, l.signer)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_checkpoints (size, root_hash, note, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (size) DO NOTHING`,
			int64(size), root[:], string(signed), store.Micros(l.now())); err != nil {
			return fmt.Errorf("audit: store checkpoint: %w", err)
		}
		out = signed
		return nil
	})
	return out, err
}

// ownNote reports whether a stored checkpoint note is signed by this log's
// key. A note signed by another key (an earlier key, or one planted in the
// database) is never handed out as this log's checkpoint; a fresh one is
// signed instead (the stored row is left as it is, for VerifyStore to flag).
func (l *Log) ownNote(signed string) bool {
	_, err := VerifyCheckpoint([]byte(signed), l.signer.VerifierKey())
	return err == nil
}

// checkExtends checks that the stored tree of size head still has root
// oldRoot at oldSize, by a consistency proof from the stored hashes.
func (l *Log) checkExtends(ctx context.Context, q querier, oldSize uint64, oldRoot [32]byte, head uint64) error {
	if oldSize == 0 {
		if oldRoot != EmptyRoot {
			return fmt.Errorf("%w: empty checkpoint root", ErrTampered)
		}
		return nil
	}
	r := hashReader(ctx, q)
	newRoot, err := tlog.TreeHash(int64(head), r)
	if err != nil {
		return fmt.Errorf("audit: tree hash: %w", err)
	}
	p, err := tlog.ProveTree(int64(head), int64(oldSize), r)
	if err != nil {
		return fmt.Errorf("audit: consistency proof: %w", err)
	}
	if err := tlog.CheckTree(p, int64(head), newRoot, int64(oldSize), oldRoot); err != nil {
		return fmt.Errorf("%w: tree no longer extends checkpoint %d", ErrTampered, oldSize)
	}
	return nil
}

// LatestCheckpoint returns the latest stored signed checkpoint without
// creating one; ErrRange if none has been signed yet.
func (l *Log) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	var note string
	err := l.db.QueryRow(ctx, `SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&note)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: no checkpoint signed yet", ErrRange)
	}
	if err != nil {
		return nil, fmt.Errorf("audit: read checkpoint: %w", err)
	}
	return []byte(note), nil
}

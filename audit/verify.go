package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/madoguchi/madoguchi/store"
)

// EntryError names the first entry at which stored log data disagrees with
// the recomputed tree. It wraps ErrTampered.
type EntryError struct {
	Index  uint64
	Reason string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("audit: entry %d: %s", e.Index, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *EntryError) Unwrap() error { return ErrTampered }

// VerifyReport summarises a successful full verification.
type VerifyReport struct {
	Size        uint64     // entries verified
	Root        [32]byte   // recomputed root of the whole tree
	Checkpoints int        // stored checkpoints verified
	Latest      Checkpoint // the largest verified checkpoint (zero if none)
}

// verifyBatch is how many entries the verifier reads per query.
const verifyBatch = 1024

// VerifyStore recomputes the whole tree from the stored entries of db and
// checks, in one pass and O(log n) memory:
//   - entries are numbered 0..size-1 with no gap, each leaf is a canonical
//     Entry encoding, its stored leaf hash and query columns match it;
//   - every stored subtree hash equals the recomputed one, and no other
//     hash row exists;
//   - every stored checkpoint is signed by verifierKey, names this log's
//     origin, and commits to the recomputed root at its size;
//   - every externally kept checkpoint in trusted (signed notes the caller
//     saw earlier, e.g. published or witnessed) verifies likewise, and none
//     is larger than the stored tree (ErrRollback).
//
// The first disagreement is returned: an *EntryError naming the first bad
// index where one can be named, otherwise an error wrapping ErrTampered,
// ErrRollback or ErrCheckpoint. Entries appended after the latest checkpoint
// are only as trustworthy as the database; checkpoint often and keep copies
// of checkpoints outside the database.
func VerifyStore(ctx context.Context, db *store.DB, verifierKey string, trusted ...[]byte) (VerifyReport, error) {
	var rep VerifyReport
	var head int64
	if err := db.QueryRow(ctx, `SELECT size FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		return rep, fmt.Errorf("audit: read head: %w", err)
	}
	size := uint64(head)

	// Checkpoints to check, by size: stored ones and trusted ones.
	type cpCheck struct {
		what string
		cp   Checkpoint
	}
	bySize := map[uint64][]cpCheck{}
	add := func(what string, signed []byte) error {
		cp, err := VerifyCheckpoint(signed, verifierKey)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if cp.Size > size {
			return fmt.Errorf("%w: %s is for size %d but the log has %d entries", ErrRollback, what, cp.Size, size)
		}
		bySize[cp.Size] = append(bySize[cp.Size], cpCheck{what, cp})
		if cp.Size >= rep.Latest.Size {
			rep.Latest = cp
		}
		return nil
	}
	rows, err := db.Query(ctx, `SELECT size, root_hash, note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return rep, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	for rows.Next() {
		var s int64
		var root []byte
		var note string
		if err := rows.Scan(&s, &root, &note); err != nil {
			rows.Close()
			return rep, fmt.Errorf("audit: read checkpoints: %w", err)
		}
		what := fmt.Sprintf("stored checkpoint %d", s)
		if err := add(what, []byte(note)); err != nil {
			rows.Close()
			return rep, err
		}
		last := bySize[uint64(s)][len(bySize[uint64(s)])-1].cp
		if last.Size != uint64(s) || string(last.Root[:]) != string(root) {
			rows.Close()
			return rep, fmt.Errorf("%w: %s: columns differ from the signed note", ErrTampered, what)
		}
		rep.Checkpoints++
	}
	if err := rows.Close(); err != nil {
		return rep, err
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit: read checkpoints: %w", err)
	}
	for i, t := range trusted {
		if err := add(fmt.Sprintf("checkpoint #%d given", i+1), t); err != nil {
			return rep, err
		}
	}
	checkAt := func(n uint64, root [32]byte) error {
		for _, c := range bySize[n] {
			if c.cp.Root != root {
				return fmt.Errorf("%w: %s commits to a root the stored entries 0..%d do not produce", ErrTampered, c.what, int64(n)-1)
			}
		}
		return nil
	}

	// Entries beyond the head, or hash rows beyond what the head needs.
	var extra, hashRows int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_entries WHERE idx >= ? OR idx < 0`, head).Scan(&extra); err != nil {
		return rep, fmt.Errorf("audit: count entries: %w", err)
	}
	if extra > 0 {
		return rep, &EntryError{Index: size, Reason: fmt.Sprintf("%d entries beyond the head size %d (head rolled back?)", extra, size)}
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM audit_hashes`).Scan(&hashRows); err != nil {
		return rep, fmt.Errorf("audit: count hashes: %w", err)
	}

	var f frontier
	if err := checkAt(0, EmptyRoot); err != nil {
		return rep, err
	}
	for lo := int64(0); lo < head; lo += verifyBatch {
		hi := min(lo+verifyBatch, head)
		ents, err := readEntries(ctx, db, lo, hi)
		if err != nil {
			return rep, err
		}
		hashes, err := readHashRange(ctx, db, tlog.StoredHashIndex(0, lo), tlog.StoredHashCount(hi))
		if err != nil {
			return rep, err
		}
		next := lo
		for _, e := range ents {
			if e.idx != next {
				return rep, &EntryError{Index: uint64(next), Reason: "missing (entries are not numbered consecutively)"}
			}
			if err := e.check(); err != nil {
				return rep, &EntryError{Index: uint64(e.idx), Reason: err.Error()}
			}
			base := tlog.StoredHashIndex(0, e.idx)
			for i, h := range f.push(LeafHash(e.leaf)) {
				got, ok := hashes[base+int64(i)]
				if !ok {
					return rep, &EntryError{Index: uint64(e.idx), Reason: fmt.Sprintf("stored tree hash at level %d missing", i)}
				}
				if got != h {
					return rep, &EntryError{Index: uint64(e.idx), Reason: fmt.Sprintf("stored tree hash at level %d does not match the entries", i)}
				}
			}
			next++
			if err := checkAt(uint64(next), f.root()); err != nil {
				return rep, err
			}
		}
		if next != hi {
			return rep, &EntryError{Index: uint64(next), Reason: "missing (entries are not numbered consecutively)"}
		}
	}
	if want := tlog.StoredHashCount(head); hashRows != want {
		return rep, fmt.Errorf("%w: %d stored tree hashes, a tree of %d entries has %d", ErrTampered, hashRows, size, want)
	}
	rep.Size = size
	rep.Root = f.root()
	return rep, nil
}

// frontier is the list of complete-subtree roots of the tree so far, largest
// first: what RFC 6962 hashing needs to extend a tree and compute its root.
type frontier struct {
	levels []int
	hashes [][32]byte
}

// push adds a leaf hash and returns the hashes it completes, level 0 first:
// exactly the hashes tlog.StoredHashes stores for the new leaf.
func (f *frontier) push(h [32]byte) [][32]byte {
	out := [][32]byte{h}
	f.levels = append(f.levels, 0)
	f.hashes = append(f.hashes, h)
	for n := len(f.levels); n >= 2 && f.levels[n-1] == f.levels[n-2]; n = len(f.levels) {
		node := tlog.NodeHash(f.hashes[n-2], f.hashes[n-1])
		lv := f.levels[n-1] + 1
		f.levels = append(f.levels[:n-2], lv)
		f.hashes = append(f.hashes[:n-2], node)
		out = append(out, node)
	}
	return out
}

// root folds the frontier right to left into the RFC 6962 root.
func (f *frontier) root() [32]byte {
	if len(f.hashes) == 0 {
		return EmptyRoot
	}
	r := f.hashes[len(f.hashes)-1]
	for i := len(f.hashes) - 2; i >= 0; i-- {
		r = tlog.NodeHash(f.hashes[i], r)
	}
	return r
}

type storedEntry struct {
	idx              int64
	leaf, leafHash   []byte
	timeUS           int64
	tenant, act, obj string
}

// check verifies the row is self-consistent: canonical leaf, leaf hash and
// query columns matching the leaf.
func (e storedEntry) check() error {
	ent, err := ParseLeaf(e.leaf)
	if err != nil {
		return fmt.Errorf("stored entry is not a valid canonical leaf: %w", err)
	}
	if h := LeafHash(e.leaf); string(h[:]) != string(e.leafHash) {
		return errors.New("stored leaf hash does not match the entry")
	}
	if store.Micros(ent.Time) != e.timeUS || ent.TenantID != e.tenant || ent.Action != e.act || ent.Object != e.obj {
		return errors.New("query columns differ from the entry")
	}
	return nil
}

func readEntries(ctx context.Context, db *store.DB, lo, hi int64) ([]storedEntry, error) {
	rows, err := db.Query(ctx, `SELECT idx, leaf, leaf_hash, time_us, tenant_id, action, object FROM audit_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("audit: read entries: %w", err)
	}
	defer rows.Close()
	var out []storedEntry
	for rows.Next() {
		var e storedEntry
		if err := rows.Scan(&e.idx, &e.leaf, &e.leafHash, &e.timeUS, &e.tenant, &e.act, &e.obj); err != nil {
			return nil, fmt.Errorf("audit: read entries: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read entries: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].idx < out[j].idx })
	return out, nil
}

func readHashRange(ctx context.Context, db *store.DB, lo, hi int64) (map[int64][32]byte, error) {
	rows, err := db.Query(ctx, `SELECT id, hash FROM audit_hashes WHERE id >= ? AND id < ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("audit: read hashes: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][32]byte, hi-lo)
	for rows.Next() {
		var id int64
		var h []byte
		if err := rows.Scan(&id, &h); err != nil {
			return nil, fmt.Errorf("audit: read hashes: %w", err)
		}
		if len(h) != 32 {
			level, n := tlog.SplitStoredHashIndex(id)
			return nil, &EntryError{Index: uint64(n << level), Reason: fmt.Sprintf("stored tree hash at level %d has %d bytes", level, len(h))}
		}
		out[id] = [32]byte(h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: read hashes: %w", err)
	}
	return out, nil
}

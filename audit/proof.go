package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/madoguchi/madoguchi/store"
)

// ErrProof reports an inclusion or consistency proof that does not verify.
var ErrProof = errors.New("audit: proof does not verify")

// MaxProofHashes bounds the number of hashes in a proof accepted from
// outside; a tree of 2^63 leaves needs at most 2*63.
const MaxProofHashes = 128

// EmptyRoot is the RFC 6962 root of the empty tree, SHA-256 of nothing.
var EmptyRoot = [32]byte(sha256.New().Sum(nil))

// LeafHash returns the RFC 6962 leaf hash SHA-256(0x00 || leaf).
func LeafHash(leaf []byte) [32]byte { return tlog.RecordHash(leaf) }

// VerifyInclusion checks that proof shows the leaf with hash leafHash at
// index in the tree of the given size with the given root (RFC 9162
// section 2.1.3.2). It returns ErrProof on any mismatch.
func VerifyInclusion(leafHash [32]byte, index, size uint64, proof [][]byte, root [32]byte) error {
	p, err := toHashes(proof)
	if err != nil {
		return err
	}
	if size > math.MaxInt64 || index >= size {
		return fmt.Errorf("%w: index %d not in a tree of size %d", ErrProof, index, size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(p), int64(size), root, int64(index), leafHash); err != nil {
		return fmt.Errorf("%w: inclusion of index %d in size %d", ErrProof, index, size)
	}
	return nil
}

// VerifyConsistency checks that proof shows the tree of size oldSize with
// root oldRoot is a prefix of the tree of size newSize with root newRoot
// (RFC 9162 section 2.1.4.2). Every tree extends the empty tree: for
// oldSize 0 the proof must be empty and oldRoot must be EmptyRoot. Equal
// sizes need an empty proof and equal roots.
func VerifyConsistency(oldSize, newSize uint64, oldRoot, newRoot [32]byte, proof [][]byte) error {
	p, err := toHashes(proof)
	if err != nil {
		return err
	}
	switch {
	case newSize > math.MaxInt64 || oldSize > newSize:
		return fmt.Errorf("%w: size %d cannot extend size %d", ErrProof, newSize, oldSize)
	case oldSize == 0:
		if len(p) != 0 || oldRoot != EmptyRoot {
			return fmt.Errorf("%w: consistency with the empty tree", ErrProof)
		}
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(p), int64(newSize), newRoot, int64(oldSize), oldRoot); err != nil {
		return fmt.Errorf("%w: consistency of size %d with size %d", ErrProof, oldSize, newSize)
	}
	return nil
}

func toHashes(proof [][]byte) ([]tlog.Hash, error) {
	if len(proof) > MaxProofHashes {
		return nil, fmt.Errorf("%w: %d hashes, limit %d", ErrProof, len(proof), MaxProofHashes)
	}
	out := make([]tlog.Hash, len(proof))
	for i, h := range proof {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("%w: hash %d has %d bytes", ErrProof, i, len(h))
		}
		out[i] = tlog.Hash(h)
	}
	return out, nil
}

func fromHashes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// Size returns the number of entries in the log.
func (l *Log) Size(ctx context.Context) (uint64, error) {
	var n int64
	if err := l.db.QueryRow(ctx, `SELECT size FROM audit_head WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: read head: %w", err)
	}
	return uint64(n), nil
}

// InclusionProof returns the RFC 9162 inclusion proof (audit path) of the
// entry at index in the tree of the given size. It returns ErrRange unless
// index < size <= Size.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	head, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if index >= size || size > head {
		return nil, fmt.Errorf("%w: index %d, size %d, log size %d", ErrRange, index, size, head)
	}
	p, err := tlog.ProveRecord(int64(size), int64(index), hashReader(ctx, dbQ{l.db}))
	if err != nil {
		return nil, fmt.Errorf("audit: inclusion proof: %w", err)
	}
	return fromHashes(p), nil
}

// ConsistencyProof returns the RFC 9162 consistency proof that the tree of
// size oldSize is a prefix of the tree of size newSize. It returns ErrRange
// unless oldSize <= newSize <= Size. For oldSize 0 or oldSize == newSize
// the proof is empty.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize uint64) ([][]byte, error) {
	head, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if oldSize > newSize || newSize > head {
		return nil, fmt.Errorf("%w: old size %d, new size %d, log size %d", ErrRange, oldSize, newSize, head)
	}
	if oldSize == 0 || oldSize == newSize {
		return [][]byte{}, nil
	}
	p, err := tlog.ProveTree(int64(newSize), int64(oldSize), hashReader(ctx, dbQ{l.db}))
	if err != nil {
		return nil, fmt.Errorf("audit: consistency proof: %w", err)
	}
	return fromHashes(p), nil
}

// Root returns the root hash of the tree of the given size, computed from
// the stored subtree hashes in O(log size).
func (l *Log) Root(ctx context.Context, size uint64) ([32]byte, error) {
	head, err := l.Size(ctx)
	if err != nil {
		return [32]byte{}, err
	}
	if size > head {
		return [32]byte{}, fmt.Errorf("%w: size %d, log size %d", ErrRange, size, head)
	}
	return treeHash(ctx, dbQ{l.db}, size)
}

func treeHash(ctx context.Context, q querier, size uint64) ([32]byte, error) {
	h, err := tlog.TreeHash(int64(size), hashReader(ctx, q))
	if err != nil {
		return [32]byte{}, fmt.Errorf("audit: tree hash: %w", err)
	}
	return h, nil
}

// Entry returns the tenant and the canonical leaf bytes of the entry at
// index (ParseLeaf decodes them). It returns ErrRange if there is no such
// entry, and ErrTampered if the stored leaf no longer matches its stored
// hash.
func (l *Log) Entry(ctx context.Context, index uint64) (tenantID string, leaf []byte, err error) {
	if index > math.MaxInt64 {
		return "", nil, fmt.Errorf("%w: index %d", ErrRange, index)
	}
	var lh []byte
	err = l.db.QueryRow(ctx, `SELECT tenant_id, leaf, leaf_hash FROM audit_entries WHERE idx = ?`, int64(index)).Scan(&tenantID, &leaf, &lh)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, fmt.Errorf("%w: no entry %d", ErrRange, index)
	}
	if err != nil {
		return "", nil, fmt.Errorf("audit: read entry %d: %w", index, err)
	}
	if h := LeafHash(leaf); string(h[:]) != string(lh) {
		return "", nil, fmt.Errorf("%w: entry %d does not match its leaf hash", ErrTampered, index)
	}
	return tenantID, leaf, nil
}

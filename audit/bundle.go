package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// A proof bundle proves several entries against one signed checkpoint:
// what a portal download of a verification record carries, so that the
// entries of the record's trail can be checked offline with the log's
// verifier key (`madoguchi audit verify --proof FILE`).
//
//	{"format": "madoguchi.audit/proof-bundle@v1",
//	 "checkpoint": "<signed note, verbatim>",
//	 "entries": [{"index": N, "leaf": "<base64 canonical leaf>", "proof": ["<base64 hash>", …]}, …]}

// BundleFormat names the proof bundle format.
const BundleFormat = "madoguchi.audit/proof-bundle@v1"

// Limits of a proof bundle read from outside.
const (
	MaxBundleEntries = 1000
	MaxBundleLen     = 4 << 20
)

// ProofBundle is a set of inclusion proofs against one checkpoint.
type ProofBundle struct {
	Format     string        `json:"format"`
	Checkpoint string        `json:"checkpoint"`
	Entries    []BundleEntry `json:"entries"`
}

// BundleEntry is one entry with its inclusion proof.
type BundleEntry struct {
	Index uint64   `json:"index"`
	Leaf  []byte   `json:"leaf"`
	Proof [][]byte `json:"proof"`
}

// ProveObjects returns the entries recorded about any of objects (at most
// limit, oldest first) with their inclusion proofs against a checkpoint
// signed now, which covers every entry appended so far. The checkpoint is
// stored like those the server signs periodically.
func (l *Log) ProveObjects(ctx context.Context, objects []string, limit int) (ProofBundle, error) {
	return l.ProveSelection(ctx, Selection{Objects: objects}, limit)
}

// Selection names the entries of a proof bundle: those about any of
// Objects whose action is not in SkipActions, and the entries at Indexes
// (whatever their object or action).
type Selection struct {
	Objects     []string
	SkipActions []string
	Indexes     []uint64
}

// ProveSelection is ProveObjects for the entries sel names: a record's
// proof can leave out who looked at it (page views, earlier exports) and
// still carry its own export's entry, so it stays the size of the record's
// history however often it is read.
func (l *Log) ProveSelection(ctx context.Context, sel Selection, limit int) (ProofBundle, error) {
	if len(sel.Objects) == 0 || limit <= 0 || limit > MaxBundleEntries || len(sel.SkipActions) > 64 || len(sel.Indexes) > MaxBundleEntries {
		return ProofBundle{}, fmt.Errorf("%w: 1 or more objects and a limit of 1..%d", ErrRange, MaxBundleEntries)
	}
	signed, err := l.Checkpoint(ctx)
	if err != nil {
		return ProofBundle{}, err
	}
	cp, err := VerifyCheckpoint(signed, l.VerifierKey())
	if err != nil {
		return ProofBundle{}, err
	}
	list := func(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }
	where := `object IN ` + list(len(sel.Objects))
	args := make([]any, 0, len(sel.Objects)+len(sel.SkipActions)+len(sel.Indexes)+2)
	for _, o := range sel.Objects {
		args = append(args, o)
	}
	if len(sel.SkipActions) > 0 {
		where += ` AND action NOT IN ` + list(len(sel.SkipActions))
		for _, a := range sel.SkipActions {
			args = append(args, a)
		}
	}
	if len(sel.Indexes) > 0 {
		where = `(` + where + `) OR idx IN ` + list(len(sel.Indexes))
		for _, i := range sel.Indexes {
			args = append(args, int64(i))
		}
	}
	q := `SELECT idx, leaf FROM audit_entries WHERE (` + where + `) AND idx < ? ORDER BY idx LIMIT ?`
	args = append(args, int64(cp.Size), limit)
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return ProofBundle{}, fmt.Errorf("audit: read entries: %w", err)
	}
	b := ProofBundle{Format: BundleFormat, Checkpoint: string(signed), Entries: []BundleEntry{}}
	for rows.Next() {
		var (
			idx  int64
			leaf []byte
		)
		if err := rows.Scan(&idx, &leaf); err != nil {
			rows.Close()
			return ProofBundle{}, err
		}
		b.Entries = append(b.Entries, BundleEntry{Index: uint64(idx), Leaf: leaf})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return ProofBundle{}, err
	}
	// The proofs share most of their hashes (the entries of one object are
	// near each other, and every proof ends in the same upper levels): one
	// reader remembers what it read, so each hash is read once per bundle.
	hr := memoHashReader(hashReader(ctx, dbQ{l.db}))
	for i := range b.Entries {
		p, err := tlog.ProveRecord(int64(cp.Size), int64(b.Entries[i].Index), hr)
		if err != nil {
			return ProofBundle{}, fmt.Errorf("audit: inclusion proof: %w", err)
		}
		b.Entries[i].Proof = fromHashes(p)
	}
	return b, nil
}

// memoHashReader reads through r, once per hash.
func memoHashReader(r tlog.HashReader) tlog.HashReader {
	seen := map[int64]tlog.Hash{}
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		var missing []int64
		for _, x := range idx {
			if _, ok := seen[x]; !ok {
				missing = append(missing, x)
			}
		}
		if len(missing) > 0 {
			got, err := r.ReadHashes(missing)
			if err != nil {
				return nil, err
			}
			for i, x := range missing {
				seen[x] = got[i]
			}
		}
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = seen[x]
		}
		return out, nil
	})
}

// ParseProofBundle decodes a bundle strictly (size and entry limits,
// unknown fields refused). It checks the syntax only.
func ParseProofBundle(data []byte) (ProofBundle, error) {
	var b ProofBundle
	if len(data) > MaxBundleLen {
		return b, fmt.Errorf("%w: bundle is %d bytes, limit %d", ErrProof, len(data), MaxBundleLen)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		return ProofBundle{}, fmt.Errorf("%w: not a proof bundle", ErrProof)
	}
	if b.Format != BundleFormat {
		return ProofBundle{}, fmt.Errorf("%w: format is not %s", ErrProof, BundleFormat)
	}
	if len(b.Entries) == 0 || len(b.Entries) > MaxBundleEntries {
		return ProofBundle{}, fmt.Errorf("%w: 1..%d entries", ErrProof, MaxBundleEntries)
	}
	for _, e := range b.Entries {
		if len(e.Proof) > MaxProofHashes || len(e.Leaf) == 0 {
			return ProofBundle{}, fmt.Errorf("%w: entry %d: empty leaf or too long a proof", ErrProof, e.Index)
		}
	}
	return b, nil
}

// VerifyProofBundle checks a bundle end to end: the checkpoint is signed
// by verifierKey, and every entry is a valid leaf at its index in the
// checkpoint's tree. It returns the entries (in the bundle's order) and
// the checkpoint.
func VerifyProofBundle(b ProofBundle, verifierKey string) ([]Entry, Checkpoint, error) {
	cp, err := VerifyCheckpoint([]byte(b.Checkpoint), verifierKey)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	out := make([]Entry, 0, len(b.Entries))
	for _, be := range b.Entries {
		e, err := ParseLeaf(be.Leaf)
		if err != nil {
			return nil, cp, fmt.Errorf("entry %d: %w", be.Index, err)
		}
		if err := VerifyInclusion(LeafHash(be.Leaf), be.Index, cp.Size, be.Proof, cp.Root); err != nil {
			return nil, cp, fmt.Errorf("entry %d: %w", be.Index, err)
		}
		out = append(out, e)
	}
	return out, cp, nil
}

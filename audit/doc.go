// Package audit is Madoguchi's tamper-evident audit log: an append-only
// Merkle tree (RFC 6962 / RFC 9162 hashing: leaf = SHA-256(0x00 || data),
// node = SHA-256(0x01 || left || right)) stored in the record store, with
// Ed25519-signed checkpoints in the C2SP signed-note / tlog-checkpoint format,
// inclusion and consistency proofs, and an offline verifier.
//
// Invariants:
//   - Entries are append-only. Entry i is the leaf at index i; it is written
//     by Append in the caller's transaction, so a change and its entry commit
//     together or not at all. Appenders are serialised on the audit_head row
//     (SELECT ... FOR UPDATE on PostgreSQL; SQLite's write transaction).
//   - The stored leaf is the canonical encoding of the Entry (MarshalLeaf,
//     versioned, length-prefixed); ParseLeaf accepts nothing else.
//   - A checkpoint commits to size N and the root of the first N leaves. The
//     log never signs a checkpoint without first proving, from the stored
//     hashes, that the tree extends the latest stored checkpoint; it refuses
//     (ErrRollback, ErrTampered) otherwise.
//   - Entries carry no personal data: actors and objects are opaque ids and
//     Details hold only non-personal facts. Crypto-shredding a data subject
//     deletes keys, never a leaf, so it never breaks the chain. Callers must
//     not put names, document numbers, addresses, images or templates in any
//     field; Entry validation enforces sizes and character sets, not meaning.
//
// Storage (migration 0002): audit_entries (leaf, leaf hash and query columns
// copied from the leaf), audit_hashes (every complete-subtree hash, indexed
// as golang.org/x/mod/sumdb/tlog.StoredHashIndex, so roots and proofs read
// O(log n) rows), audit_head (the size) and audit_checkpoints. Migration 0029
// indexes entries by object trail key (TrailKey) and by action.
//
// Server wiring:
//
//	signer, created, err := audit.LoadOrCreateDevSigner(<data>/keys/audit-signer.key, origin) // development
//	signer, err := audit.LoadSigner(path)  // production: a missing file is an error (fs.ErrNotExist)
//	log, err := audit.New(db, signer)
//	idx, err := log.Append(ctx, tx, audit.Entry{...})   // inside the change's store.Tx
//	note, err := log.Checkpoint(ctx)                    // latest signed checkpoint; call periodically
//	proof, err := log.InclusionProof(ctx, index, size)  // ErrRange outside the tree
//	proof, err := log.ConsistencyProof(ctx, old, new)
//	tenant, leaf, err := log.Entry(ctx, index)
//	recs, err := log.Entries(ctx, audit.Query{TenantID: t, Trail: id, Limit: 50}) // newest first (query.go)
//
// Key files hold a note private key ("PRIVATE+KEY+<name>+<hash>+<key>",
// Ed25519) and must be mode 0600 or stricter; the key name is the checkpoint
// origin. Verifiers use VerifierKey ("<name>+<hash>+<key>").
//
// Offline checks: VerifyStore recomputes the whole tree and names the first
// bad index (*EntryError); VerifyCheckpoint, VerifyInclusion,
// VerifyConsistency and VerifyInclusionProof check what a relying party is
// given. Proof files: inclusion proofs are C2SP tlog-proof@v1 with the leaf
// as extra data; consistency proofs use the madoguchi.audit/consistency-proof@v1
// text format (see prooffile.go).
//
// Limits of the guarantee: someone able to rewrite the database can rewrite
// entries appended after the latest checkpoint undetectably, and can delete
// stored checkpoints; keep copies of checkpoints outside the database (or
// have witnesses cosign them) and pass them to VerifyStore as trusted.
package audit

// Package audit is Madoguchi's tamper-evident audit log: an append-only
// Merkle tree (RFC 6962 / RFC 9162 hashing: leaf = SHA-256(0x00 || data),
// node = SHA-256(0x01 || left || right)) stored in the record store, with
// Ed25519-signed checkpoints in the C2SP signed-note / tlog-checkpoint format
// and inclusion and consistency proofs.
//
// Invariants:
//   - Entries are append-only. Entry i is the leaf at index i; it is written
//     by Append in the caller's transaction, so a change and its entry commit
//     together or not at all.
//   - The stored leaf is the canonical encoding of the Entry (MarshalLeaf);
//     ParseLeaf accepts nothing else.
//   - A checkpoint commits to size N and the root of the first N leaves; a
//     later checkpoint is always consistent with an earlier one.
//   - Entries carry no personal data (opaque ids only), so crypto-shredding a
//     data subject never changes a leaf and never breaks the chain.
package audit

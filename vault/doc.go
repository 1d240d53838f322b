// Package vault encrypts personal data at rest with envelope encryption and
// makes it erasable by crypto-shredding.
//
// Every data subject (a person, named by an opaque SubjectRef{Tenant,
// Subject}) has its own data key (DEK, AES-256-GCM), created on first use
// inside the caller's transaction and stored in vault_deks only wrapped by a
// key-encryption key (KEK) version from a Keyring: a local key file
// (*KeyFile) or an external KMS in the OpenBao/Vault transit API shape
// (*Transit). Shred deletes the subject's DEK rows and marks the subject
// shredded; every record and blob ever sealed for the subject is then
// unreadable (ErrShredded), and the subject never gets a new key.
//
// Invariants:
//   - Plaintext never reaches the store or the blob store; a sealed record is
//     "MDV" 0x01 || DEK version (4) || nonce (12) || ciphertext || tag (16),
//     36 bytes of overhead.
//   - The GCM additional data binds the header, the tenant, the subject and
//     the caller's aad (the record's identity; build it with AAD(kind, id)):
//     a record copied to another row, subject or tenant does not open
//     (ErrDecrypt). See gcmAAD for the exact construction.
//   - A wrapped DEK carries SHA-256(tenant, subject, DEK version) inside the
//     keyring's authenticated ciphertext, so a wrapped key moved to another
//     subject's row is refused (ErrKeyring).
//   - Creating a DEK and shredding serialise on the subject's row in
//     vault_subjects; a shred that commits is never followed by a new key.
//   - Open reads the DEK row every time; the bounded, short-lived cache of
//     unwrapped DEKs only saves keyring calls (WithDEKCache), so a shred on
//     one instance takes effect on all at once. Evicted keys are zeroised
//     (best effort; see cache.go).
//   - Every DEK creation, shred, KEK rotation, rewrap batch and retirement
//     appends an audit entry, in the same transaction where there is one.
//     Reads are audited by the caller, which knows who is reading.
//
// Use:
//
//	v, err := vault.New(keyring, db, auditLog, vault.WithBlobs(blobStore))
//	err = db.InTx(ctx, func(tx *store.Tx) error {
//		ct, err := v.Seal(ctx, tx, subj, vault.AAD("evidence", recID), plaintext)
//		... INSERT ct into the record's row in the same tx ...
//	})
//	pt, err := v.Open(ctx, db, subj, vault.AAD("evidence", recID), ct)
//
// Blobs: ref, err := v.SealBlob(ctx, subj, aad, image) seals and stores the
// ciphertext before the record exists; the caller then calls
// blobStore.Attach(ctx, tx, ref, tenant, recordID) in the record's
// transaction. OpenBlob reads, verifies the content hash and opens.
//
// Key rotation without downtime: RotateKEK makes a new KEK version current
// for new wraps while old versions still unwrap; Rewrap moves every DEK to
// the current version in resumable, idempotent batches; RetireKEK then
// retires older versions and is refused (ErrKEKInUse) while any DEK still
// uses one. RotateKEK is the operation the staff-approval (dual control)
// executor calls; it does not check approvals itself.
//
// Startup: in development, OpenOrCreateDevKeyFile(<data>/keys/kek.json)
// creates a 0600 key file on first start (warn that it is a development
// key); in production use OpenKeyFile, which fails on a missing file
// (fs.ErrNotExist) and on group/world permissions (ErrKeyFileMode), or
// NewTransit followed by a KEKStatus call to fail fast.
package vault

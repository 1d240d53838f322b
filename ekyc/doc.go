// Package ekyc is Madoguchi's identity-verification core for Japanese
// specified business operators (犯罪収益移転防止法): sessions for the legal
// methods ヘ (IC chip data + live face), ホ (document images + live face)
// and ワ (a JPKI signature by the My Number card; jpki.go), capture binding, active liveness, decisions under a per-tenant policy,
// staff review (目視審査), signed results in the OpenID Identity Assurance
// verified_claims shape, webhooks, verification records (確認記録) and their
// retention.
//
// Invariants:
//   - Methods are stored by stable codes (CodeHe, CodeHo, CodeWa) with their
//     citation and effective dates; the 2027-04-01 amendment renumbers the
//     letters and abolishes ホ in principle (Policy.Offers refuses it then
//     unless the tenant opted in to the exceptions).
//   - A tenant without a stored, valid Policy cannot open sessions
//     (ErrNoPolicy); nothing is ever approved by a default.
//   - Sessions follow one state machine (see State); every transition is a
//     compare-and-set on (state, version) committed with its audit entry in
//     the same transaction. Another tenant's session is ErrNotFound.
//   - The capture token is 256-bit random, stored only as SHA-256, expires
//     and is redeemed once (created -> capturing); the page then holds a
//     capture key (also stored hashed) that MACs every frame (FrameMAC)
//     together with a single-use, server-issued frame nonce. Frames out of
//     sequence, MAC'd for another session, repeated (same SHA-256) or not
//     from the camera are refused and the refusal is audited.
//   - Images, chip files, the chip photo, chip results, reviewer-entered
//     claims, records and queued webhook payloads are sealed under the
//     session's data subject (vault); blobs are attached in the record's
//     transaction. The My Number is never accepted: its chip files are
//     refused before anything is stored, and a My Number card's number is
//     never recorded.
//   - Every decision records the face model, scores, thresholds (with the
//     stated FMR) and the policy version; still images cannot pass the
//     active challenge (ReasonStaticFrames). A face match never
//     auto-approves when the engine's calibration FMR is weaker than the
//     policy's; an undecodable image is a reason, never an error; ホ's
//     document photos are checked by document/imaging (images.go) and every
//     ホ approval is a person's.
//   - Chip file names are normalised once, by document/chip: the files
//     holding the My Number are refused under any spelling and any claimed
//     kind, and a name outside the kind is refused, before anything is
//     stored (chip.go).
//   - A verified chip leaves keyed digests (HMAC under the chip-reuse key)
//     of its signed data; the same chip in another session is
//     ReasonChipReused, another tenant's never named (chipreuse.go). A
//     registered device's signature over (session, nonce, read) is checked
//     when sent and required where the policy says so (devicekey.go).
//   - Uploaded images are budgeted from their headers (decoded size) and
//     refused if cut short; decisions decode inside a service-wide budget
//     (imagebudget.go). The capture page learns the state and outcome only
//     (capturestate.go).
//   - ワ: the challenge binds session, nonce, tenant, purpose and time; its
//     nonce is spent once across instances (JPKINonces); no revocation
//     provider means ワ is not offered (ErrJPKIDisabled), never "not revoked";
//     the record keeps the signed bytes, chain and revocation evidence.
//   - A final decision, its verification record and its queued webhook
//     commit in one transaction; records are written once; the webhook
//     event id is stable per session, so receivers can deduplicate.
//   - Results are compact JWS (ES256) verifiable with the published JWK set
//     (VerifyResult); the signing key file must be 0600.
//   - Retention: a decided session's subject is crypto-shredded
//     RetentionYears after the contract ended (ContractEnded) and after the
//     last transaction record (RecordTransaction, 取引記録) ran out; a session
//     that expired or was cancelled is shredded AbandonedRetention after.
//   - Inside a transaction every read goes through the transaction (a
//     second pool connection per transaction deadlocks under load).
//
// Use (server start-up):
//
//	signer, created, err := ekyc.LoadOrCreateDevSigner(dataDir + "/keys/ekyc-result.pem") // development
//	signer, err := ekyc.LoadSigner(path)                                                  // production: missing is fatal
//	svc, err := ekyc.New(ekyc.Config{DB: db, Audit: log, Vault: v, Blobs: blobs,
//		Face: engineAdapter, Chips: chipVerifier, Signer: signer, PublicURL: url})
//	w := svc.StartWorker(ctx, 5*time.Second) // webhooks, expiry, pending decisions, retention
//	defer w.Stop()
//
// The HTTP API is in package web (web/ekyc.go); `madoguchi ekyc policy`
// stores tenant policies.
//
// Before any session, store each tenant's policy with SetPolicy
// (ExamplePolicy is a starting point, not a fallback).
package ekyc

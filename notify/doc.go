// Package notify delivers every domain's webhooks: an outbox in the
// record store, signed HTTP requests (RFC 9421 HTTP Message Signatures over
// an RFC 9530 Content-Digest), retries with exponential backoff and jitter,
// a dead-letter state, and staff replay of a dead letter.
//
// A domain enqueues an Event inside its own transaction (Enqueue with the
// caller's store.Tx): the event commits with the change it reports, or not
// at all. A Worker (Start) on each server instance delivers due events.
//
// Invariants:
//   - An event's body is sealed by the vault under the event's data subject
//     (AAD: the event id); it is in plaintext only while being sent.
//     Shredding the subject makes the event undeliverable: it goes dead
//     with the reason "shredded".
//   - An event may carry the receiver's own bearer credential (Event.Bearer:
//     a CIBA ping's client_notification_token, "oauth.ciba_ping"). It is
//     sealed apart from the body (AAD "notify.bearer" + event id), sent
//     only as "Authorization: Bearer …", and never returned (Delivery),
//     logged or audited.
//   - Event ids are stable (the caller may choose them, e.g. one per
//     session result); the id is sent as Webhook-Id and is the receiver's
//     de-duplication key: delivery is at least once.
//   - Several instances share one database: a due event is claimed (a lease
//     of Config.Lease, taken with FOR UPDATE SKIP LOCKED on PostgreSQL and
//     under SQLite's single writer) by one instance at a time, and its
//     outcome is written only by the claim holder.
//   - Attempt n (from 1) that fails is retried after
//     min(BaseDelay·2^(n-1), MaxDelay) plus up to 20 % jitter; after
//     MaxAttempts the event is dead. Replay (staff) makes a dead event due
//     again with a fresh attempt count.
//   - Every request is signed (Signer): covered components "@method",
//     "@target-uri", "content-digest", "content-type", "webhook-id";
//     parameters created, keyid, alg="ed25519", tag="madoguchi-webhook".
//     The verification keys are published as a JWK Set (Signer.JWKS).
//   - Outside development, requests go only to https URLs whose resolved
//     address is public (checked at dial time, so DNS rebinding cannot reach
//     inside); redirects are not followed; responses are read up to 4 KiB.
//   - Queueing, delivery, death and replay are audited with the event's
//     kind as the action prefix ("ekyc.webhook.queue", ".delivered",
//     ".dead", ".replay"), in the transaction that changes the event.
package notify

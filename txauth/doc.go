// Package txauth is Madoguchi's transaction authentication: a relying
// service asks it to have a verified customer (package ekyc's Customer)
// confirm a transaction; the customer confirms on Madoguchi's page, which
// shows the transaction as the server holds it; the signed result names the
// transaction's canonical hash.
//
// The flow:
//
//	c, err := svc.Create(ctx, actor, tenant, txauth.Request{Customer: id, Transaction: t, ...})
//	// c.Confirmation.Required: the factors the tenant's Policy requires;
//	// c.ConfirmURL: where the customer confirms (the token is in the fragment).
//	view, err := svc.Page(ctx, token)                      // the page: transaction + image challenge
//	view, err  = svc.Answer(ctx, token, challengeID, picks) // *AnswerError when wrong
//	jws, err  := svc.Result(ctx, actor, tenant, c.Confirmation.ID) // also sent by webhook
//
// Invariants:
//   - A tenant without a stored Policy cannot ask for confirmations
//     (ErrNoPolicy); a policy may require only factors this build verifies
//     (Implemented); nothing is confirmed by a default.
//   - Transactions are validated strictly and bound by SHA-256 over their
//     RFC 8785 canonical JSON (Transaction.Canonical); the sealed copy is
//     checked against that hash whenever it is opened. Results are ES256
//     JWS (typ ResultType) with the key set at /.well-known/jwks.json.
//   - Everything that belongs to a customer (card layouts, transactions,
//     challenge candidates, call-back notes) is sealed under the customer's
//     data subject; shredding the subject makes all of it unreadable
//     (ErrShredded). The payees, devices and networks a customer confirmed
//     before are kept only as keyed digests (Config.Digests, HMAC-SHA256
//     under the server's reuse secret); without a key New fails.
//   - Image cards: a random arrangement of the 50 Pictures, sealed; printed
//     only before mailing; activated by one correct answer after delivery,
//     which refuses the legacy method for that customer; locked after the
//     policy's MaxFailures consecutive failures, unlocked only by two staff
//     members after an approved re-verification (RequestUnlock,
//     ApproveUnlock). Challenge rules are in challenge.go. Face
//     re-authentication locks the same way after the policy's
//     Face.MaxFailures consecutive refusals (RequestFaceUnlock); the lock
//     is on the customer's account, so re-enrolling does not lift it. An
//     unlock request lifts only the lock it was filed for.
//   - Every state change is a compare-and-set committed with its audit
//     entry and its webhooks (Notifier, outbox semantics); every challenge,
//     answer, failure, lock and staff action is in the audit log; refusals
//     are audited as denied.
//   - Another tenant's objects are ErrNotFound, exactly like missing ones.
//
// The image card is a possession factor, not transaction signing: it does
// not bind the amount or payee, and a real-time relay passes it. See
// docs/txauth.md for the odds, the relay attack and what it stops.
//
// For an authorization server (package oauth): Create (a confirmation of a
// transfer named in RAR authorization_details, built as a Transaction),
// Created.ConfirmURL (where the customer confirms), Get / Result (state and
// signed result), Cancel; CreateSignIn (kind sign_in: the customer signs
// in, bound to a hash of the interaction; the policy's SignIn factors) and
// AccountLocked. Package signin is that adapter. See docs/txauth.md, "Go
// API".
package txauth

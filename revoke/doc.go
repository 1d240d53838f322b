// Package revoke lets a server keep verified credentials in memory — no
// store read per request — while every revocation still takes effect on
// every instance sharing the store within a stated bound (one second by
// default).
//
// # Design
//
// The store is the only source of truth. Every change that takes access
// away bumps a one-row revocation epoch in the same transaction
// (migration 0035): database triggers do it for what revokes access today
// (an unexpired access token deleted or changed; an API client or tenant
// disabled or deleted), whoever writes it — the API, the CLI, an operator's
// SQL — and Publish does it for any other domain. On PostgreSQL the same
// transaction queues a notification (LISTEN/NOTIFY) on a channel named for
// the store's schema, carrying the new epoch and the revoked tags ("client:…",
// "token:…", "*" for everything); PostgreSQL delivers it at commit, in epoch
// order, and never for a rolled-back transaction.
//
// Each instance runs one Watcher, which
//   - listens (PostgreSQL): a notification whose epoch follows the last one
//     seen drops the cached entries carrying its tags, on every Cache of the
//     instance; a gap in the epochs (a lost notification) drops everything;
//   - polls the epoch every Poll (default Bound/4) on both dialects: an epoch
//     ahead of what the notifications brought drops everything. This is the
//     fallback when the notification connection drops (it is re-opened with
//     back-off) and the whole mechanism on SQLite, where it also sees what a
//     CLI process wrote to the same file.
//
// A cached entry is served only while the last successful poll began less
// than Bound ago; past that (the store unreachable, the watcher stopped or
// never started) every Get goes to the store, so the cache fails closed and
// never extends access beyond the bound. A fill that raced with an
// invalidation (the loader read the store before the revocation committed
// and returns after it was applied) is discarded: fills are checked against
// an invalidation generation taken before the load. An entry is never served
// at or after its expiry, and a Cache holds at most its MaxEntries (expired
// entries are dropped first, then arbitrary ones).
//
// Invariants:
//   - Revocation → refusal on every instance within Bound, whatever happens
//     to the notification connection (worst case Bound, typically a few
//     milliseconds on PostgreSQL and up to Poll on SQLite).
//   - A Cache never serves an entry at or after its Expires, nor while its
//     Watcher is not fresh; loader errors are never cached.
//   - Memory is bounded by MaxEntries per Cache.
//
// # Use
//
//	w, err := revoke.NewWatcher(db, revoke.Config{Logger: log}) // Bound 1 s
//	go w.Run(ctx)                                              // owner: the server; stops with ctx
//	tokens := revoke.NewCache[[32]byte, principal](w, 10000)
//
//	p, err := tokens.Get(ctx, sha256(bearer), func(ctx context.Context) (principal, revoke.Entry, error) {
//		row, err := readFromStore(ctx, hash)           // the one store read, on a miss
//		return row, revoke.Entry{Expires: row.expires, Tags: []string{"token:" + hex, "client:" + row.client}}, err
//	})
//
//	// revoking, in the revoking transaction (or a trigger calling
//	// madoguchi_revoke(tags) on PostgreSQL / bumping revocation_epoch on SQLite):
//	err = revoke.Publish(ctx, tx, "grant:"+id)
//
// Tags are short printable strings without spaces, by convention
// "<kind>:<id>"; the kinds used by triggers are token (hex SHA-256 of an
// access token), client and tenant. The caller still checks what is
// per-request (expiry against its own clock, certificate or DPoP binding):
// the cache holds what the store said, not a decision.
package revoke

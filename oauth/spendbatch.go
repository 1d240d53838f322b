package oauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// spendBatcher spends DPoP proofs in the shared replay cache on PostgreSQL
// in groups: the requests that arrive while one insert is in flight go
// into the next insert together (one statement, one round trip, one
// commit), as a database's group commit does. Nothing waits to fill a
// group: a request that finds no insert in flight runs its own at once.
// No goroutine is kept; the first waiting request leads the next insert
// and hands the lead on when it is done, so every request returns as soon
// as its own group is decided.
//
// Within a group the first request for a key may spend it; another for
// the same key is a replay, as it would be one statement later.
type spendBatcher struct {
	db *store.DB

	mu      sync.Mutex
	busy    bool // an insert is in flight
	waiting []*spendWait
}

const (
	spendGroupMax = 256             // requests per insert at most
	spendTimeout  = 5 * time.Second // one insert's limit
)

type spendWait struct {
	hash [32]byte
	exp  int64 // store.Micros
	// done receives the outcome; lead tells a waiting request to run the
	// next insert.
	done chan error
	lead chan struct{}
}

// spendGroupInsert stores a group: arrays of hashes and expiry times,
// RETURNING the hashes this statement stored (the others were there).
//
// Its transaction commits without waiting for the WAL to reach the disk
// (synchronous_commit off for this statement's own transaction only; the
// session keeps its setting), on the path of every DPoP request:
// BenchmarkSharedSpend measures it against a durable insert. What it gives
// up: a PostgreSQL crash can lose the entries of the last moments before
// it (at most three wal_writer_delay, 0.6 s by default). A proof spent
// then stays refused by the instance that accepted it (its memory outlives
// the database's crash); another instance could accept it once more within
// the proof's own minute, and only if someone holds it. Client assertions
// and request objects are spent durably (spendShared).
const spendGroupInsert = `WITH c AS (SELECT set_config('synchronous_commit', 'off', true))
INSERT INTO oauth_jtis (scope, jti_hash, expires_at)
SELECT 'dpop', t.h, t.e FROM c, unnest(?::bytea[], ?::bigint[]) AS t(h, e)
ON CONFLICT (scope, jti_hash) DO NOTHING RETURNING jti_hash`

func newSpendBatcher(db *store.DB) *spendBatcher {
	return &spendBatcher{db: db}
}

// spend records hash (a DPoP proof's key and jti) in the shared replay
// cache until exp: ErrReplay if any instance recorded it before, or an
// earlier request of the same group holds it.
func (b *spendBatcher) spend(ctx context.Context, hash [32]byte, exp time.Time) error {
	w := &spendWait{hash: hash, exp: store.Micros(exp), done: make(chan error, 1), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.waiting = append(b.waiting, w)
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		b.run()
		return <-w.done
	}
	b.mu.Unlock()
	for {
		select {
		case err := <-w.done:
			return err
		case <-w.lead:
			b.run()
		case <-ctx.Done():
			if b.leave(w) {
				b.run() // the lead came with the give-up: pass it on
			}
			return ctx.Err()
		}
	}
}

// leave takes w out of the waiting requests when its caller gives up. It
// reports whether w was handed the lead meanwhile (then w must still run
// the next insert, or the requests behind it would wait for ever). A
// request already in a group is answered by its leader; nobody awaits it.
func (b *spendBatcher) leave(w *spendWait) (lead bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.lead:
		return true
	default:
	}
	for i, v := range b.waiting {
		if v == w {
			b.waiting = append(b.waiting[:i:i], b.waiting[i+1:]...)
			break
		}
	}
	return false
}

// run takes the waiting requests (at most max), inserts them, answers
// each, and hands the lead to the next waiting request or ends the
// in-flight state. Called by the request that leads.
func (b *spendBatcher) run() {
	b.mu.Lock()
	n := min(len(b.waiting), spendGroupMax)
	group := b.waiting[:n:n]
	b.waiting = b.waiting[n:]
	b.mu.Unlock()

	b.insert(group)

	b.mu.Lock()
	if len(b.waiting) > 0 {
		b.waiting[0].lead <- struct{}{}
	} else {
		b.busy = false
		b.waiting = nil
	}
	b.mu.Unlock()
}

// insert runs one statement for group and answers every request in it.
// It does not use any request's context: a request that gave up must not
// fail the others; the statement has its own timeout.
func (b *spendBatcher) insert(group []*spendWait) {
	first := make(map[[32]byte]*spendWait, len(group))
	hashes := make([][]byte, 0, len(group))
	exps := make([]int64, 0, len(group))
	for _, w := range group {
		if _, dup := first[w.hash]; dup {
			w.done <- fmt.Errorf("%w: dpop", ErrReplay)
			continue
		}
		first[w.hash] = w
		hashes = append(hashes, w.hash[:])
		exps = append(exps, w.exp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), spendTimeout)
	defer cancel()
	rows, err := b.db.Query(ctx, spendGroupInsert, hashes, exps)
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var h []byte
			if err = rows.Scan(&h); err != nil {
				break
			}
			if len(h) != 32 {
				continue
			}
			if w := first[[32]byte(h)]; w != nil {
				w.done <- nil
				delete(first, w.hash)
			}
		}
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		err = fmt.Errorf("oauth: DPoP replay cache: %w", err)
	}
	for _, w := range first { // not stored by this statement
		if err != nil {
			w.done <- err
		} else {
			w.done <- fmt.Errorf("%w: dpop", ErrReplay)
		}
	}
}

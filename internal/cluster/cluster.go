// Package cluster counts the running instances of the server that share
// one database, so that limits meant for the deployment (the per-client
// and per-customer rate limits) can be split between them without any
// per-request store access.
//
// Each process owns one Registry. Its Run loop writes a heartbeat row
// (a random instance id and the time it was last seen) every period
// (DefaultEvery, 5 s), deletes the rows of instances not seen within the
// expiry (DefaultExpiry, three periods), counts the rest and publishes the
// count in an atomic value; Count reads it without a lock. When Run's
// context ends (graceful shutdown) it deletes its own row, so the other
// instances see one fewer at their next heartbeat instead of after the
// expiry.
//
// Invariants:
//   - Count is at least 1: the instance asking is running.
//   - A failed heartbeat (the store unreachable) keeps the last count; it
//     never falls to 1. Falling would be the unsafe direction: every
//     instance that cannot reach the store would then allow the whole
//     deployment's rate, N times the published limit in total. Keeping the
//     count can only make a client get less than the rate, and only while
//     instances that died during the outage are still counted; the first
//     heartbeat after the store is back corrects it.
//   - Rows are written with each instance's own clock; the clocks of the
//     instances must agree to well within the expiry less one period
//     (10 s by default), or an instance can miss another's row.
//   - After an instance joins, the others divide by the old count until
//     their next heartbeat (at most one period): the deployment then allows
//     up to one share more. After one leaves without a graceful shutdown,
//     they divide by the old count until its row expires (the safe
//     direction: less than the rate).
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/madoguchi/madoguchi/internal/periodic"
	"github.com/madoguchi/madoguchi/store"
)

// Defaults: a heartbeat every 5 s; a row unseen for three periods expires.
const (
	DefaultEvery  = 5 * time.Second
	DefaultExpiry = 3 * DefaultEvery
)

// leaveTimeout bounds the deletion of the instance's row at shutdown.
const leaveTimeout = 5 * time.Second

// Config configures a Registry. Zero values pick the defaults.
type Config struct {
	// Every is the heartbeat period (default DefaultEvery).
	Every time.Duration
	// Expiry is how long a row counts after its last heartbeat (default
	// three periods); it must exceed Every.
	Expiry time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Registry is one instance's entry in the instance table and its view of
// how many instances are live. It is safe for concurrent use.
type Registry struct {
	db      *store.DB
	id      string
	every   time.Duration
	expiry  time.Duration
	log     *slog.Logger
	now     func() time.Time
	started time.Time

	count  atomic.Int64 // ≥ 1
	failed atomic.Bool  // the last heartbeat failed
}

// New returns a registry for this process with a fresh random id. It does
// not touch the store: Beat or Run does.
func New(db *store.DB, cfg Config) (*Registry, error) {
	if db == nil {
		return nil, errors.New("cluster: a store is required")
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = 3 * cfg.Every
	}
	if cfg.Every < 0 || cfg.Expiry <= cfg.Every {
		return nil, fmt.Errorf("cluster: heartbeat every %v, expiry %v: want a positive period and a longer expiry", cfg.Every, cfg.Expiry)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	r := &Registry{db: db, id: hex.EncodeToString(b[:]), every: cfg.Every, expiry: cfg.Expiry,
		log: cfg.Logger, now: cfg.Now, started: cfg.Now()}
	r.count.Store(1)
	return r, nil
}

// ID is the instance's random id (its row in cluster_instances).
func (r *Registry) ID() string { return r.id }

// Count is the number of live instances as of the last successful
// heartbeat, at least 1 (1 before the first). It never blocks.
func (r *Registry) Count() int { return int(r.count.Load()) }

// Healthy reports whether the last heartbeat reached the store (false
// while Count is a count kept from before a failure).
func (r *Registry) Healthy() bool { return !r.failed.Load() }

// Beat records the heartbeat, deletes expired rows and updates Count. On
// an error Count keeps its value.
func (r *Registry) Beat(ctx context.Context) error {
	now := r.now()
	var n int64
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_instances (id, started_at, last_seen) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen`,
			r.id, store.Micros(r.started), store.Micros(now)); err != nil {
			return err
		}
		cutoff := store.Micros(now.Add(-r.expiry))
		if _, err := tx.Exec(ctx, `DELETE FROM cluster_instances WHERE last_seen < ?`, cutoff); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT COUNT(*) FROM cluster_instances`).Scan(&n)
	})
	if err != nil {
		r.failed.Store(true)
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	r.failed.Store(false)
	if old := r.count.Swap(max(1, n)); old != max(1, n) {
		r.log.Info("cluster: live instances changed", "from", old, "to", max(1, n))
	}
	return nil
}

// Leave deletes the instance's row: the others stop counting it at their
// next heartbeat. Count is left as it was.
func (r *Registry) Leave(ctx context.Context) error {
	if _, err := r.db.Exec(ctx, `DELETE FROM cluster_instances WHERE id = ?`, r.id); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// Run beats every period until ctx ends, then leaves (graceful shutdown).
// The server owns it: start it in a goroutine after a first Beat, stop it
// by cancelling ctx. Failures are logged, and Count keeps its value.
func (r *Registry) Run(ctx context.Context) {
	periodic.Run(ctx, r.every, r.Beat, func(err error) {
		r.log.Error("cluster heartbeat failed; keeping the last instance count", "count", r.Count(), "err", err)
	})
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	if err := r.Leave(lctx); err != nil {
		r.log.Error("cluster: could not remove this instance's row; it expires by itself", "expiry", r.expiry, "err", err)
	}
}

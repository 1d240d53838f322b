package oauth

import (
	"context"
	"fmt"
	"time"

	"github.com/madoguchi/madoguchi/store"
)

// spendShared records (scope, jti) in the replay cache every instance
// shares (a primary key in the store); a second use anywhere is ErrReplay.
// Entries are kept until exp; Sweep prunes them.
func (s *Server) spendShared(ctx context.Context, scope, jti string, exp time.Time) error {
	return s.spendHash(ctx, spendInsert, scope, hashOf(jti), exp)
}

// The statements that spend a value in the shared replay cache: one
// statement each, no transaction, no read.
const (
	spendInsert = `INSERT INTO oauth_jtis (scope, jti_hash, expires_at) VALUES (?, ?, ?) ON CONFLICT (scope, jti_hash) DO NOTHING`
	// spendInsertAsync is spendInsert whose commit on PostgreSQL does not
	// wait for the WAL to reach the disk (synchronous_commit off for this
	// statement's own transaction only): 0.04–0.07 ms instead of
	// 0.23–0.29 ms here (BenchmarkSharedSpend), 1.5–2.6 ms with the disk
	// busy, on the path of every DPoP request. What it gives up: a
	// PostgreSQL crash can lose the entries of the last moments before it
	// (at most three wal_writer_delay, 0.6 s by default). A proof spent
	// then stays refused by the instance that accepted it (its memory
	// outlives the database's crash); another instance could accept it
	// once more within the proof's own minute, and only if someone holds
	// it. Client assertions and request objects keep spendInsert.
	spendInsertAsync = `WITH c AS (SELECT set_config('synchronous_commit', 'off', true)) INSERT INTO oauth_jtis (scope, jti_hash, expires_at) SELECT ?, ?, ? FROM c ON CONFLICT (scope, jti_hash) DO NOTHING`
)

// spendHash records (scope, hash) in the shared replay cache with query
// (spendInsert or spendInsertAsync): ErrReplay if any instance recorded it
// before.
func (s *Server) spendHash(ctx context.Context, query, scope string, hash []byte, exp time.Time) error {
	if s.cfg.DB.Dialect() != store.Postgres {
		query = spendInsert
	}
	res, err := s.cfg.DB.Exec(ctx, query, scope, hash, store.Micros(exp))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: %s", ErrReplay, scope)
	}
	return nil
}

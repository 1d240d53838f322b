package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations live in migrations/<dialect>/NNNN_name.sql. Both dialects carry
// the same numbers with the same meaning; a test checks that the two sets
// match. Numbers only grow; gaps are allowed (they were reserved by work that
// had not landed when a later number did).
//
//go:embed migrations
var migrationFS embed.FS

// Migration is one numbered schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations for dialect d in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", d.String())
	ents, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || len(num) != 4 {
			return nil, fmt.Errorf("store: migration file %q is not NNNN_name.sql", e.Name())
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("store: migrations %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at BIGINT NOT NULL
)`

// applied returns the versions recorded in the database.
func (db *DB) applied(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (rowsIter, error)
}) (map[int]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

type rowsIter interface {
	Next() bool
	Scan(...any) error
	Close() error
	Err() error
}

type dbQ struct{ db *DB }

func (q dbQ) Query(ctx context.Context, s string, a ...any) (rowsIter, error) {
	return q.db.Query(ctx, s, a...)
}

type txQ struct{ tx *Tx }

func (q txQ) Query(ctx context.Context, s string, a ...any) (rowsIter, error) {
	return q.tx.Query(ctx, s, a...)
}

// SchemaStatus describes a database's schema against this binary.
type SchemaStatus struct {
	Current int   // highest applied version (0 for an empty database)
	Latest  int   // highest version this binary knows
	Pending []int // known versions not yet applied
}

// checkKnown reads the applied versions and fails with ErrSchemaTooNew if one
// is unknown to this binary.
func (db *DB) checkKnown(ctx context.Context) (SchemaStatus, error) {
	var st SchemaStatus
	ms, err := Migrations(db.dialect)
	if err != nil {
		return st, err
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.Version] = true
		st.Latest = max(st.Latest, m.Version)
	}
	var exists bool
	switch db.dialect {
	case SQLite:
		var n int
		err = db.QueryRow(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='schema_migrations'`).Scan(&n)
		exists = n > 0
	case Postgres:
		err = db.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists)
	}
	if err != nil {
		return st, fmt.Errorf("store: read schema version: %w", err)
	}
	applied := map[int]bool{}
	if exists {
		if applied, err = db.applied(ctx, dbQ{db}); err != nil {
			return st, fmt.Errorf("store: read schema version: %w", err)
		}
	}
	for v := range applied {
		st.Current = max(st.Current, v)
		if !known[v] {
			return st, fmt.Errorf("%w: database has migration %d, this binary knows up to %d", ErrSchemaTooNew, v, st.Latest)
		}
	}
	for _, m := range ms {
		if !applied[m.Version] {
			st.Pending = append(st.Pending, m.Version)
		}
	}
	return st, nil
}

// CheckSchema returns the schema status, with ErrSchemaBehind if migrations
// are pending and ErrSchemaTooNew if the database is ahead of this binary.
func (db *DB) CheckSchema(ctx context.Context) (SchemaStatus, error) {
	st, err := db.checkKnown(ctx)
	if err != nil {
		return st, err
	}
	if len(st.Pending) > 0 {
		return st, fmt.Errorf("%w: %d pending (latest %d)", ErrSchemaBehind, len(st.Pending), st.Latest)
	}
	return st, nil
}

// Migrate applies the pending migrations in order, each in its own
// transaction together with its schema_migrations row. On PostgreSQL an
// advisory lock serialises concurrent migrators (several instances starting
// at once). It returns the versions it applied.
func (db *DB) Migrate(ctx context.Context) ([]int, error) {
	return db.MigrateProgress(ctx, nil)
}

// MigrateProgress is Migrate calling progress (if not nil) after each
// migration is applied or found applied: done of total migrations.
func (db *DB) MigrateProgress(ctx context.Context, progress func(done, total int)) ([]int, error) {
	ms, err := Migrations(db.dialect)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(ctx, createMigrationsTable); err != nil {
		return nil, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var done []int
	for i, m := range ms {
		err := db.InTx(ctx, func(tx *Tx) error {
			if db.dialect == Postgres {
				// Held until the transaction ends.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7243020151)`); err != nil {
					return err
				}
			}
			applied, err := db.applied(ctx, txQ{tx})
			if err != nil {
				return err
			}
			if applied[m.Version] {
				return nil
			}
			for v := range applied {
				if v > m.Version {
					// A later migration is applied but this one is not: the
					// binary carries a number inserted into history.
					return fmt.Errorf("store: migration %04d_%s is older than applied migration %d", m.Version, m.Name, v)
				}
			}
			if _, err := tx.tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("store: migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, Micros(timeNow())); err != nil {
				return err
			}
			done = append(done, m.Version)
			return nil
		})
		// ErrConflict: another instance applied it first.
		if err != nil && !errors.Is(err, ErrConflict) {
			return done, err
		}
		if progress != nil {
			progress(i+1, len(ms))
		}
	}
	return done, nil
}

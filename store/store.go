// Package store is Madoguchi's record store: one relational database, SQLite
// (embedded default, pure Go, WAL) or PostgreSQL (scale-out, shared by several
// stateless instances).
//
// The store owns the connection, the schema and the transaction primitive.
// Domain packages (audit, vault, tenant, staff, ekyc) own their queries,
// written in plain SQL against *Tx with '?' placeholders; the store rewrites
// them for PostgreSQL. Where the two dialects differ, a domain branches on
// DB.Dialect.
//
// Invariants:
//   - The schema is changed only by numbered, embedded migrations, each applied
//     in one transaction together with its row in schema_migrations.
//   - Open refuses a database that has a migration this binary does not know
//     (ErrSchemaTooNew); CheckSchema reports one that is behind (ErrSchemaBehind).
//   - Times are stored as BIGINT Unix microseconds (UTC); see Micros.
//   - A unique-constraint violation surfaces as ErrConflict, a missing row as
//     ErrNotFound, whatever the driver.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL dialect of an open store.
type Dialect int

const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// Errors with a documented contract.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrConflict     = errors.New("store: conflict")
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")
	ErrSchemaBehind = errors.New("store: database schema needs migration")
)

// DB is an open record store. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect Dialect
	// target is a redacted description of where the store lives, for logs.
	target string
	// stmts caches prepared statements (SQLite only; nil for PostgreSQL).
	stmts *stmtCache
}

// IsPostgresURL reports whether dsn selects the PostgreSQL store.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the store named by dsn: a postgres:// or postgresql:// URL, or
// the path of a SQLite database file (created if missing, with its directory).
// It checks that the database has no migration unknown to this binary.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var (
		db  *DB
		err error
	)
	if IsPostgresURL(dsn) {
		db, err = openPostgres(ctx, dsn)
	} else {
		db, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	if _, err := db.checkKnown(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: empty SQLite path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create database directory: %w", err)
	}
	// Personal data lives here (encrypted, but still): owner-only. SQLite
	// gives the -wal and -shm files the database file's permissions.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("store: create database file: %w", err)
	} else {
		f.Close()
	}
	// WAL is set explicitly; synchronous=FULL makes every commit durable
	// (the audit log depends on it); BEGIN IMMEDIATE takes the write lock at
	// the start of a transaction so concurrent writers queue on busy_timeout
	// instead of failing half-way.
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(ON)",
		"busy_timeout(15000)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	dsn := "file:" + path + "?" + q.Encode()
	s, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	s.SetMaxOpenConns(8)
	s.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", filepath.Base(path), err)
	}
	var mode string
	if err := s.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		s.Close()
		return nil, fmt.Errorf("store: sqlite journal_mode = %q, want wal (err %v)", mode, err)
	}
	return &DB{sql: s, dialect: SQLite, target: "sqlite:" + path, stmts: newStmtCache(s)}, nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	s, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	s.SetMaxOpenConns(16)
	s.SetConnMaxIdleTime(5 * time.Minute)
	if err := s.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: connect postgres %s: %w", redactURL(dsn), errors.Unwrap(err))
	}
	return &DB{sql: s, dialect: Postgres, target: redactURL(dsn)}, nil
}

// redactURL drops the password and query of a database URL for logs.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://[unparseable]"
	}
	u.User = nil
	u.RawQuery = ""
	return u.String()
}

// Close closes the database.
func (db *DB) Close() error {
	if db.stmts != nil {
		db.stmts.close()
	}
	return db.sql.Close()
}

// Dialect reports the SQL dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// LogValue describes the store without credentials.
func (db *DB) LogValue() slog.Value {
	return slog.GroupValue(slog.String("dialect", db.dialect.String()), slog.String("target", db.target))
}

// Ping checks that the database answers; /readyz uses it.
func (db *DB) Ping(ctx context.Context) error { return db.sql.PingContext(ctx) }

// Tx is a transaction. Queries use '?' placeholders in both dialects.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	stmts   *stmtCache
}

// Dialect reports the SQL dialect.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// InTx runs fn in a transaction and commits it if fn returns nil; otherwise
// it rolls back and returns fn's error. On SQLite the transaction takes the
// write lock at its start (BEGIN IMMEDIATE).
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	t, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", mapErr(err))
	}
	if err := fn(&Tx{tx: t, dialect: db.dialect, stmts: db.stmts}); err != nil {
		_ = t.Rollback()
		return err
	}
	if err := t.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", mapErr(err))
	}
	return nil
}

// stmt returns the transaction's use of query's cached prepared statement,
// or nil where statements are not cached (PostgreSQL), not yet cached (a
// transaction never waits to prepare one: see stmtCache) or query does
// not prepare (the direct call then reports the error).
func (tx *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if tx.stmts == nil {
		return nil
	}
	s := tx.stmts.inTx(query)
	if s == nil {
		return nil
	}
	return tx.tx.StmtContext(ctx, s)
}

// Exec runs a statement in the transaction.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := tx.stmt(ctx, query); s != nil {
		r, err := s.ExecContext(ctx, args...)
		return r, mapErr(err)
	}
	r, err := tx.tx.ExecContext(ctx, rebind(tx.dialect, query), args...)
	return r, mapErr(err)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := tx.stmt(ctx, query); s != nil {
		r, err := s.QueryContext(ctx, args...)
		return r, mapErr(err)
	}
	r, err := tx.tx.QueryContext(ctx, rebind(tx.dialect, query), args...)
	return r, mapErr(err)
}

// QueryRow runs a query returning one row; use Row.Scan, which maps a missing
// row to ErrNotFound.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if s := tx.stmt(ctx, query); s != nil {
		return &Row{r: s.QueryRowContext(ctx, args...)}
	}
	return &Row{r: tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query), args...)}
}

// stmt returns query's cached prepared statement, or nil (see Tx.stmt).
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if db.stmts == nil {
		return nil
	}
	return db.stmts.get(ctx, query)
}

// Exec runs a statement outside a transaction.
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s := db.stmt(ctx, query); s != nil {
		r, err := s.ExecContext(ctx, args...)
		return r, mapErr(err)
	}
	r, err := db.sql.ExecContext(ctx, rebind(db.dialect, query), args...)
	return r, mapErr(err)
}

// Query runs a read outside a transaction.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if s := db.stmt(ctx, query); s != nil {
		r, err := s.QueryContext(ctx, args...)
		return r, mapErr(err)
	}
	r, err := db.sql.QueryContext(ctx, rebind(db.dialect, query), args...)
	return r, mapErr(err)
}

// QueryRow runs a one-row read outside a transaction.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if s := db.stmt(ctx, query); s != nil {
		return &Row{r: s.QueryRowContext(ctx, args...)}
	}
	return &Row{r: db.sql.QueryRowContext(ctx, rebind(db.dialect, query), args...)}
}

// Row wraps *sql.Row so that a missing row is ErrNotFound.
type Row struct{ r *sql.Row }

// Scan copies the row's columns into dest.
func (r *Row) Scan(dest ...any) error { return mapErr(r.r.Scan(dest...)) }

// rebind turns '?' placeholders into $1, $2, ... for PostgreSQL. A '?' inside
// a single-quoted literal, a double-quoted identifier or a comment is left
// alone. Queries are constants written by us; values are always bound.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) && q[j] != c {
				j++
			}
			if j >= len(q) {
				j = len(q) - 1
			}
			b.WriteString(q[i : j+1])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				b.WriteString(q[i:])
				return b.String()
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mapErr turns driver errors with a contract into the package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: %s", ErrConflict, pe.ConstraintName)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	return err
}

// Micros converts t to the stored form: Unix microseconds, UTC.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros converts a stored time back; 0 is the zero time.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

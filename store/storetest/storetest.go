// Package storetest runs one conformance suite against every store backend:
// SQLite in a temporary directory always, and PostgreSQL when
// MADOGUCHI_TEST_POSTGRES holds a URL (each test gets its own schema, dropped
// afterwards). Under CI=true a missing PostgreSQL URL is a failure, not a skip,
// so the PostgreSQL half cannot silently stop running.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/madoguchi/madoguchi/internal/testsuite"
	"github.com/madoguchi/madoguchi/store"
)

// EnvPostgres names the environment variable holding the PostgreSQL URL.
const EnvPostgres = "MADOGUCHI_TEST_POSTGRES"

// Each runs fn as a subtest for every available backend, with a freshly
// migrated store.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) {
		fn(t, SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, Postgres(t))
	})
}

// SQLite returns a migrated SQLite store in t.TempDir().
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, filepath.Join(t.TempDir(), "madoguchi.db"))
}

// PostgresURL returns a URL for a fresh, empty schema in the test PostgreSQL
// database, dropped when the test ends. It skips (or fails under CI=true)
// without MADOGUCHI_TEST_POSTGRES.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		testsuite.Unavailable(t, "postgres", "%s is not set, so the PostgreSQL half of the store conformance suite did not run (set it to e.g. postgres://root@127.0.0.1:5432/test?sslmode=disable)", EnvPostgres)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a migrated PostgreSQL store in a fresh schema.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return open(t, PostgresURL(t))
}

func open(t testing.TB, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

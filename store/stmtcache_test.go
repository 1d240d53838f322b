package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTestSQLite(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestStmtCache: SQLite's statements are prepared once and reused; the
// cache stays bounded; a statement evicted while a transaction still
// uses it keeps working; a schema change under a cached statement, a
// statement that does not prepare and text with several statements all
// behave as without the cache.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db := openTestSQLite(t)
	if db.stmts == nil {
		t.Fatal("SQLite store without a statement cache")
	}
	if _, err := db.Exec(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	n0 := db.stmts.len()
	for i := range 10 {
		if _, err := db.Exec(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, i, "x"); err != nil {
			t.Fatal(err)
		}
	}
	if got := db.stmts.len(); got != n0+1 {
		t.Errorf("after 10 runs of one INSERT the cache holds %d statements, want %d", got, n0+1)
	}

	// Errors keep their contract through a cached statement.
	if _, err := db.Exec(ctx, `INSERT INTO t (id, v) VALUES (?, ?)`, 1, "dup"); !errors.Is(err, ErrConflict) {
		t.Errorf("duplicate insert = %v, want ErrConflict", err)
	}
	var v string
	if err := db.QueryRow(ctx, `SELECT v FROM t WHERE id = ?`, 99).Scan(&v); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing row = %v, want ErrNotFound", err)
	}
	// Not preparable: the direct call's error, nothing cached.
	before := db.stmts.len()
	if _, err := db.Exec(ctx, `INSERT INTO nosuch (a) VALUES (?)`, 1); err == nil {
		t.Error("insert into a missing table succeeded")
	}
	if db.stmts.len() != before {
		t.Error("a statement that did not prepare was cached")
	}
	// Several statements in one text run whole, uncached.
	if _, err := db.Exec(ctx, `INSERT INTO t (id, v) VALUES (100, 'a'); INSERT INTO t (id, v) VALUES (101, 'b');`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM t WHERE id IN (100, 101)`).Scan(&n); err != nil || n != 2 {
		t.Errorf("multi-statement text inserted %d rows (%v), want 2", n, err)
	}

	// A schema change under a cached statement: SQLite re-prepares it.
	if err := db.QueryRow(ctx, `SELECT * FROM t WHERE id = ?`, 1).Scan(new(int), &v); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'w'`); err != nil {
		t.Fatal(err)
	}
	var w string
	if err := db.QueryRow(ctx, `SELECT * FROM t WHERE id = ?`, 1).Scan(new(int), &v, &w); err != nil || w != "w" {
		t.Errorf("cached SELECT * after ALTER TABLE = %q, %v; want the new column", w, err)
	}

	// Eviction while a transaction uses the statement, with concurrent
	// readers filling the cache past its bound. A transaction's miss is
	// prepared in the background; wait for it.
	const update = `UPDATE t SET v = ? WHERE id = ?`
	if err := db.InTx(ctx, func(tx *Tx) error { _, err := tx.Exec(ctx, update, "warm", 2); return err }); err != nil {
		t.Fatal(err)
	}
	for i := 0; db.stmts.lookup(update) == nil; i++ {
		if i > 500 {
			t.Fatal("the transaction's statement was never prepared in the background")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, update, "in-tx", 2); err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range stmtCacheSize / 2 {
					var x int
					if err := db.QueryRow(ctx, fmt.Sprintf(`SELECT %d + id FROM t WHERE id = ?`, g*stmtCacheSize+i), 3).Scan(&x); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			return err
		}
		// The UPDATE's statement was evicted; the transaction uses it again.
		if db.stmts.lookup(update) != nil {
			return fmt.Errorf("the UPDATE was not evicted")
		}
		_, err := tx.Exec(ctx, update, "in-tx-2", 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := db.stmts.len(); got > stmtCacheSize {
		t.Errorf("cache holds %d statements, bound %d", got, stmtCacheSize)
	}
	if err := db.QueryRow(ctx, `SELECT v FROM t WHERE id = ?`, 2).Scan(&v); err != nil || v != "in-tx-2" {
		t.Errorf("after the transaction v = %q, %v; want in-tx-2", v, err)
	}
}

// TestStmtCacheCloseTwice: closing a store twice (an owner's deferred
// Close after an explicit one) is harmless, as it is for database/sql.
func TestStmtCacheCloseTwice(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(context.Background(), `CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_ = db.Close() // must not panic
}

// TestStmtCacheNoPoolDeadlock: more writers than pooled connections, each
// transaction running statements the cache has not seen. A transaction
// holding the write lock must never wait for a second connection to
// prepare a statement while the others hold every connection waiting for
// the lock (they would fail with SQLITE_BUSY once busy_timeout ran out).
func TestStmtCacheNoPoolDeadlock(t *testing.T) {
	ctx := context.Background()
	db := openTestSQLite(t)
	if _, err := db.Exec(ctx, `CREATE TABLE c (id INTEGER PRIMARY KEY, g INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				err := db.InTx(ctx, func(tx *Tx) error {
					var n int
					if err := tx.QueryRow(ctx, fmt.Sprintf(`SELECT COUNT(*) + %d FROM c WHERE g = ?`, g*10+i), g).Scan(&n); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO c (g) VALUES (? + %d)`, 0*i), g)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent transaction: %v", err)
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM c`).Scan(&n); err != nil || n != 32*5 {
		t.Errorf("rows = %d, %v; want %d", n, err, 32*5)
	}
}

// BenchmarkStmtCacheRead: one indexed one-row read (no fsync: the cost
// is the statement's preparation and execution), with and without the
// statement cache, same run.
func BenchmarkStmtCacheRead(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if !cached {
				db.stmts = nil
			}
			if _, err := db.Exec(ctx, `CREATE TABLE acct (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL, updated_at BIGINT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO acct VALUES ('a1', 'tn', 'open', 0, 0)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				var state string
				var n, at int64
				if err := db.QueryRow(ctx, `SELECT state, n, updated_at FROM acct WHERE id = ? AND tenant_id = ? AND state <> 'closed'`, "a1", "tn").Scan(&state, &n, &at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStmtCache: one durable write transaction of typical shape (a
// read, an update, an insert) with and without the statement cache, same
// run.
func BenchmarkStmtCache(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, filepath.Join(b.TempDir(), "s.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if !cached {
				db.stmts = nil
			}
			if _, err := db.Exec(ctx, `CREATE TABLE acct (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL, updated_at BIGINT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `CREATE TABLE ev (id INTEGER PRIMARY KEY, acct TEXT NOT NULL, kind TEXT NOT NULL, at BIGINT NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO acct VALUES ('a1', 'tn', 'open', 0, 0)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				err := db.InTx(ctx, func(tx *Tx) error {
					var state string
					var n int
					if err := tx.QueryRow(ctx, `SELECT state, n FROM acct WHERE id = ? AND tenant_id = ?`, "a1", "tn").Scan(&state, &n); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `UPDATE acct SET n = ?, updated_at = ? WHERE id = ? AND tenant_id = ? AND state = ?`, n+1, i, "a1", "tn", state); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `INSERT INTO ev (acct, kind, at) VALUES (?, ?, ?)`, "a1", "inc", i)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

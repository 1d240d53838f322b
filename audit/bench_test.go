package audit

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// benchStores runs fn on SQLite and, when configured, PostgreSQL.
func benchStores(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) {
		if os.Getenv(storetest.EnvPostgres) == "" {
			b.Skip("MADOGUCHI_TEST_POSTGRES not set")
		}
		fn(b, storetest.Postgres(b))
	})
}

// BenchmarkAppend measures audit appends, each in its own durable
// transaction (SQLite synchronous=FULL; PostgreSQL default synchronous_commit).
func BenchmarkAppend(b *testing.B) {
	benchStores(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(b, db)
		e := testEntry(1)
		b.ResetTimer()
		for b.Loop() {
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := l.Append(ctx, tx, e)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

// BenchmarkAppendParallel is BenchmarkAppend with concurrent appenders
// (they serialise on the head row; PostgreSQL can overlap commits' I/O).
func BenchmarkAppendParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(b, db)
		e := testEntry(1)
		b.SetParallelism(4)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := db.InTx(ctx, func(tx *store.Tx) error {
					_, err := l.Append(ctx, tx, e)
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

// BenchmarkBareInsert is the reference: one durable transaction inserting
// one row of the same size into a plain table, which is the least an
// audited change costs without any log.
func BenchmarkBareInsert(b *testing.B) {
	benchStores(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		typ := "BLOB"
		if db.Dialect() == store.Postgres {
			typ = "BYTEA"
		}
		if _, err := db.Exec(ctx, `CREATE TABLE bench_plain (id BIGINT PRIMARY KEY, v `+typ+` NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		leaf, _ := MarshalLeaf(testEntry(1))
		var i int64
		b.ResetTimer()
		for b.Loop() {
			i++
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO bench_plain (id, v) VALUES (?, ?)`, i, leaf)
				return err
			}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	})
}

// BenchmarkVerifyStore measures the offline verifier over a 4096-entry log.
func BenchmarkVerifyStore(b *testing.B) {
	benchStores(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(b, db)
		const n = 4096
		// Append in batches of 256 per transaction to build the log quickly.
		for i := 0; i < n; i += 256 {
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				for j := i; j < i+256; j++ {
					if _, err := l.Append(ctx, tx, testEntry(j)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			rep, err := VerifyStore(ctx, db, l.VerifierKey())
			if err != nil || rep.Size != n {
				b.Fatal(rep, err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

func ExampleVerifyConsistency() {
	// Sizes 0 and anything: every tree extends the empty tree.
	err := VerifyConsistency(0, 8, EmptyRoot, [32]byte{}, nil)
	fmt.Println(err)
	// Output: <nil>
}

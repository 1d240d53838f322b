package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestMigrationSetsMatch(t *testing.T) {
	lite, err := store.Migrations(store.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := store.Migrations(store.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	names := func(ms []store.Migration) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	if diff := cmp.Diff(names(lite), names(pg)); diff != "" {
		t.Errorf("SQLite and PostgreSQL migrations differ (-sqlite +postgres):\n%s", diff)
	}
}

func TestConformance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		t.Run("schema current", func(t *testing.T) {
			st, err := db.CheckSchema(ctx)
			if err != nil {
				t.Fatalf("CheckSchema = %v, want nil", err)
			}
			if len(st.Pending) != 0 || st.Current != st.Latest {
				t.Errorf("CheckSchema = %+v, want nothing pending", st)
			}
			again, err := db.Migrate(ctx)
			if err != nil || len(again) != 0 {
				t.Errorf("second Migrate = %v, %v; want nothing applied", again, err)
			}
		})

		if _, err := db.Exec(ctx, `CREATE TABLE conformance_t (id TEXT PRIMARY KEY, n INTEGER NOT NULL, note TEXT)`); err != nil {
			t.Fatal(err)
		}

		t.Run("placeholders and metacharacters", func(t *testing.T) {
			evil := `x'); DROP TABLE conformance_t; -- ? $1 "q"`
			err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO conformance_t (id, n, note) VALUES (?, ?, ?)`, "a", 1, evil)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if err := db.QueryRow(ctx, `SELECT note FROM conformance_t WHERE id = ? AND n = ?`, "a", 1).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != evil {
				t.Errorf("note = %q, want %q", got, evil)
			}
			// A literal '?' in SQL text is not a placeholder.
			var lit string
			if err := db.QueryRow(ctx, `SELECT '?' || note FROM conformance_t WHERE id = ?`, "a").Scan(&lit); err != nil {
				t.Fatal(err)
			}
			if lit != "?"+evil {
				t.Errorf("literal = %q, want %q", lit, "?"+evil)
			}
		})

		t.Run("conflict", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO conformance_t (id, n) VALUES (?, ?)`, "a", 2)
				return err
			})
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("duplicate insert error = %v, want ErrConflict", err)
			}
		})

		t.Run("not found", func(t *testing.T) {
			var n int
			err := db.QueryRow(ctx, `SELECT n FROM conformance_t WHERE id = ?`, "missing").Scan(&n)
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Scan of missing row = %v, want ErrNotFound", err)
			}
		})

		t.Run("rollback writes nothing", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO conformance_t (id, n) VALUES (?, ?)`, "b", 3); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx = %v, want boom", err)
			}
			var n int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM conformance_t WHERE id = ?`, "b").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("rows after rollback = %d, want 0", n)
			}
		})

		t.Run("times", func(t *testing.T) {
			now := store.FromMicros(store.Micros(timeFixed))
			if !now.Equal(timeFixed.Truncate(1000)) {
				t.Errorf("FromMicros(Micros(t)) = %v, want %v", now, timeFixed)
			}
			if !store.FromMicros(0).IsZero() {
				t.Errorf("FromMicros(0) is not the zero time")
			}
		})
	})
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "db.sqlite") }},
		{"postgres", func(t *testing.T) string { return storetest.PostgresURL(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := tc.dsn(t)
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.CheckSchema(ctx); err != nil && !errors.Is(err, store.ErrSchemaBehind) {
				t.Fatalf("fresh CheckSchema = %v", err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, 9999, "future", 1); err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = store.Open(ctx, dsn)
			if !errors.Is(err, store.ErrSchemaTooNew) {
				if db != nil {
					db.Close()
				}
				t.Fatalf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
			}
		})
	}
}

func TestPendingReported(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ms, _ := store.Migrations(store.SQLite)
	st, err := db.CheckSchema(ctx)
	if len(ms) == 0 {
		if err != nil {
			t.Fatalf("CheckSchema with no migrations = %v", err)
		}
		return
	}
	if !errors.Is(err, store.ErrSchemaBehind) {
		t.Fatalf("CheckSchema on empty database = %v, want ErrSchemaBehind", err)
	}
	var want []int
	for _, m := range ms {
		want = append(want, m.Version)
	}
	sort.Ints(st.Pending)
	if diff := cmp.Diff(want, st.Pending); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
}

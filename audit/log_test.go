package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func testEntry(i int) Entry {
	return Entry{
		Time:      time.Date(2026, 4, 1, 9, 0, 0, i*1000, time.UTC),
		ActorKind: ActorClient,
		ActorID:   "cli_test",
		TenantID:  fmt.Sprintf("ten_%d", i%3),
		Action:    "session.create",
		Object:    fmt.Sprintf("obj-%06d", i),
		RequestID: fmt.Sprintf("req-%d", i),
		Outcome:   OutcomeOK,
		Details:   map[string]string{"method": "ho", "n": fmt.Sprint(i)},
	}
}

func appendN(t testing.TB, l *Log, db *store.DB, from, n int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			idx, err := l.Append(ctx, tx, testEntry(i))
			if err == nil && idx != uint64(i) {
				err = fmt.Errorf("index %d, want %d", idx, i)
			}
			return err
		})
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
	}
}

func TestAppendRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		const n = 21
		var signed [][]byte
		for i := 0; i < n; i++ {
			appendN(t, l, db, i, 1)
			cp, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatalf("Checkpoint after %d: %v", i+1, err)
			}
			signed = append(signed, cp)
		}
		cps := make([]Checkpoint, n)
		for i, s := range signed {
			c, err := VerifyCheckpoint(s, l.VerifierKey())
			if err != nil {
				t.Fatalf("VerifyCheckpoint(#%d) = %v", i, err)
			}
			if c.Size != uint64(i+1) || c.Origin != l.Origin() {
				t.Fatalf("checkpoint #%d = %d %q, want %d %q", i, c.Size, c.Origin, i+1, l.Origin())
			}
			cps[i] = c
		}
		last := cps[n-1]
		for i := 0; i < n; i++ {
			tenant, leaf, err := l.Entry(ctx, uint64(i))
			if err != nil {
				t.Fatalf("Entry(%d): %v", i, err)
			}
			e, err := ParseLeaf(leaf)
			if err != nil {
				t.Fatalf("ParseLeaf(Entry(%d)): %v", i, err)
			}
			if diff := cmp.Diff(testEntry(i), e); diff != "" || tenant != e.TenantID {
				t.Errorf("Entry(%d) mismatch (-want +got):\n%s", i, diff)
			}
			p, err := l.InclusionProof(ctx, uint64(i), last.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(LeafHash(leaf), uint64(i), last.Size, p, last.Root); err != nil {
				t.Errorf("VerifyInclusion(%d, %d) = %v", i, last.Size, err)
			}
			// The proof fails for any other index or a changed leaf.
			if err := VerifyInclusion(LeafHash(leaf), uint64(i+1)%last.Size, last.Size, p, last.Root); !errors.Is(err, ErrProof) {
				t.Errorf("VerifyInclusion(wrong index) = %v, want ErrProof", err)
			}
			bad := bytes.Clone(leaf)
			bad[len(bad)-1] ^= 1
			if err := VerifyInclusion(LeafHash(bad), uint64(i), last.Size, p, last.Root); !errors.Is(err, ErrProof) {
				t.Errorf("VerifyInclusion(changed leaf) = %v, want ErrProof", err)
			}
		}
		for i := 0; i < n; i++ {
			for j := i; j < n; j++ {
				p, err := l.ConsistencyProof(ctx, cps[i].Size, cps[j].Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := VerifyConsistency(cps[i].Size, cps[j].Size, cps[i].Root, cps[j].Root, p); err != nil {
					t.Errorf("VerifyConsistency(%d, %d) = %v", cps[i].Size, cps[j].Size, err)
				}
				if i != j {
					if err := VerifyConsistency(cps[i].Size, cps[j].Size, cps[j].Root, cps[i].Root, p); !errors.Is(err, ErrProof) {
						t.Errorf("VerifyConsistency(swapped roots %d, %d) = %v, want ErrProof", cps[i].Size, cps[j].Size, err)
					}
				}
			}
		}
		rep, err := VerifyStore(ctx, db, l.VerifierKey())
		if err != nil {
			t.Fatalf("VerifyStore = %v", err)
		}
		if rep.Size != n || rep.Root != last.Root || rep.Checkpoints != n || rep.Latest.Size != n {
			t.Errorf("VerifyStore = %+v, want size %d root %x and %d checkpoints", rep, n, last.Root, n)
		}
		// Checkpoint is idempotent at a fixed size: the same note comes back.
		again, err := l.Checkpoint(ctx)
		if err != nil || !bytes.Equal(again, signed[n-1]) {
			t.Errorf("Checkpoint() again = %q, %v; want the stored note", again, err)
		}
		old, err := l.CheckpointAt(ctx, 3)
		if err != nil || !bytes.Equal(old, signed[2]) {
			t.Errorf("CheckpointAt(3) = %q, %v; want the stored note", old, err)
		}
	})
}

func TestAppendCommitsWithTheChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		appendN(t, l, db, 0, 2)
		boom := errors.New("the change failed")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := l.Append(ctx, tx, testEntry(2)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want %v", err, boom)
		}
		if n, err := l.Size(ctx); err != nil || n != 2 {
			t.Errorf("Size() after rollback = %d, %v; want 2", n, err)
		}
		// The next append reuses index 2 and the tree stays valid.
		appendN(t, l, db, 2, 1)
		if _, err := VerifyStore(ctx, db, l.VerifierKey()); err != nil {
			t.Errorf("VerifyStore = %v", err)
		}
		// An invalid entry is refused and writes nothing.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := l.Append(ctx, tx, Entry{ActorKind: "robot", Action: "x", Outcome: OutcomeOK})
			return err
		})
		if !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("Append(bad actor kind) = %v, want ErrInvalidEntry", err)
		}
		if n, _ := l.Size(ctx); n != 3 {
			t.Errorf("Size() = %d, want 3", n)
		}
	})
}

func TestConcurrentAppenders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		workers, per := 8, 10
		if testing.Short() {
			workers, per = 4, 5
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers*per)
		seen := make(chan uint64, workers*per)
		for w := range workers {
			wg.Go(func() {
				for i := range per {
					err := db.InTx(ctx, func(tx *store.Tx) error {
						idx, err := l.Append(ctx, tx, testEntry(w*per+i))
						if err == nil {
							seen <- idx
						}
						return err
					})
					if err != nil {
						errs <- err
					}
					if i%3 == 0 {
						if _, err := l.Checkpoint(ctx); err != nil {
							errs <- fmt.Errorf("Checkpoint: %w", err)
						}
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		close(seen)
		for err := range errs {
			t.Errorf("concurrent append: %v", err)
		}
		got := map[uint64]bool{}
		for idx := range seen {
			if got[idx] {
				t.Errorf("index %d assigned twice", idx)
			}
			got[idx] = true
		}
		total := uint64(workers * per)
		if uint64(len(got)) != total {
			t.Errorf("%d distinct indexes, want %d", len(got), total)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyStore(ctx, db, l.VerifierKey())
		if err != nil || rep.Size != total {
			t.Errorf("VerifyStore = %+v, %v; want size %d", rep, err, total)
		}
	})
}

// tamper runs a statement against a populated log and checks that
// VerifyStore fails with the wanted error, naming wantIndex if >= 0.
func TestTamper(t *testing.T) {
	tests := []struct {
		name      string
		sql       []string
		wantErr   error
		wantIndex int64
	}{
		{"edit object column", []string{`UPDATE audit_entries SET object = 'obj-xxxxxx' WHERE idx = 7`}, ErrTampered, 7},
		{"edit leaf", []string{`UPDATE audit_entries SET leaf = (SELECT leaf FROM audit_entries WHERE idx = 3) WHERE idx = 9`}, ErrTampered, 9},
		{"edit leaf and leaf hash", []string{`UPDATE audit_entries SET leaf = (SELECT leaf FROM audit_entries WHERE idx = 3), leaf_hash = (SELECT leaf_hash FROM audit_entries WHERE idx = 3), time_us = (SELECT time_us FROM audit_entries WHERE idx = 3), tenant_id = (SELECT tenant_id FROM audit_entries WHERE idx = 3), object = (SELECT object FROM audit_entries WHERE idx = 3) WHERE idx = 9`}, ErrTampered, 9},
		{"delete row", []string{`DELETE FROM audit_entries WHERE idx = 5`}, ErrTampered, 5},
		{"delete last row", []string{`DELETE FROM audit_entries WHERE idx = 11`}, ErrTampered, 11},
		{"swap two rows", []string{
			`UPDATE audit_entries SET idx = -1 WHERE idx = 4`,
			`UPDATE audit_entries SET idx = 4 WHERE idx = 6`,
			`UPDATE audit_entries SET idx = 6 WHERE idx = -1`,
		}, ErrTampered, 4},
		{"edit tree hash", []string{`UPDATE audit_hashes SET hash = (SELECT hash FROM audit_hashes WHERE id = 0) WHERE id = 2`}, ErrTampered, 1},
		{"delete tree hash", []string{`DELETE FROM audit_hashes WHERE id = 4`}, ErrTampered, 3},
		{"truncate the log (rollback)", []string{
			`DELETE FROM audit_entries WHERE idx >= 10`,
			`DELETE FROM audit_hashes WHERE id >= 18`,
			`UPDATE audit_head SET size = 10`,
		}, ErrRollback, -1},
		{"head rolled back", []string{`UPDATE audit_head SET size = 10`}, ErrRollback, -1},
		{"edit checkpoint root column", []string{`UPDATE audit_checkpoints SET root_hash = (SELECT hash FROM audit_hashes WHERE id = 0) WHERE size = 12`}, ErrTampered, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				l := newTestLog(t, db)
				appendN(t, l, db, 0, 12)
				if _, err := l.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := VerifyStore(ctx, db, l.VerifierKey()); err != nil {
					t.Fatalf("VerifyStore before tampering = %v", err)
				}
				for _, q := range tc.sql {
					if _, err := db.Exec(ctx, q); err != nil {
						t.Fatalf("%s: %v", q, err)
					}
				}
				_, err := VerifyStore(ctx, db, l.VerifierKey())
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("VerifyStore after %s = %v, want %v", tc.name, err, tc.wantErr)
				}
				var ee *EntryError
				if tc.wantIndex >= 0 && (!errors.As(err, &ee) || ee.Index != uint64(tc.wantIndex)) {
					t.Errorf("VerifyStore after %s = %v, want an EntryError at index %d", tc.name, err, tc.wantIndex)
				}
			})
		})
	}
}

// TestTamperCheckpointedRewrite rewrites an entry and every hash above it
// consistently, as an attacker with write access to the database could; only
// the signed checkpoint catches it, and the server refuses to sign on top.
func TestTamperCheckpointedRewrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		appendN(t, l, db, 0, 8)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// Rebuild the log with entry 2 changed, in a scratch table set, then
		// copy entries and hashes over the real ones.
		forged := testEntry(2)
		forged.Outcome = OutcomeDenied
		if _, err := db.Exec(ctx, `DELETE FROM audit_entries`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `DELETE FROM audit_hashes`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE audit_head SET size = 0`); err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			e := testEntry(i)
			if i == 2 {
				e = forged
			}
			if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := l.Append(ctx, tx, e); return err }); err != nil {
				t.Fatal(err)
			}
		}
		_, err := VerifyStore(ctx, db, l.VerifierKey())
		if !errors.Is(err, ErrTampered) {
			t.Errorf("VerifyStore after a consistent rewrite = %v, want ErrTampered (checkpoint mismatch)", err)
		}
		if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrTampered) {
			t.Errorf("Checkpoint after a consistent rewrite = %v, want ErrTampered", err)
		}
		appendN(t, l, db, 8, 1)
		if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrTampered) {
			t.Errorf("Checkpoint on top of a rewrite = %v, want ErrTampered", err)
		}
	})
}

func TestCheckpointRefusesRollback(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		appendN(t, l, db, 0, 5)
		if _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE audit_head SET size = 3`); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrRollback) {
			t.Errorf("Checkpoint after the head went back = %v, want ErrRollback", err)
		}
	})
}

// TestTamperSQLiteFile flips a byte of one entry in the database file
// itself, below SQL, and checks the verifier names that entry.
func TestTamperSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "madoguchi.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	l := newTestLog(t, db)
	appendN(t, l, db, 0, 30)
	vkey := l.VerifierKey()
	if _, err := db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The object id appears in the leaf (after its u16 length), in the
	// object column and in its index, and stale copies may linger in free
	// space; change every copy of the leaf's bytes by one letter.
	pat := []byte("\x00\x0aobj-000017")
	if !bytes.Contains(b, pat) {
		t.Fatal("entry 17 not found in the database file")
	}
	b = bytes.ReplaceAll(b, pat, []byte("\x00\x0aobj-000018"))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = VerifyStore(ctx, db, vkey)
	var ee *EntryError
	if !errors.As(err, &ee) || ee.Index != 17 {
		t.Errorf("VerifyStore after editing entry 17 in the file = %v, want an EntryError at index 17", err)
	}
}

package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestProofBundle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		appendN(t, l, db, 0, 37)
		b, err := l.ProveObjects(ctx, []string{"obj-000003", "obj-000030", "obj-000036", "nothing"}, 10)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseProofBundle(raw)
		if err != nil {
			t.Fatal(err)
		}
		es, cp, err := VerifyProofBundle(parsed, l.VerifierKey())
		if err != nil || cp.Size != 37 || len(es) != 3 || es[0].Object != "obj-000003" || es[2].Object != "obj-000036" {
			t.Fatalf("VerifyProofBundle = %d entries at size %d, %v", len(es), cp.Size, err)
		}
		// Tampering with a leaf, an index, a proof hash or the checkpoint
		// fails; so does another log's key.
		for name, edit := range map[string]func(*ProofBundle){
			"leaf":       func(p *ProofBundle) { p.Entries[1].Leaf[len(p.Entries[1].Leaf)-1] ^= 1 },
			"index":      func(p *ProofBundle) { p.Entries[0].Index++ },
			"proof":      func(p *ProofBundle) { p.Entries[2].Proof[0][0] ^= 1 },
			"checkpoint": func(p *ProofBundle) { p.Checkpoint = p.Checkpoint[:20] + "x" + p.Checkpoint[21:] },
		} {
			p, _ := ParseProofBundle(raw)
			edit(&p)
			if _, _, err := VerifyProofBundle(p, l.VerifierKey()); err == nil {
				t.Errorf("tampered %s: verified", name)
			}
		}
		other := newTestLog(t, storetest.SQLite(t))
		if _, _, err := VerifyProofBundle(parsed, other.VerifierKey()); err == nil {
			t.Error("verified with another log's key")
		}
		for _, bad := range []string{`{}`, `{"format":"x","checkpoint":"","entries":[]}`, `[]`,
			`{"format":"` + BundleFormat + `","checkpoint":"c","entries":[],"extra":1}`} {
			if _, err := ParseProofBundle([]byte(bad)); !errors.Is(err, ErrProof) {
				t.Errorf("ParseProofBundle(%s) = %v, want ErrProof", bad, err)
			}
		}
		// Each proof equals the entry's own inclusion proof (the bundle's
		// reader remembers hashes across proofs).
		for _, en := range b.Entries {
			want, err := l.InclusionProof(ctx, en.Index, 37)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(want, en.Proof, bytes.Equal) {
				t.Errorf("entry %d: bundle proof differs from InclusionProof", en.Index)
			}
		}
		if _, err := l.ProveObjects(ctx, nil, 10); !errors.Is(err, ErrRange) {
			t.Errorf("ProveObjects(no objects) = %v, want ErrRange", err)
		}
	})
}

func FuzzParseProofBundle(f *testing.F) {
	f.Add([]byte(`{"format":"` + BundleFormat + `","checkpoint":"c","entries":[{"index":1,"leaf":"AQ==","proof":[]}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProofBundle(b)
		if err != nil {
			return
		}
		if p.Format != BundleFormat || len(p.Entries) == 0 {
			t.Fatalf("accepted %q", b)
		}
	})
}

// TestMemoHashReader: every hash is read from the underlying reader once,
// and answers keep the order asked for.
func TestMemoHashReader(t *testing.T) {
	reads := map[int64]int{}
	r := memoHashReader(tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			reads[x]++
			out[i][0] = byte(x)
		}
		return out, nil
	}))
	for _, ask := range [][]int64{{3, 1, 2}, {2, 5, 3}, {5, 5, 1}} {
		got, err := r.ReadHashes(ask)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range ask {
			if got[i][0] != byte(x) {
				t.Errorf("ReadHashes(%v)[%d] = hash of %d, want %d", ask, i, got[i][0], x)
			}
		}
	}
	for x, n := range reads {
		if n != 1 {
			t.Errorf("hash %d read %d times", x, n)
		}
	}
}

// TestProveSelection: a selection leaves out the entries whose action it
// skips, keeps the ones it names by index (whatever their object or
// action), and the bundle verifies.
func TestProveSelection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		add := func(object, action string) uint64 {
			t.Helper()
			var idx uint64
			err := db.InTx(ctx, func(tx *store.Tx) error {
				e := testEntry(0)
				e.Object, e.Action = object, action
				var err error
				idx, err = l.Append(ctx, tx, e)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return idx
		}
		add("rec_1", "ekyc.record.create")         // 0
		add("rec_1", "portal.view")                // 1
		add("rec_1", "ekyc.record.export")         // 2: an earlier export
		add("rec_2", "ekyc.record.create")         // 3: another record
		add("rec_1", "portal.view")                // 4
		add("rec_1", "ekyc.contract.ended")        // 5
		mine := add("rec_1", "ekyc.record.export") // 6: this export
		tests := []struct {
			name string
			sel  Selection
			want []uint64
		}{
			{"objects only", Selection{Objects: []string{"rec_1"}}, []uint64{0, 1, 2, 4, 5, 6}},
			{"views and exports left out, this export kept", Selection{Objects: []string{"rec_1"},
				SkipActions: []string{"portal.view", "ekyc.record.export"}, Indexes: []uint64{mine}}, []uint64{0, 5, 6}},
			{"an index of another object", Selection{Objects: []string{"rec_1"},
				SkipActions: []string{"portal.view", "ekyc.record.export"}, Indexes: []uint64{3}}, []uint64{0, 3, 5}},
			{"an index beyond the log", Selection{Objects: []string{"rec_9"}, Indexes: []uint64{99}}, nil},
		}
		for _, tt := range tests {
			b, err := l.ProveSelection(ctx, tt.sel, 10)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			es, _, err := VerifyProofBundle(b, l.VerifierKey())
			if len(b.Entries) > 0 && err != nil {
				t.Fatalf("%s: VerifyProofBundle: %v", tt.name, err)
			}
			var got []uint64
			for _, en := range b.Entries {
				got = append(got, en.Index)
			}
			if !slices.Equal(got, tt.want) || len(es) != len(tt.want) {
				t.Errorf("%s: ProveSelection = %v, want %v", tt.name, got, tt.want)
			}
		}
		if _, err := l.ProveSelection(ctx, Selection{Objects: []string{"rec_1"}, SkipActions: make([]string, 65)}, 10); !errors.Is(err, ErrRange) {
			t.Errorf("ProveSelection(65 skipped actions) = %v, want ErrRange", err)
		}
	})
}

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

package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// The RFC 6962 reference tree used by every Certificate Transparency
// implementation (transparency-dev/merkle testonly): leaves, the root of
// every prefix, and the complete-subtree hashes from which the expected
// proofs below are read off by hand.
var (
	rfcLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	rfcRoots  = []string{
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	// level 0 hashes 1, 4, 6, 7; level 1 hashes 1, 2, 3; level 2 hashes 0, 1.
	h0_1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
	h0_4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
	h0_6 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"
	h0_7 = "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"
	h1_0 = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
	h1_1 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
	h1_2 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
	h1_3 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
	h2_0 = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
	h2_1 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
)

var rfcInclusion = []struct {
	index, size uint64
	proof       []string
}{
	{0, 1, nil},
	{0, 8, []string{h0_1, h1_1, h2_1}},
	{5, 8, []string{h0_4, h1_3, h2_0}},
	{2, 3, []string{h1_0}},
	{1, 5, []string{"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", h1_1, h0_4}},
	{6, 8, []string{h0_7, h1_2, h2_0}},
	{7, 8, []string{h0_6, h1_2, h2_0}},
}

var rfcConsistency = []struct {
	old, new uint64
	proof    []string
}{
	{1, 1, nil},
	{1, 8, []string{h0_1, h1_1, h2_1}},
	{6, 8, []string{h1_2, h1_3, h2_0}},
	{2, 5, []string{h1_1, h0_4}},
	{2, 8, []string{h1_1, h2_1}},
	{4, 8, []string{h2_1}},
	{3, 7, nil}, // filled in below from the stored tree: checks only that it verifies
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhexAll(t *testing.T, ss []string) [][]byte {
	out := [][]byte{}
	for _, s := range ss {
		out = append(out, unhex(t, s))
	}
	return out
}

func newTestLog(t testing.TB, db *store.DB) *Log {
	t.Helper()
	s, _, err := GenerateSigner(nil, "test.madoguchi.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(db, s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// appendRaw stores arbitrary leaves (the RFC vectors are not Entry encodings).
func appendRaw(t *testing.T, db *store.DB, leaves ...[]byte) {
	t.Helper()
	ctx := context.Background()
	for _, leaf := range leaves {
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := appendLeaf(ctx, tx, leaf, Entry{})
			return err
		}); err != nil {
			t.Fatalf("appendLeaf: %v", err)
		}
	}
}

func TestEmptyRoot(t *testing.T) {
	if got := hex.EncodeToString(EmptyRoot[:]); got != rfcRoots[0] {
		t.Errorf("EmptyRoot = %s, want %s", got, rfcRoots[0])
	}
}

func TestRFC6962Vectors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		var leaves [][]byte
		for _, s := range rfcLeaves {
			leaves = append(leaves, unhex(t, s))
		}
		appendRaw(t, db, leaves...)
		for size, want := range rfcRoots {
			got, err := l.Root(ctx, uint64(size))
			if err != nil {
				t.Fatalf("Root(%d): %v", size, err)
			}
			if hex.EncodeToString(got[:]) != want {
				t.Errorf("Root(%d) = %x, want %s", size, got, want)
			}
		}
		for _, tc := range rfcInclusion {
			got, err := l.InclusionProof(ctx, tc.index, tc.size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", tc.index, tc.size, err)
			}
			want := unhexAll(t, tc.proof)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("InclusionProof(%d, %d) mismatch (-want +got):\n%s", tc.index, tc.size, diff)
			}
			root := [32]byte(unhex(t, rfcRoots[tc.size]))
			if err := VerifyInclusion(LeafHash(leaves[tc.index]), tc.index, tc.size, want, root); err != nil {
				t.Errorf("VerifyInclusion(%d, %d) = %v, want nil", tc.index, tc.size, err)
			}
		}
		for _, tc := range rfcConsistency {
			got, err := l.ConsistencyProof(ctx, tc.old, tc.new)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", tc.old, tc.new, err)
			}
			want := unhexAll(t, tc.proof)
			if tc.old == 3 && tc.new == 7 {
				want = got
			} else if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ConsistencyProof(%d, %d) mismatch (-want +got):\n%s", tc.old, tc.new, diff)
			}
			o, n := [32]byte(unhex(t, rfcRoots[tc.old])), [32]byte(unhex(t, rfcRoots[tc.new]))
			if err := VerifyConsistency(tc.old, tc.new, o, n, want); err != nil {
				t.Errorf("VerifyConsistency(%d, %d) = %v, want nil", tc.old, tc.new, err)
			}
		}
	})
}

func TestProofRange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		l := newTestLog(t, db)
		appendRaw(t, db, []byte("a"), []byte("b"), []byte("c"))
		for _, tc := range []struct{ index, size uint64 }{{3, 3}, {0, 4}, {0, 0}, {1 << 63, 1 << 63}} {
			if _, err := l.InclusionProof(ctx, tc.index, tc.size); !errors.Is(err, ErrRange) {
				t.Errorf("InclusionProof(%d, %d) = %v, want ErrRange", tc.index, tc.size, err)
			}
		}
		for _, tc := range []struct{ old, new uint64 }{{2, 1}, {1, 4}, {4, 4}} {
			if _, err := l.ConsistencyProof(ctx, tc.old, tc.new); !errors.Is(err, ErrRange) {
				t.Errorf("ConsistencyProof(%d, %d) = %v, want ErrRange", tc.old, tc.new, err)
			}
		}
		if _, _, err := l.Entry(ctx, 3); !errors.Is(err, ErrRange) {
			t.Errorf("Entry(3) = %v, want ErrRange", err)
		}
		if _, err := l.CheckpointAt(ctx, 4); !errors.Is(err, ErrRange) {
			t.Errorf("CheckpointAt(4) = %v, want ErrRange", err)
		}
	})
}

package vault

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/audit"
	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

// eachKeyring runs fn with a factory for every keyring implementation.
func eachKeyring(t *testing.T, fn func(t *testing.T, newKR func(testing.TB) Keyring)) {
	t.Run("keyfile", func(t *testing.T) { fn(t, func(t testing.TB) Keyring { return newKeyFile(t) }) })
	t.Run("transit", func(t *testing.T) {
		fn(t, func(t testing.TB) Keyring {
			tr, _ := newTransit(t)
			return tr
		})
	})
}

func TestRotateRewrapRetire(t *testing.T) {
	eachKeyring(t, func(t *testing.T, newKR func(testing.TB) Keyring) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			ctx := context.Background()
			kr := newKR(t)
			v, a := newVault(t, kr, db)
			staff := Actor{Kind: audit.ActorStaff, ID: "staff-1", RequestID: "req-1"}

			// 5 subjects under KEK v1.
			type rec struct {
				s  SubjectRef
				ct []byte
			}
			var recs []rec
			for i := range 5 {
				s := SubjectRef{"ten_1", fmt.Sprintf("sub_%d", i)}
				recs = append(recs, rec{s, seal(t, v, db, s, AAD("r", s.Subject), []byte("data "+s.Subject))})
			}
			checkAll := func(when string) {
				t.Helper()
				for _, r := range recs {
					got, err := v.Open(ctx, db, r.s, AAD("r", r.s.Subject), r.ct)
					if err != nil || string(got) != "data "+r.s.Subject {
						t.Errorf("%s: Open(%s) = %q, %v", when, r.s.Subject, got, err)
					}
				}
			}

			ver, err := v.RotateKEK(ctx, staff)
			if err != nil || ver != 2 {
				t.Fatalf("RotateKEK = %d, %v; want 2", ver, err)
			}
			// New subjects get KEK v2; old data still opens.
			s6 := SubjectRef{"ten_1", "sub_new"}
			recs = append(recs, rec{s6, seal(t, v, db, s6, AAD("r", s6.Subject), []byte("data sub_new"))})
			checkAll("after rotate")
			st, err := v.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[int]int64{1: 5, 2: 1}, st.DEKs); diff != "" || st.KEK.Current != 2 || st.Unrotated != 5 || st.Subjects != 6 {
				t.Errorf("Status after rotate = %+v (-want +got DEKs:\n%s)", st, diff)
			}

			if err := v.RetireKEK(ctx, 2, staff); !errors.Is(err, ErrKEKInUse) {
				t.Errorf("RetireKEK(2) before rewrap = %v, want ErrKEKInUse", err)
			}
			if err := v.RetireKEK(ctx, 3, staff); err == nil || errors.Is(err, ErrKEKInUse) {
				t.Errorf("RetireKEK(3 > current) = %v, want a range error", err)
			}

			// Rewrap in batches of 2: 5 keys -> 3 batches; then nothing to do.
			rep, err := v.Rewrap(ctx, 2, System)
			if err != nil || rep.Rewrapped != 5 || rep.Batches != 3 || rep.Target != 2 {
				t.Fatalf("Rewrap = %+v, %v; want 5 keys in 3 batches to v2", rep, err)
			}
			rep, err = v.Rewrap(ctx, 2, System)
			if err != nil || rep.Rewrapped != 0 {
				t.Errorf("second Rewrap = %+v, %v; want nothing to do", rep, err)
			}
			checkAll("after rewrap")

			if err := v.RetireKEK(ctx, 2, staff); err != nil {
				t.Fatalf("RetireKEK(2) after rewrap = %v", err)
			}
			st, err = v.Status(ctx)
			if err != nil || st.KEK.MinDecrypt != 2 || fmt.Sprint(st.KEK.Versions) != "[2]" || st.Unrotated != 0 {
				t.Errorf("Status after retire = %+v, %v", st, err)
			}
			// Opening with a cold cache proves the keyring itself unwraps v2.
			cold, _ := newVault(t, kr, db, WithDEKCache(0, 0))
			for _, r := range recs {
				if _, err := cold.Open(ctx, db, r.s, AAD("r", r.s.Subject), r.ct); err != nil {
					t.Errorf("cold Open(%s) after retire = %v", r.s.Subject, err)
				}
			}
			// A wrapped key kept from before the rewrap no longer unwraps.
			if _, err := kr.Unwrap(ctx, oldWrap(t, kr)); err == nil {
				t.Error("Unwrap of a key wrapped under retired v1 succeeded")
			}

			want := []string{"vault.dek.create", "vault.dek.create", "vault.dek.create", "vault.dek.create", "vault.dek.create",
				"vault.kek.rotate", "vault.dek.create", "vault.dek.rewrap", "vault.dek.rewrap", "vault.dek.rewrap", "vault.kek.retire"}
			if diff := cmp.Diff(want, a.actions()); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
		})
	})
}

// oldWrap forges a wrapped key that claims KEK version 1, in kr's format.
func oldWrap(t *testing.T, kr Keyring) WrappedKey {
	switch kr.(type) {
	case *KeyFile:
		d := []byte("MDW1\x00\x00\x00\x01")
		d = append(d, make([]byte, nonceLen+tagLen+32)...)
		return WrappedKey{KEKVersion: 1, Data: d}
	default:
		return WrappedKey{KEKVersion: 1, Data: []byte("vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}
	}
}

func TestKeyFileSeesRotationByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	server := newKeyFile(t)
	operator, err := OpenKeyFile(server.Path()) // e.g. "madoguchi keys rotate"
	if err != nil {
		t.Fatal(err)
	}
	if v, err := operator.Rotate(ctx); err != nil || v != 2 {
		t.Fatalf("operator Rotate = %d, %v", v, err)
	}
	w, err := server.Wrap(ctx, []byte("k"))
	if err != nil || w.KEKVersion != 2 {
		t.Errorf("server Wrap after another process rotated = v%d, %v; want v2", w.KEKVersion, err)
	}
	w3, _ := operator.Rotate(ctx)
	_ = w3
	ow, err := operator.Wrap(ctx, []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := server.Unwrap(ctx, ow); err != nil || string(got) != "k" {
		t.Errorf("server Unwrap of a v%d key = %q, %v", ow.KEKVersion, got, err)
	}
}

func TestRewrapResumesAfterInterruption(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		kf := newKeyFile(t)
		v, _ := newVault(t, kf, db)
		for i := range 7 {
			seal(t, v, db, SubjectRef{"t", fmt.Sprint("s", i)}, nil, []byte("x"))
		}
		if _, err := v.RotateKEK(ctx, System); err != nil {
			t.Fatal(err)
		}
		// Cancel in the middle of the second batch: the first commits, the
		// second rolls back.
		cctx, cancel := context.WithCancel(ctx)
		n := 0
		stop := &cancelAfter{Keyring: kf, n: &n, after: 4, cancel: cancel}
		vi, _ := newVault(t, stop, db)
		vi.kr = stop
		rep, err := vi.Rewrap(cctx, 3, System)
		if !errors.Is(err, context.Canceled) || rep.Rewrapped != 3 {
			t.Fatalf("interrupted Rewrap = %+v, %v; want 3 rewrapped then context.Canceled", rep, err)
		}
		rep, err = v.Rewrap(ctx, 3, System)
		if err != nil || rep.Rewrapped != 4 {
			t.Errorf("resumed Rewrap = %+v, %v; want the remaining 4", rep, err)
		}
	})
}

// cancelAfter cancels a context at the n-th rewrap, like an operator's ^C.
type cancelAfter struct {
	Keyring
	n      *int
	after  int
	cancel context.CancelFunc
}

func (c *cancelAfter) Rewrap(ctx context.Context, w WrappedKey) (WrappedKey, error) {
	*c.n++
	if *c.n == c.after {
		c.cancel()
	}
	return c.Keyring.Rewrap(context.WithoutCancel(ctx), w)
}

func (c *cancelAfter) KEKStatus(ctx context.Context) (KEKStatus, error) {
	return c.Keyring.(KeyAdmin).KEKStatus(ctx)
}
func (c *cancelAfter) Rotate(ctx context.Context) (int, error) {
	return c.Keyring.(KeyAdmin).Rotate(ctx)
}
func (c *cancelAfter) Retire(ctx context.Context, m int) error {
	return c.Keyring.(KeyAdmin).Retire(ctx, m)
}

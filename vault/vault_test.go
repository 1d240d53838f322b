package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

var (
	alice = SubjectRef{Tenant: "ten_1", Subject: "sub_alice"}
	bob   = SubjectRef{Tenant: "ten_1", Subject: "sub_bob"}
	eve   = SubjectRef{Tenant: "ten_2", Subject: "sub_alice"} // same subject id, other tenant
)

func TestSealOpen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v, a := newVault(t, newKeyFile(t), db)
		aad := AAD("evidence", "rec_1")
		for _, pt := range [][]byte{nil, {}, []byte("山田太郎 1990-01-01"), bytes.Repeat([]byte{0xa5}, 1<<16)} {
			ct := seal(t, v, db, alice, aad, pt)
			if len(ct) != len(pt)+overhead {
				t.Errorf("len(Seal(%d bytes)) = %d, want %d", len(pt), len(ct), len(pt)+overhead)
			}
			if string(ct[:4]) != "MDV\x01" {
				t.Errorf("Seal header = %q, want MDV\\x01", ct[:4])
			}
			got, err := v.Open(ctx, db, alice, aad, ct)
			if err != nil || !bytes.Equal(got, pt) {
				t.Errorf("Open(Seal(%d bytes)) = %d bytes, %v; want the plaintext", len(pt), len(got), err)
			}
		}
		// Two seals of the same plaintext differ (fresh nonce).
		c1 := seal(t, v, db, alice, aad, []byte("x"))
		c2 := seal(t, v, db, alice, aad, []byte("x"))
		if bytes.Equal(c1, c2) {
			t.Error("Seal twice gave identical ciphertexts")
		}
		// One data key per subject, created once and audited once.
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM vault_deks WHERE tenant_id = ? AND subject_id = ?`, alice.Tenant, alice.Subject).Scan(&n); err != nil || n != 1 {
			t.Errorf("data keys for alice = %d, %v; want 1", n, err)
		}
		if diff := cmp.Diff([]string{"vault.dek.create"}, a.actions()); diff != "" {
			t.Errorf("audit actions (-want +got):\n%s", diff)
		}
	})
}

func TestOpenRefuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v, _ := newVault(t, newKeyFile(t), db)
		aad := AAD("evidence", "rec_1")
		ct := seal(t, v, db, alice, aad, []byte("secret personal data"))
		seal(t, v, db, bob, aad, []byte("bob's"))
		seal(t, v, db, eve, aad, []byte("eve's"))

		flip := func(i int) []byte {
			c := bytes.Clone(ct)
			c[i] ^= 0x01
			return c
		}
		tests := []struct {
			name string
			s    SubjectRef
			aad  []byte
			ct   []byte
			want error
		}{
			{"wrong aad", alice, AAD("evidence", "rec_2"), ct, ErrDecrypt},
			{"aad parts shifted", alice, AAD("evidenc", "erec_1"), ct, ErrDecrypt},
			{"nil aad", alice, nil, ct, ErrDecrypt},
			{"other subject", bob, aad, ct, ErrDecrypt},
			{"same subject id other tenant", eve, aad, ct, ErrDecrypt},
			{"never sealed subject", SubjectRef{"ten_1", "nobody"}, aad, ct, ErrDecrypt},
			{"unknown dek version", alice, aad, flip(6), ErrDecrypt}, // version 257: no such key
			{"dek version zero", alice, aad, flip(7), ErrFormat},
			{"flipped nonce", alice, aad, flip(prefixLen), ErrDecrypt},
			{"flipped body", alice, aad, flip(headerLen), ErrDecrypt},
			{"flipped tag", alice, aad, flip(len(ct) - 1), ErrDecrypt},
			{"truncated", alice, aad, ct[:len(ct)-1], ErrDecrypt},
			{"too short", alice, aad, ct[:overhead-1], ErrFormat},
			{"bad magic", alice, aad, flip(0), ErrFormat},
			{"bad format version", alice, aad, flip(3), ErrFormat},
			{"empty", alice, aad, nil, ErrFormat},
			{"invalid subject", SubjectRef{"", "x"}, aad, ct, ErrInvalidSubject},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := v.Open(ctx, db, tt.s, tt.aad, tt.ct)
				if !errors.Is(err, tt.want) {
					t.Errorf("Open = %q, %v; want %v", got, err, tt.want)
				}
				if got != nil {
					t.Errorf("Open returned %d plaintext bytes with an error", len(got))
				}
			})
		}
	})
}

func TestSealLimitsAndSubjects(t *testing.T) {
	db := storetest.SQLite(t)
	v, _ := newVault(t, newKeyFile(t), db, WithMaxPlaintext(10))
	ctx := context.Background()
	long := string(bytes.Repeat([]byte("x"), MaxIDLen+1))
	tests := []struct {
		s    SubjectRef
		pt   []byte
		want error
	}{
		{alice, make([]byte, 11), ErrTooLarge},
		{SubjectRef{"ten", ""}, nil, ErrInvalidSubject},
		{SubjectRef{long, "s"}, nil, ErrInvalidSubject},
		{SubjectRef{"ten", "a\x00b"}, nil, ErrInvalidSubject},
		{SubjectRef{"ten", "\xff"}, nil, ErrInvalidSubject},
	}
	for _, tt := range tests {
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := v.Seal(ctx, tx, tt.s, nil, tt.pt)
			return err
		})
		if !errors.Is(err, tt.want) {
			t.Errorf("Seal(%q, %d bytes) = %v, want %v", tt.s, len(tt.pt), err, tt.want)
		}
	}
}

func TestShred(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		kf := newKeyFile(t)
		v, a := newVault(t, kf, db)
		other, _ := newVault(t, kf, db) // a second instance with a warm cache
		aad := AAD("evidence", "rec_1")
		ca := seal(t, v, db, alice, aad, []byte("alice data"))
		cb := seal(t, v, db, bob, aad, []byte("bob data"))
		if _, err := other.Open(ctx, db, alice, aad, ca); err != nil {
			t.Fatalf("other.Open before shred = %v", err)
		}

		shred(t, v, db, alice)

		for name, vv := range map[string]*Vault{"shredding instance": v, "other instance": other} {
			if got, err := vv.Open(ctx, db, alice, aad, ca); !errors.Is(err, ErrShredded) {
				t.Errorf("%s: Open(alice) after shred = %q, %v; want ErrShredded", name, got, err)
			}
			if got, err := vv.Open(ctx, db, bob, aad, cb); err != nil || string(got) != "bob data" {
				t.Errorf("%s: Open(bob) after shredding alice = %q, %v; want bob data", name, got, err)
			}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := v.Seal(ctx, tx, alice, aad, []byte("new"))
			return err
		})
		if !errors.Is(err, ErrShredded) {
			t.Errorf("Seal(alice) after shred = %v, want ErrShredded", err)
		}
		if ok, err := v.Shredded(ctx, db, alice); !ok || err != nil {
			t.Errorf("Shredded(alice) = %v, %v; want true", ok, err)
		}
		if ok, err := v.Shredded(ctx, db, bob); ok || err != nil {
			t.Errorf("Shredded(bob) = %v, %v; want false", ok, err)
		}
		shred(t, v, db, alice) // idempotent
		// A subject shredded before any data was sealed never gets a key.
		fresh := SubjectRef{"ten_1", "sub_fresh"}
		shred(t, v, db, fresh)
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := v.Seal(ctx, tx, fresh, nil, []byte("x"))
			return err
		})
		if !errors.Is(err, ErrShredded) {
			t.Errorf("Seal(shredded fresh subject) = %v, want ErrShredded", err)
		}
		want := []string{"vault.dek.create", "vault.dek.create", "vault.subject.shred", "vault.subject.shred", "vault.subject.shred"}
		if diff := cmp.Diff(want, a.actions()); diff != "" {
			t.Errorf("audit actions (-want +got):\n%s", diff)
		}
	})
}

func TestConcurrentFirstSeal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v, _ := newVault(t, newKeyFile(t), db, WithDEKCache(0, 0))
		const n = 6
		cts := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = db.InTx(ctx, func(tx *store.Tx) error {
					var err error
					cts[i], err = v.Seal(ctx, tx, alice, AAD("r", fmt.Sprint(i)), []byte{byte(i)})
					return err
				})
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent Seal %d = %v", i, errs[i])
			}
			got, err := v.Open(ctx, db, alice, AAD("r", fmt.Sprint(i)), cts[i])
			if err != nil || !bytes.Equal(got, []byte{byte(i)}) {
				t.Errorf("Open(concurrent seal %d) = %v, %v", i, got, err)
			}
		}
		var keys int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM vault_deks`).Scan(&keys); err != nil || keys != 1 {
			t.Errorf("data keys after concurrent first seals = %d, %v; want 1", keys, err)
		}
	})
}

func TestWrappedKeyBoundToSubject(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		v, _ := newVault(t, newKeyFile(t), db, WithDEKCache(0, 0))
		seal(t, v, db, alice, nil, []byte("a"))
		cb := seal(t, v, db, bob, nil, []byte("b"))
		// An attacker with database access copies alice's wrapped key onto bob's row.
		if _, err := db.Exec(ctx, `UPDATE vault_deks SET wrapped = (SELECT wrapped FROM vault_deks WHERE subject_id = ?) WHERE subject_id = ?`,
			alice.Subject, bob.Subject); err != nil {
			t.Fatal(err)
		}
		if got, err := v.Open(ctx, db, bob, nil, cb); !errors.Is(err, ErrKeyring) {
			t.Errorf("Open with a transplanted wrapped key = %q, %v; want ErrKeyring", got, err)
		}
	})
}

func TestAAD(t *testing.T) {
	if bytes.Equal(AAD("ab", "c"), AAD("a", "bc")) {
		t.Error(`AAD("ab","c") == AAD("a","bc")`)
	}
	if got, want := AAD("k", "id"), []byte("\x00\x00\x00\x01k\x00\x00\x00\x02id"); !bytes.Equal(got, want) {
		t.Errorf("AAD(k, id) = %q, want %q", got, want)
	}
}

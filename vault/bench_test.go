package vault

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/madoguchi/madoguchi/store"
	"github.com/madoguchi/madoguchi/store/storetest"
)

var benchSizes = []int{1 << 10, 64 << 10, 1 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkRawGCM is the reference: crypto/aes GCM seal with a fresh random
// nonce, then open, with a key already expanded.
func BenchmarkRawGCM(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(blk)
	for _, n := range benchSizes {
		pt := make([]byte, n)
		b.Run("seal/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			nonce := make([]byte, 12)
			for b.Loop() {
				rand.Read(nonce)
				_ = g.Seal(nil, nonce, pt, nil)
			}
		})
		b.Run("open/"+sizeName(n), func(b *testing.B) {
			nonce := make([]byte, 12)
			ct := g.Seal(nil, nonce, pt, nil)
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := g.Open(nil, nonce, ct, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVault measures Seal and Open through the vault on SQLite with the
// key file keyring and the default DEK cache: each call reads the subject's
// key row, takes the cached key, expands it and runs AES-GCM. Seal runs
// inside one long transaction (no commit per call), as a request would.
func BenchmarkVault(b *testing.B) {
	ctx := context.Background()
	db := storetest.SQLite(b)
	v, _ := newVault(b, newKeyFile(b), db)
	aad := AAD("evidence", "rec_1")
	for _, n := range benchSizes {
		pt := make([]byte, n)
		b.Run("seal/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for b.Loop() {
					if _, err := v.Seal(ctx, tx, alice, aad, pt); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
		ct := seal(b, v, db, alice, aad, pt)
		b.Run("open/"+sizeName(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := v.Open(ctx, db, alice, aad, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

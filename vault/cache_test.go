package vault

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/madoguchi/madoguchi/store/storetest"
)

func TestDEKCache(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	c := newDEKCache(2, time.Minute, func() time.Time { return now })
	w := WrappedKey{KEKVersion: 1, Data: []byte("w")}
	subj := func(i int) SubjectRef { return SubjectRef{"t", fmt.Sprint("s", i)} }
	keys := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)}
	c.put(subj(0), 1, w, keys[0])
	c.put(subj(1), 1, w, keys[1])
	held := c.byID[cacheKey{"t", "s0", 1}].Value.(*cacheEntry).dek // the cache's own copy

	got, ok := c.get(subj(0), 1, w)
	if !ok || !bytes.Equal(got, keys[0]) {
		t.Fatalf("get(s0) = %x, %v; want the key", got, ok)
	}
	clear(got) // callers clear their copy; the cache's must survive
	if again, ok := c.get(subj(0), 1, w); !ok || !bytes.Equal(again, keys[0]) {
		t.Errorf("get(s0) after the caller cleared its copy = %x, %v", again, ok)
	}
	c.put(subj(2), 1, w, keys[2]) // evicts s1, the least recently used
	if _, ok := c.get(subj(1), 1, w); ok {
		t.Error("get(s1) hit after it should have been evicted (size 2)")
	}
	if _, ok := c.get(subj(0), 1, WrappedKey{KEKVersion: 2, Data: []byte("w")}); ok {
		t.Error("get with a different wrapped key (after rewrap) hit")
	}
	if !bytes.Equal(held, make([]byte, 32)) {
		t.Errorf("evicted key not zeroised: %x", held)
	}
	c.put(subj(0), 1, w, keys[0])
	now = now.Add(time.Minute)
	if _, ok := c.get(subj(0), 1, w); ok {
		t.Error("get hit after the TTL")
	}
	c.put(subj(2), 1, w, keys[2])
	c.evictSubject(subj(2))
	if _, ok := c.get(subj(2), 1, w); ok {
		t.Error("get hit after evictSubject")
	}
}

// TestCacheSavesKeyringCalls shows the cache's purpose: reading several of a
// subject's records costs one unwrap at the KMS.
func TestCacheSavesKeyringCalls(t *testing.T) {
	db := storetest.SQLite(t)
	tr, f := newTransit(t)
	v, _ := newVault(t, tr, db)
	var cts [][]byte
	for i := range 5 {
		cts = append(cts, seal(t, v, db, alice, AAD("r", fmt.Sprint(i)), []byte("x")))
	}
	for i, ct := range cts {
		if _, err := v.Open(context.Background(), db, alice, AAD("r", fmt.Sprint(i)), ct); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls["POST decrypt/madoguchi-kek"]; n != 0 {
		t.Errorf("KMS decrypt calls for 5 seals and 5 opens = %d, want 0 (key cached at creation)", n)
	}
	cold, _ := newVault(t, tr, db, WithDEKCache(0, 0))
	for i, ct := range cts {
		if _, err := cold.Open(context.Background(), db, alice, AAD("r", fmt.Sprint(i)), ct); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls["POST decrypt/madoguchi-kek"]; n != 5 {
		t.Errorf("KMS decrypt calls without a cache = %d, want 5", n)
	}
}

package vault

import (
	"bytes"
	"container/list"
	"sync"
	"time"
)

// dekCache keeps recently unwrapped data keys so that reading several of a
// subject's records costs one keyring call (a network round trip to a
// transit KMS) instead of one each. It is bounded in size and age; an evicted
// or expired key is overwritten with zeros. An entry is only used when the
// wrapped key in the database still matches the one it was unwrapped from,
// and the database row is read on every Open, so shredding (which deletes
// the row) takes effect at once on every instance regardless of the cache.
//
// Zeroising is best effort: Go may have copied key bytes during garbage
// collection, and crypto/aes keeps its own expanded key schedule, which is
// unreachable for clearing; the cache bounds how long we hold keys, it does
// not make memory forensics impossible.
type dekCache struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	now  func() time.Time
	ll   *list.List // front = most recently used
	byID map[cacheKey]*list.Element
}

type cacheKey struct {
	tenant, subject string
	ver             uint32
}

type cacheEntry struct {
	k       cacheKey
	kekVer  int
	wrapped []byte
	dek     []byte
	expires time.Time
}

func newDEKCache(max int, ttl time.Duration, now func() time.Time) *dekCache {
	return &dekCache{max: max, ttl: ttl, now: now, ll: list.New(), byID: make(map[cacheKey]*list.Element)}
}

// get returns a copy of the cached key for (s, ver) unwrapped from w.
func (c *dekCache) get(s SubjectRef, ver uint32, w WrappedKey) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{s.Tenant, s.Subject, ver}
	el, ok := c.byID[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) || e.kekVer != w.KEKVersion || !bytes.Equal(e.wrapped, w.Data) {
		c.remove(el)
		return nil, false
	}
	c.ll.MoveToFront(el)
	return append([]byte(nil), e.dek...), true
}

func (c *dekCache) put(s SubjectRef, ver uint32, w WrappedKey, dek []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{s.Tenant, s.Subject, ver}
	if el, ok := c.byID[k]; ok {
		c.remove(el)
	}
	e := &cacheEntry{k: k, kekVer: w.KEKVersion, wrapped: append([]byte(nil), w.Data...),
		dek: append([]byte(nil), dek...), expires: c.now().Add(c.ttl)}
	c.byID[k] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		c.remove(c.ll.Back())
	}
}

// evictSubject drops every cached key of s.
func (c *dekCache) evictSubject(s SubjectRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.ll.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*cacheEntry); e.k.tenant == s.Tenant && e.k.subject == s.Subject {
			c.remove(el)
		}
		el = next
	}
}

// purge drops every cached key.
func (c *dekCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.ll.Len() > 0 {
		c.remove(c.ll.Back())
	}
}

// remove unlinks el and zeroes its key. c.mu is held.
func (c *dekCache) remove(el *list.Element) {
	e := c.ll.Remove(el).(*cacheEntry)
	delete(c.byID, e.k)
	clear(e.dek)
}

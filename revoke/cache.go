package revoke

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Entry describes a value being cached: when it stops being valid, and the
// tags whose revocation drops it.
type Entry struct {
	// Expires is when the credential expires; the entry is never served at
	// or after it. A zero or past Expires is not cached.
	Expires time.Time
	// Tags name what revokes the value ("token:…", "client:…"); each is
	// 1..MaxTagLen printable ASCII bytes without spaces.
	Tags []string
}

// Loader reads a value from the store on a miss. Its error is returned to
// the caller and nothing is cached.
type Loader[V any] func(ctx context.Context) (V, Entry, error)

// Cache is a bounded map of verified values that a Watcher keeps honest.
// It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	w   *Watcher
	max int

	mu sync.RWMutex
	m  map[K]*entry[V]

	hits, misses atomic.Uint64
}

type entry[V any] struct {
	v       V
	expires int64 // Unix ns
	tags    []string
}

// DefaultMaxEntries is what NewCache uses for max <= 0.
const DefaultMaxEntries = 10000

// NewCache returns an empty cache of at most max entries (DefaultMaxEntries
// if max <= 0), registered with w.
func NewCache[K comparable, V any](w *Watcher, max int) *Cache[K, V] {
	if max <= 0 {
		max = DefaultMaxEntries
	}
	c := &Cache[K, V]{w: w, max: max, m: make(map[K]*entry[V])}
	w.register(c)
	return c
}

// ErrBadTag: an Entry names an empty, overlong or non-printable tag.
var ErrBadTag = errors.New("revoke: invalid tag")

// Get returns the value cached for key if the Watcher is fresh and the entry
// has not expired; otherwise it calls load and caches its result (unless an
// invalidation happened while load ran, or the Watcher is not fresh).
func (c *Cache[K, V]) Get(ctx context.Context, key K, load Loader[V]) (V, error) {
	now := c.w.cfg.Now()
	fresh := c.w.freshAt(now)
	if fresh {
		c.mu.RLock()
		e := c.m[key]
		c.mu.RUnlock()
		if e != nil && now.UnixNano() < e.expires {
			c.count(true)
			return e.v, nil
		}
	}
	c.count(false)
	gen := c.w.gen.Load()
	v, meta, err := load(ctx)
	if err != nil {
		return v, err
	}
	for _, t := range meta.Tags {
		if !validTag(t) || t == All {
			var zero V
			return zero, ErrBadTag
		}
	}
	if fresh && meta.Expires.After(now) {
		c.put(gen, key, &entry[V]{v: v, expires: meta.Expires.UnixNano(), tags: meta.Tags}, now)
	}
	return v, nil
}

func (c *Cache[K, V]) count(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

func (c *Cache[K, V]) put(gen uint64, key K, e *entry[V], now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.w.gen.Load() != gen {
		return // an invalidation ran while the value loaded: it may be stale
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		c.evictLocked(now)
	}
	c.m[key] = e
}

// evictLocked makes room: expired entries first, then arbitrary ones down to
// 7/8 of the limit, so a full cache does not pay a scan per insert.
func (c *Cache[K, V]) evictLocked(now time.Time) {
	ns := now.UnixNano()
	for k, e := range c.m {
		if e.expires <= ns {
			delete(c.m, k)
		}
	}
	target := c.max - max(1, c.max/8)
	for k := range c.m {
		if len(c.m) <= target {
			break
		}
		delete(c.m, k)
	}
}

func (c *Cache[K, V]) drop(tags map[string]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		for _, t := range e.tags {
			if tags[t] {
				delete(c.m, k)
				break
			}
		}
	}
}

func (c *Cache[K, V]) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// Len is the number of entries held (some may have expired).
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Counts returns the hits and misses so far.
func (c *Cache[K, V]) Counts() (hits, misses uint64) {
	return c.hits.Load(), c.misses.Load()
}

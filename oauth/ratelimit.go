package oauth

import (
	"sync"
	"time"

	"github.com/madoguchi/madoguchi/internal/cluster"
	"github.com/madoguchi/madoguchi/internal/ratelimit"
)

// Instances says how many instances of the server share the deployment's
// rate limits (Config.Instances). Count is read on every limited request:
// it must not block, and it is at least 1.
type Instances interface{ Count() int }

var _ Instances = (*cluster.Registry)(nil)

// limiter is a set of token buckets keyed by client or customer. The rate
// and burst it is asked for are the deployment's; each instance enforces
// its share of them (ratelimit.Share by the live instance count), so a
// client spreading its requests over the instances gets the deployment's
// rate. Buckets idle long enough to be full are dropped (once a minute).
type limiter struct {
	mu        sync.Mutex
	now       func() time.Time
	instances Instances // nil: one instance
	buckets   map[string]*ratelimit.Bucket
	swept     time.Time
}

func newLimiter(now func() time.Time, instances Instances) *limiter {
	return &limiter{now: now, instances: instances, buckets: map[string]*ratelimit.Bucket{}}
}

// allow takes one token from key's bucket (the deployment's rate per
// second and burst); when empty it reports how long to wait.
func (l *limiter) allow(key string, rate float64, burst int) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	n := 1
	if l.instances != nil {
		n = l.instances.Count()
	}
	r, b := ratelimit.Share(rate, float64(burst), n)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, bk := range l.buckets {
			if bk.Full(now) { // a new bucket starts full: nothing is given away
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	bk, ok := l.buckets[key]
	if !ok {
		bk = ratelimit.NewBucket(now, r, b)
		l.buckets[key] = bk
	}
	return bk.Take(now, r, b)
}

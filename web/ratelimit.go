package web

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

// limiter is a per-key token bucket: rate tokens per second, burst at most.
// Buckets idle long enough to refill are forgotten, so memory is bounded
// by the number of recently active clients.
//
// With instances set (the API's per-client and per-address limit), rate
// and burst are the deployment's: each instance enforces its share, the
// rate and burst divided by the live instance count (package cluster: a
// heartbeat every 5 s, a silent instance stops counting after 15 s; the
// burst never below 1). A client spreading its requests evenly over the
// instances gets the deployment's rate. An uneven load balancer can make it
// get less (it meets one instance's share first), never more: less is the
// safe side of a limit a bank publishes to its partners. (For up to one
// heartbeat after an instance joins, the others still divide by the old
// count: up to one share more; docs/scale-out.md.) Without instances (staff
// sign-in) the limits are this instance's.
type limiter struct {
	rate      float64
	burst     float64
	now       func() time.Time
	instances Instances

	mu      sync.Mutex
	buckets map[string]*ratelimit.Bucket
	sweep   time.Time
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	if now == nil {
		now = time.Now
	}
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*ratelimit.Bucket{}}
}

// allow takes one token for key. When none is left it returns false and how
// long until one will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	n := 1
	if l.instances != nil {
		n = l.instances.Count()
	}
	rate, burst := ratelimit.Share(l.rate, l.burst, n)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now, time.Duration(burst/rate*float64(time.Second)))
	b := l.buckets[key]
	if b == nil {
		b = ratelimit.NewBucket(now, rate, burst)
		l.buckets[key] = b
	}
	return b.Take(now, rate, burst)
}

// gc drops full buckets once per refill period.
func (l *limiter) gc(now time.Time, full time.Duration) {
	if now.Sub(l.sweep) < full {
		return
	}
	l.sweep = now
	for k, b := range l.buckets {
		if b.Full(now) {
			delete(l.buckets, k)
		}
	}
}

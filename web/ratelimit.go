package web

import (
	"time"

	"github.com/madoguchi/madoguchi/internal/ratelimit"
)

// Instances counts the live instances sharing the deployment's rate limits
// (Config.Instances; *cluster.Registry).
type Instances = ratelimit.Instances

// limiter is a per-key token bucket: rate tokens per second, burst at most.
// Buckets are forgotten once full again (checked once per refill period),
// so memory is bounded by the number of recently active keys. A nil
// limiter allows everything.
//
// With instances (the API's limit: per client, per address on the OAuth
// POST endpoints and the capture page, per staff member) rate and burst are
// the deployment's: each instance enforces its share, the rate and burst
// divided by the live instance count (package cluster: a heartbeat every
// 5 s, a silent instance stops counting after 15 s; the burst never below
// 1). A client spreading its requests evenly over the instances gets the
// deployment's rate. An uneven load balancer can make it get less (it
// meets one instance's share first), never more: less is the safe side of a
// limit a bank publishes to its partners. (For up to one heartbeat after an
// instance joins, the others still divide by the old count: up to one
// share more; docs/scale-out.md.) Without instances (staff sign-in) the
// limits are this instance's.
type limiter struct {
	rate, burst float64
	buckets     *ratelimit.Limiter
}

func newLimiter(rate float64, burst int, now func() time.Time, instances Instances) *limiter {
	full := time.Duration(float64(burst) / rate * float64(time.Second))
	return &limiter{rate: rate, burst: float64(burst), buckets: ratelimit.NewLimiter(now, instances, full)}
}

// allow takes one token for key. When none is left it returns false and how
// long until one will be.
func (l *limiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	return l.buckets.Allow(key, l.rate, l.burst)
}

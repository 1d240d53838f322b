// Package ratelimit keeps token buckets by key (oauth's per-client and
// per-customer buckets, web's per-client, per-address and per-staff
// buckets) in memory, and enforces on each instance its share of a limit
// meant for the whole deployment: the rate and burst divided by the live
// instance count (package cluster counts them).
//
// Invariants:
//   - A Limiter reads the instance count once per request, without a lock
//     or a store access, and never enforces more than rate/n, nor a burst
//     above burst/n except that the burst is never below 1: one request
//     must always be possible, so with a burst smaller than the instance
//     count the deployment's burst is the instance count (the steady rate
//     still holds).
//   - A bucket never holds more than the burst it is asked with, so a
//     larger instance count (a smaller share) caps a full bucket at once.
//   - Time since a bucket's last use refills it at the lower of the rate it
//     was last used with and the rate asked now. The moment the count
//     changed is unknown, so a smaller count (a larger share) is credited
//     only from now on: a change of count never overfills a bucket, and
//     never resets one.
//   - A bucket is forgotten only once it would be full even at the whole
//     deployment's burst (a new bucket starts full at this instance's
//     share, and the count may have fallen to 1 meanwhile).
//   - A clock that steps back refills nothing.
package ratelimit

import (
	"sync"
	"time"
)

// Instances counts the live instances that share the deployment's limits;
// *cluster.Registry satisfies it. Count is called on every limited request:
// it must not block, and it is at least 1.
type Instances interface{ Count() int }

// Limiter is a set of token buckets by key. The rate and burst it is asked
// for are the deployment's; it enforces this instance's share of them. It
// is safe for concurrent use.
type Limiter struct {
	now       func() time.Time
	instances Instances // nil: this instance alone
	sweep     time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
	swept   time.Time
}

// NewLimiter returns a limiter on the clock now (nil: time.Now) sharing
// its limits with instances (nil: none). At most once per sweep it forgets
// the buckets that are full again, bounding memory by the keys recently
// limited.
func NewLimiter(now func() time.Time, instances Instances, sweep time.Duration) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{now: now, instances: instances, sweep: sweep, buckets: map[string]*bucket{}}
}

// Allow takes one token from key's bucket for the deployment's rate (per
// second; 0 or less: no limit) and burst. When none is left it returns
// false and how long until one will be.
func (l *Limiter) Allow(key string, rate, burst float64) (bool, time.Duration) {
	if rate <= 0 {
		return true, 0
	}
	n := 1
	if l.instances != nil {
		n = l.instances.Count()
	}
	whole := burst
	rate, burst = share(rate, burst, n)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.sweep {
		for k, b := range l.buckets {
			if b.full(now) {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b := l.buckets[key]
	if b == nil {
		b = newBucket(now, rate, burst, whole)
		l.buckets[key] = b
	}
	b.whole = whole
	return b.take(now, rate, burst)
}

// share is one of n instances' part of a deployment's rate (per second)
// and burst: rate/n and burst/n, the burst never below 1. n below 1 counts
// as 1.
func share(rate, burst float64, n int) (float64, float64) {
	if n <= 1 {
		return rate, burst
	}
	return rate / float64(n), max(1, burst/float64(n))
}

// bucket is one key's token bucket.
type bucket struct {
	tokens float64
	rate   float64 // this instance's rate at the last take
	whole  float64 // the deployment's burst at the last take
	last   time.Time
}

// newBucket returns a bucket full at burst, this instance's share of the
// deployment's whole burst.
func newBucket(now time.Time, rate, burst, whole float64) *bucket {
	return &bucket{tokens: burst, rate: rate, whole: whole, last: now}
}

// take refills the bucket for the time since its last use and takes one
// token (rate per second, at most burst; rate > 0). When none is left it
// returns false and how long until one will be.
func (b *bucket) take(now time.Time, rate, burst float64) (bool, time.Duration) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens += el.Seconds() * min(b.rate, rate)
		b.last = now
	}
	b.tokens = min(b.tokens, burst)
	b.rate = rate
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// full reports whether the bucket, left alone since its last use, has
// refilled by now to the deployment's whole burst, at the rate of that
// use: forgetting it then gives nothing away, since a new bucket starts
// full at this instance's share of that burst, whatever the count is
// then. (Full at a share's burst only would not do: after the count
// falls, a kept bucket refills to the larger burst at the old rate, a new
// one starts there.)
func (b *bucket) full(now time.Time) bool {
	el := now.Sub(b.last)
	return el >= 0 && b.tokens+el.Seconds()*b.rate >= b.whole
}

// Package ratelimit is the token bucket the server's limiters keep per key
// (oauth's per-client and per-customer buckets, web's per-client bucket),
// and the split of a deployment's limit between its live instances
// (package cluster counts them).
//
// Invariants:
//   - Share never gives an instance more than rate/n, and a burst below 1
//     only where burst/n < 1: one request must always be possible, so with
//     a burst smaller than the instance count the deployment's burst is the
//     instance count; the steady rate still holds.
//   - A bucket never holds more than the burst it is asked with, so a
//     larger instance count (a smaller share) caps a full bucket at once.
//   - Time since a bucket's last use refills it at the lower of the rate it
//     was last used with and the rate asked now. The moment the count
//     changed is unknown, so a smaller count (a larger share) is credited
//     only from now on: a change of count never overfills a bucket.
//   - A clock that steps back refills nothing.
package ratelimit

import "time"

// Share is one of n instances' part of a deployment's rate (per second)
// and burst: rate/n and burst/n, the burst never below 1. n below 1 counts
// as 1.
func Share(rate, burst float64, n int) (float64, float64) {
	if n <= 1 {
		return rate, burst
	}
	return rate / float64(n), max(1, burst/float64(n))
}

// Bucket is one key's token bucket. Its owner serialises calls.
type Bucket struct {
	tokens float64
	rate   float64 // the rate and burst of the last Take
	burst  float64
	last   time.Time
}

// NewBucket returns a full bucket.
func NewBucket(now time.Time, rate, burst float64) *Bucket {
	return &Bucket{tokens: burst, rate: rate, burst: burst, last: now}
}

// Take refills the bucket for the time since its last use and takes one
// token (rate per second, at most burst; rate > 0). When none is left it
// returns false and how long until one will be.
func (b *Bucket) Take(now time.Time, rate, burst float64) (bool, time.Duration) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens += el.Seconds() * min(b.rate, rate)
		b.last = now
	}
	b.tokens = min(b.tokens, burst)
	b.rate, b.burst = rate, burst
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// Full reports whether the bucket, left alone since its last use, has
// refilled to the burst of that use by now: forgetting it then gives
// nothing away, since a new bucket starts full.
func (b *Bucket) Full(now time.Time) bool {
	el := now.Sub(b.last)
	return el >= 0 && b.tokens+el.Seconds()*b.rate >= b.burst
}

package portal

import (
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// signInLimiter slows password guessing from one address across accounts
// (the staff directory slows it per account): a token bucket per client
// address for the sign-in and re-authentication posts. It is per instance
// and in memory; entries idle for an hour are dropped.
type signInLimiter struct {
	mu      sync.Mutex
	perMin  float64
	burst   float64
	now     func() time.Time
	buckets map[netip.Addr]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultSignInRate is how many sign-in attempts per minute one address
// may make (also the burst).
const DefaultSignInRate = 30

func newSignInLimiter(perMin int, now func() time.Time) *signInLimiter {
	if perMin <= 0 {
		perMin = DefaultSignInRate
	}
	return &signInLimiter{perMin: float64(perMin), burst: float64(perMin), now: now, buckets: map[netip.Addr]*bucket{}}
}

// allow takes a token for addr.
func (l *signInLimiter) allow(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.swept) > time.Hour {
		for a, b := range l.buckets {
			if now.Sub(b.last) > time.Hour {
				delete(l.buckets, a)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[addr]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Minutes()*l.perMin)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var errSignInRate = &statusError{http.StatusTooManyRequests, "error.too_many"}

// limitSignIn is what the sign-in handlers call first.
func (rq *Request) limitSignIn() error {
	if !rq.s.limit.allow(rq.ip) {
		return errSignInRate
	}
	return nil
}

package oauth

import (
	"testing"
	"time"
)

// instanceCount is a fixed live-instance count.
type instanceCount int

func (n instanceCount) Count() int { return int(n) }

// TestLimiterShare: each instance enforces its share of a deployment
// limit (per client: rate/s, bursts of burst; per customer: the same
// limiter at rate/60): with n live instances, 1/n of the burst (never
// below 1) and 1/n of the rate, and a Retry-After n times as long.
func TestLimiterShare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		instances  Instances
		rate       float64
		burst      int
		step       time.Duration // the test's clock moves by step, steps times
		steps      int
		wantBurst  int // quick requests allowed
		wantSteady int // allowed over the steps, one try per step
		wantWait   time.Duration
	}{
		{"no registry", nil, 1, 2, time.Second, 10, 2, 10, time.Second},
		{"one instance", instanceCount(1), 1, 2, time.Second, 10, 2, 10, time.Second},
		{"two instances", instanceCount(2), 1, 2, time.Second, 10, 1, 5, 2 * time.Second},
		{"three instances", instanceCount(3), 30, 60, time.Second, 10, 20, 100, time.Second / 10},
		{"four instances: the burst never below 1", instanceCount(4), 1, 2, time.Second, 10, 1, 2, 4 * time.Second},
		{"two instances, a customer at 6 a minute", instanceCount(2), 6.0 / 60, 1, 10 * time.Second, 6, 1, 3, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			l := newLimiter(func() time.Time { return now }, tc.instances)
			got := 0
			var wait time.Duration
			for range tc.wantBurst + 5 {
				ok, w := l.allow("client:c1", tc.rate, tc.burst)
				if ok {
					got++
				} else {
					wait = w
				}
			}
			if got != tc.wantBurst || wait != tc.wantWait {
				t.Errorf("quick requests: %d allowed, then wait %v; want %d, %v", got, wait, tc.wantBurst, tc.wantWait)
			}
			got = 0
			for range tc.steps {
				now = now.Add(tc.step)
				for {
					ok, _ := l.allow("client:c1", tc.rate, tc.burst)
					if !ok {
						break
					}
					got++
				}
			}
			if got != tc.wantSteady {
				t.Errorf("over %v: %d allowed, want %d", time.Duration(tc.steps)*tc.step, got, tc.wantSteady)
			}
		})
	}
}

// TestLimiterSweep: a bucket is forgotten only once it is full again, so
// forgetting it gives nothing away, even at a small share's slow rate.
func TestLimiterSweep(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newLimiter(func() time.Time { return now }, instanceCount(20))
	// 6 a minute over 20 instances: 0.005/s here, 200 s to refill one.
	if ok, _ := l.allow("customer:t\x00a", 6.0/60, 1); !ok {
		t.Fatal("first request refused")
	}
	for _, tc := range []struct {
		after      time.Duration
		wantBucket bool
	}{
		{90 * time.Second, true},   // swept, not yet full
		{120 * time.Second, false}, // 210 s after the request: full, forgotten
	} {
		now = now.Add(tc.after)
		l.allow("client:other", 1, 2) // sweeps
		if _, ok := l.buckets["customer:t\x00a"]; ok != tc.wantBucket {
			t.Errorf("%v later: bucket kept %v, want %v", tc.after, ok, tc.wantBucket)
		}
	}
}

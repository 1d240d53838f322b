package ratelimit

import (
	"testing"
	"time"
)

func TestShare(t *testing.T) {
	for _, tc := range []struct {
		rate, burst float64
		n           int
		wantRate    float64
		wantBurst   float64
	}{
		{10, 20, 1, 10, 20},
		{10, 20, 0, 10, 20}, // no count yet: one instance
		{10, 20, -3, 10, 20},
		{10, 20, 2, 5, 10},
		{10, 20, 3, 10.0 / 3, 20.0 / 3},
		{1, 2, 2, 0.5, 1},
		{1, 2, 4, 0.25, 1}, // the burst never below 1
		{2.0 / 60, 1, 2, 1.0 / 60, 1},
	} {
		r, b := share(tc.rate, tc.burst, tc.n)
		if r != tc.wantRate || b != tc.wantBurst {
			t.Errorf("share(%v, %v, %d) = %v, %v, want %v, %v", tc.rate, tc.burst, tc.n, r, b, tc.wantRate, tc.wantBurst)
		}
	}
}

// step is one moment of a bucket's life: after advancing the clock by
// wait, take tries times at the share of n instances, of which want
// succeed.
type step struct {
	wait  time.Duration
	n     int
	tries int
	want  int
}

// TestBucket: a deployment limit of 1/s, bursts of 2, as one instance
// sees it while the instance count changes. A change of count neither
// resets a bucket nor overfills it.
func TestBucket(t *testing.T) {
	const rate, burst = 1, 2
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"one instance: the burst, then the rate", []step{
			{0, 1, 3, 2}, {time.Second, 1, 2, 1}, {3 * time.Second, 1, 3, 2},
		}},
		{"two instances: half the burst and half the rate", []step{
			{0, 2, 3, 1}, {time.Second, 2, 1, 0}, {time.Second, 2, 2, 1}, {10 * time.Second, 2, 3, 1},
		}},
		{"a count that rises caps a full bucket at the smaller burst", []step{
			{0, 1, 1, 1}, {10 * time.Second, 2, 3, 1},
		}},
		{"a count that rises refills at the smaller rate", []step{
			{0, 1, 2, 2}, {time.Second, 2, 1, 0}, {time.Second, 2, 1, 1},
		}},
		{"a count that falls refills the time before at the old, smaller rate", []step{
			// Emptied at 0.5/s; 1 s later the count is 1 (1/s), but the
			// second counts at 0.5/s: half a token, not one.
			{0, 2, 1, 1}, {time.Second, 1, 1, 0},
			// From the fall on, 1/s: 0.5 + 0.5 s × 1/s is one token.
			{500 * time.Millisecond, 1, 2, 1},
		}},
		{"a count that falls does not reset the bucket", []step{
			{0, 2, 1, 1}, {0, 1, 2, 0},
		}},
		{"a count that falls lets the bucket grow to the larger burst", []step{
			{0, 2, 1, 1}, {0, 1, 1, 0}, {10 * time.Second, 1, 3, 2},
		}},
		{"a clock that steps back refills nothing", []step{
			{0, 1, 2, 2}, {-time.Hour, 1, 1, 0}, {time.Hour, 1, 1, 0},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			r0, b0 := share(rate, burst, tc.steps[0].n)
			b := newBucket(now, r0, b0, burst)
			for i, s := range tc.steps {
				now = now.Add(s.wait)
				r, bu := share(rate, burst, s.n)
				got := 0
				for range s.tries {
					if ok, wait := b.take(now, r, bu); ok {
						got++
					} else if wait <= 0 {
						t.Errorf("step %d: refused with wait %v", i, wait)
					}
				}
				if got != s.want {
					t.Fatalf("step %d (%v later, %d instances): %d of %d taken, want %d", i, s.wait, s.n, got, s.tries, s.want)
				}
			}
		})
	}
}

// TestBucketFull: a bucket is full (and can be forgotten) only once it has
// refilled to the burst of its last use, at that use's rate.
func TestBucketFull(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		rate, bu float64
		taken    int
		idle     time.Duration
		wantFull bool
	}{
		{"untouched", 1, 2, 0, 0, true},
		{"one taken, not yet back", 1, 2, 1, 500 * time.Millisecond, false},
		{"one taken, back", 1, 2, 1, time.Second, true},
		{"at a share's slow rate", 0.25, 1, 1, 3 * time.Second, false},
		{"a clock that stepped back", 1, 2, 0, -time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(now, tc.rate, tc.bu, tc.bu)
			for range tc.taken {
				b.take(now, tc.rate, tc.bu)
			}
			if got := b.full(now.Add(tc.idle)); got != tc.wantFull {
				t.Errorf("full(%v after %d taken) = %v, want %v", tc.idle, tc.taken, got, tc.wantFull)
			}
		})
	}
}

// instanceCount is a fixed live-instance count.
type instanceCount int

func (n instanceCount) Count() int { return int(n) }

// countFunc is a count that changes under the test.
type countFunc func() int

func (f countFunc) Count() int { return f() }

// TestLimiterShare: a Limiter enforces its share of a deployment limit
// (oauth's per client: rate/s, bursts of twice that; per customer: rate a
// minute; web's per client): with n live instances, 1/n of the burst
// (never below 1) and 1/n of the rate, and a wait n times as long.
func TestLimiterShare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		instances  Instances
		rate       float64
		burst      float64
		step       time.Duration // the clock moves by step, steps times
		steps      int
		wantBurst  int // quick requests allowed
		wantSteady int // allowed over the steps
		wantWait   time.Duration
	}{
		{"no instance count", nil, 1, 2, time.Second, 10, 2, 10, time.Second},
		{"one instance", instanceCount(1), 1, 2, time.Second, 10, 2, 10, time.Second},
		{"two instances", instanceCount(2), 1, 2, time.Second, 10, 1, 5, 2 * time.Second},
		{"three instances", instanceCount(3), 30, 60, time.Second, 10, 20, 100, time.Second / 10},
		{"two instances, a burst of 5: 2.5 each", instanceCount(2), 4, 5, time.Second, 10, 2, 20, time.Second / 4},
		{"four instances: the burst never below 1", instanceCount(4), 1, 2, time.Second, 10, 1, 2, 4 * time.Second},
		{"two instances, a customer at 6 a minute", instanceCount(2), 6.0 / 60, 1, 10 * time.Second, 6, 1, 3, 20 * time.Second},
		{"no limit", instanceCount(2), 0, 0, time.Second, 1, 25, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			l := NewLimiter(func() time.Time { return now }, tc.instances, time.Minute)
			got := 0
			var wait time.Duration
			for range 25 {
				if ok, w := l.Allow("client:c1", tc.rate, tc.burst); ok {
					got++
				} else {
					wait = w
				}
			}
			if got != tc.wantBurst || wait != tc.wantWait {
				t.Errorf("25 quick requests: %d allowed, then wait %v; want %d, %v", got, wait, tc.wantBurst, tc.wantWait)
			}
			if tc.rate <= 0 {
				return
			}
			got = 0
			for range tc.steps {
				now = now.Add(tc.step)
				for ok := true; ok; {
					if ok, _ = l.Allow("client:c1", tc.rate, tc.burst); ok {
						got++
					}
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
	l := NewLimiter(func() time.Time { return now }, instanceCount(20), time.Minute)
	// 6 a minute over 20 instances: 0.005/s here, 200 s to refill one.
	if ok, _ := l.Allow("customer:a", 6.0/60, 1); !ok {
		t.Fatal("first request refused")
	}
	for _, tc := range []struct {
		after      time.Duration
		wantBucket bool
	}{
		{30 * time.Second, true},   // not swept (once a minute)
		{60 * time.Second, true},   // swept, not yet full
		{120 * time.Second, false}, // 210 s after the request: full, forgotten
	} {
		now = now.Add(tc.after)
		l.Allow("client:other", 1, 2) // sweeps when due
		if _, ok := l.buckets["customer:a"]; ok != tc.wantBucket {
			t.Errorf("%v later: bucket kept %v, want %v", tc.after, ok, tc.wantBucket)
		}
	}
}

// FuzzLimiterNeverOverfills: whatever the sequence of waits, instance
// counts and requests, a key gets at most its first share's burst plus,
// for each wait, the wait times the smaller of the shares' rates before
// and after it: a change of count never credits time at a rate the
// instance was not enforcing.
func FuzzLimiterNeverOverfills(f *testing.F) {
	f.Add([]byte{0, 0x05, 100, 0x11, 200, 0x02, 0, 0x33})
	f.Add([]byte{255, 0xff, 255, 0x00, 1, 0x01})
	f.Fuzz(func(t *testing.T, steps []byte) {
		const rate, burst = 3, 5
		now := time.Unix(1_800_000_000, 0)
		count := 1
		l := NewLimiter(func() time.Time { return now }, countFunc(func() int { return count }), time.Second)
		var bound float64
		prev := -1.0
		allowed := 0
		for i := 0; i+1 < len(steps); i += 2 {
			wait := time.Duration(steps[i]) * 10 * time.Millisecond
			count = 1 + int(steps[i+1]%4)
			tries := 1 + int(steps[i+1]>>2)%8
			now = now.Add(wait)
			r, b := share(rate, burst, count)
			if prev < 0 {
				bound = b
			} else {
				bound += wait.Seconds() * min(prev, r)
			}
			prev = r
			for range tries {
				if ok, _ := l.Allow("k", rate, burst); ok {
					allowed++
				}
			}
			if float64(allowed) > bound+1e-9 {
				t.Fatalf("step %d: %d allowed, more than the %.3f tokens the shares earned", i/2, allowed, bound)
			}
		}
	})
}

// TestLimiterSweepAfterCountFalls: a bucket full at a share's burst is
// not forgotten while the count may still fall, which would hand out the
// whole burst at once (FuzzLimiterNeverOverfills found it): it refills to
// the larger burst at the old rate instead.
func TestLimiterSweepAfterCountFalls(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	count := 4
	l := NewLimiter(func() time.Time { return now }, countFunc(func() int { return count }), time.Second)
	// 4/s, bursts of 4, over 4 instances: 1/s, a burst of 1 here.
	if ok, _ := l.Allow("k", 4, 4); !ok {
		t.Fatal("first request refused")
	}
	now = now.Add(2 * time.Second) // full at the share's burst
	count = 1
	got := 0
	for range 5 {
		if ok, _ := l.Allow("k", 4, 4); ok {
			got++
		}
	}
	if got != 2 {
		t.Errorf("after 2 s at 1/s and the count falling to 1: %d allowed, want 2 (not the whole burst of 4)", got)
	}
}

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
		r, b := Share(tc.rate, tc.burst, tc.n)
		if r != tc.wantRate || b != tc.wantBurst {
			t.Errorf("Share(%v, %v, %d) = %v, %v, want %v, %v", tc.rate, tc.burst, tc.n, r, b, tc.wantRate, tc.wantBurst)
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
			r0, b0 := Share(rate, burst, tc.steps[0].n)
			b := NewBucket(now, r0, b0)
			for i, s := range tc.steps {
				now = now.Add(s.wait)
				r, bu := Share(rate, burst, s.n)
				got := 0
				for range s.tries {
					if ok, wait := b.Take(now, r, bu); ok {
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

// TestFull: a bucket is full (and can be forgotten) only once it has
// refilled to the burst of its last use, at that use's rate.
func TestFull(t *testing.T) {
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
			b := NewBucket(now, tc.rate, tc.bu)
			for range tc.taken {
				b.Take(now, tc.rate, tc.bu)
			}
			if got := b.Full(now.Add(tc.idle)); got != tc.wantFull {
				t.Errorf("Full(%v after %d taken) = %v, want %v", tc.idle, tc.taken, got, tc.wantFull)
			}
		})
	}
}

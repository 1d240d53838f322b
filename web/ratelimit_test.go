package web

import (
	"testing"
	"time"
)

// instanceCount is a fixed live-instance count.
type instanceCount int

func (n instanceCount) Count() int { return int(n) }

// TestLimiterShare: the API's per-client limit (--rate-limit, --rate-burst)
// is the deployment's: with n live instances each allows 1/n of the burst
// (never below 1) and 1/n of the rate. Staff sign-in limits stay this
// instance's.
func TestLimiterShare(t *testing.T) {
	for _, tc := range []struct {
		name       string
		instances  Instances
		rate       float64
		burst      int
		wantBurst  int // quick requests allowed
		wantSteady int // allowed over the next 10 s, one try a second
		wantWait   time.Duration
	}{
		{"no registry", nil, 1, 2, 2, 10, time.Second},
		{"one instance", instanceCount(1), 1, 2, 2, 10, time.Second},
		{"two instances", instanceCount(2), 1, 2, 1, 5, 2 * time.Second},
		{"two instances, default burst (5: 2.5 each)", instanceCount(2), 4, 0, 2, 20, time.Second / 4},
		{"four instances: the burst never below 1", instanceCount(4), 1, 2, 1, 2, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			s := New(Config{RateLimit: tc.rate, Burst: tc.burst, Instances: tc.instances, Now: func() time.Time { return now }})
			got := 0
			var wait time.Duration
			for range tc.wantBurst + 5 {
				if ok, w := s.limit.allow("client:c1"); ok {
					got++
				} else {
					wait = w
				}
			}
			if got != tc.wantBurst || wait != tc.wantWait {
				t.Errorf("quick requests: %d allowed, then wait %v; want %d, %v", got, wait, tc.wantBurst, tc.wantWait)
			}
			got = 0
			for range 10 {
				now = now.Add(time.Second)
				for ok := true; ok; {
					if ok, _ = s.limit.allow("client:c1"); ok {
						got++
					}
				}
			}
			if got != tc.wantSteady {
				t.Errorf("over 10 s: %d allowed, want %d", got, tc.wantSteady)
			}
			if s.signIn.perAddress.instances != nil || s.signIn.global.instances != nil {
				t.Error("staff sign-in limits divided by the instance count")
			}
		})
	}
}

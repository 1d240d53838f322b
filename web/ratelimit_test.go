package web

import (
	"testing"
	"time"
)

type fixedInstances int

func (n fixedInstances) Count() int { return int(n) }

// TestRateLimitInstances: Config.Instances divides the API's limit
// (--rate-limit, --rate-burst) between the live instances (the limiter's
// arithmetic is internal/ratelimit's); staff sign-in limits stay this
// instance's.
func TestRateLimitInstances(t *testing.T) {
	for _, tc := range []struct {
		name      string
		instances Instances
		burst     int
		want      int // quick requests allowed
	}{
		{"no registry", nil, 4, 4},
		{"one instance", fixedInstances(1), 4, 4},
		{"two instances", fixedInstances(2), 4, 2},
		{"two instances, default burst (3)", fixedInstances(2), 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1_800_000_000, 0)
			s := New(Config{RateLimit: 2, Burst: tc.burst, Instances: tc.instances, Now: func() time.Time { return now },
				SignIn: SignInLimits{PerAddress: 1, PerAddressBurst: 4}})
			got := 0
			for range 10 {
				if ok, _ := s.limit.allow("client:c1"); ok {
					got++
				}
			}
			if got != tc.want {
				t.Errorf("10 quick requests, burst %d: %d allowed, want %d", tc.burst, got, tc.want)
			}
			signIns := 0
			for range 10 {
				if ok, _ := s.signIn.perAddress.allow("login:192.0.2.1"); ok {
					signIns++
				}
			}
			if signIns != 4 {
				t.Errorf("10 quick sign-ins, burst 4: %d allowed, want 4 (this instance's limit)", signIns)
			}
		})
	}
}

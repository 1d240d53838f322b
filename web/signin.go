package web

import (
	"fmt"
	"time"
)

// SignInLimits bound staff sign-in attempts before any password work: a
// token bucket per client address (slows spraying from one address) and
// one for the whole server (bounds the argon2id work all addresses
// together can ask for; the staff directory's hash gate bounds the memory).
// Zero fields take the defaults; a negative rate disables that limit.
type SignInLimits struct {
	PerAddress      float64 // attempts per second per address (default 1)
	PerAddressBurst int     // default 20
	Global          float64 // attempts per second in total (default 20)
	GlobalBurst     int     // default 40
}

type signInLimiters struct{ perAddress, global *limiter }

func newSignInLimiters(l SignInLimits, now func() time.Time) signInLimiters {
	mk := func(rate float64, burst int, defRate float64, defBurst int) *limiter {
		switch {
		case rate < 0:
			return nil
		case rate == 0:
			rate = defRate
		}
		if burst <= 0 {
			burst = max(defBurst, int(rate)+1)
		}
		return newLimiter(rate, burst, now, nil)
	}
	return signInLimiters{
		perAddress: mk(l.PerAddress, l.PerAddressBurst, 1, 20),
		global:     mk(l.Global, l.GlobalBurst, 20, 40),
	}
}

// SignInBackoffError is what a StaffSessions implementation returns while
// the (username, address) pair is in backoff; it matches ErrSignInBackoff.
// It must be returned alike for unknown usernames.
type SignInBackoffError struct{ RetryAfter time.Duration }

func (e *SignInBackoffError) Error() string {
	return fmt.Sprintf("sign-in backoff: retry after %v", e.RetryAfter)
}

// Is makes errors.Is(err, ErrSignInBackoff) true.
func (e *SignInBackoffError) Is(target error) bool { return target == ErrSignInBackoff }

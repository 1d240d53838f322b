package oauth

import (
	"time"

	"github.com/madoguchi/madoguchi/internal/ratelimit"
)

// Instances counts the live instances sharing the deployment's rate limits
// (Config.Instances; *cluster.Registry).
type Instances = ratelimit.Instances

// limiter keeps the per-client and per-customer buckets: the profiles'
// rates are the deployment's, and this instance enforces its share.
type limiter = ratelimit.Limiter

func newLimiter(now func() time.Time, instances Instances) *limiter {
	return ratelimit.NewLimiter(now, instances, time.Minute)
}

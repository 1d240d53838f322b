package store

import "time"

// timeNow is the store's clock for bookkeeping columns (applied_at).
func timeNow() time.Time { return time.Now() }

// Package periodic runs a background job on a ticker until its context
// ends: the sweeps and expiries the server owns (expired OAuth requests,
// sign-in bindings, due confirmations, orphaned blobs). Its owner starts
// it in a goroutine and stops it by cancelling ctx.
package periodic

import (
	"context"
	"time"
)

// Run calls job every interval until ctx ends. A job's error goes to
// failed, unless it is only ctx ending; the next tick runs the job again.
func Run(ctx context.Context, every time.Duration, job func(context.Context) error, failed func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := job(ctx); err != nil && ctx.Err() == nil {
			failed(err)
		}
	}
}

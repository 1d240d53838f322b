package periodic

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestRun: the job runs on every tick until ctx ends, Run then returns,
// and each failure is reported, while the error of a job ended by ctx is
// not.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var runs, failures atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, time.Millisecond, func(ctx context.Context) error {
			if runs.Add(1) >= 3 {
				cancel()
				return ctx.Err() // ended by ctx: not a failure
			}
			return errors.New("boom")
		}, func(error) { failures.Add(1) })
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if runs.Load() != 3 || failures.Load() != 2 {
		t.Errorf("runs %d, failures %d; want 3 and 2", runs.Load(), failures.Load())
	}
}

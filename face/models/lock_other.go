//go:build !unix

package models

import (
	"context"
	"errors"
	"os"
	"time"
)

// lockDir takes a lock by creating p exclusively, waiting until it is free or
// ctx is done. Unlike the flock of unix systems, a crash leaves the file
// behind; remove it by hand.
func lockDir(ctx context.Context, p string) (func(), error) {
	for {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			return func() { os.Remove(p) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

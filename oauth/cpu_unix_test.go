//go:build unix

package oauth

import (
	"syscall"
	"time"
)

// cpuNow is the process's user+system CPU time over all its threads. On a
// machine shared with other work, CPU time per operation is what a path
// costs; wall time per operation also measures the neighbours.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

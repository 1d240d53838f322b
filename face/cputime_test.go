//go:build unix

package face

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time. On a shared machine wall
// time includes waiting for a core; CPU time does not.
func cpuTime() time.Duration {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

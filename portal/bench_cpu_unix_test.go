//go:build unix

package portal

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) the test process has used:
// per-request CPU stays meaningful on a machine busy with other work,
// where wall times stretch with the load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

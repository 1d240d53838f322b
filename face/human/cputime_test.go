//go:build unix

package human

import (
	"syscall"
	"testing"
	"time"
)

// reportCPU adds a cpu-ms/op metric: process CPU time per iteration. On a
// shared machine wall time (ns/op) includes waiting for a core; CPU time
// does not (it does include the work of all goroutines).
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime() time.Duration {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

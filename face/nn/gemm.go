package nn

import (
	"runtime"
	"sync"
)

// gemm computes c += a*b for row-major a [m][k], b [k][n], c [m][n].
func gemm(m, n, k int, a, b, c []float32) {
	i := 0
	if useAsm && n >= 8 {
		i = gemmAsm(m, n, k, a, b, c)
	}
	for ; i < m; i++ {
		ci := c[i*n : (i+1)*n]
		ai := a[i*k : (i+1)*k]
		for p, av := range ai {
			if av == 0 {
				continue
			}
			bp := b[p*n : (p+1)*n]
			for j := range ci {
				ci[j] += av * bp[j]
			}
		}
	}
}

// mulAdd computes o += x*w element-wise.
func mulAdd(o, x, w []float32) {
	i0 := mulAddAsm(o, x, w)
	x = x[:len(o)]
	w = w[:len(o)]
	for i := i0; i < len(o); i++ {
		o[i] += x[i] * w[i]
	}
}

// parallelFor splits [0,n) into blocks of at least grain items and runs fn on
// them, using up to GOMAXPROCS goroutines when the work (n*cost) is large
// enough to pay for them. fn must only write to its own block's output.
func parallelFor(n, grain, cost int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers <= 1 || n*cost < 1<<18 || n <= grain {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	blocks := (n + grain - 1) / grain
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(workers, blocks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += grain
				mu.Unlock()
				if lo >= n {
					return
				}
				fn(lo, min(lo+grain, n))
			}
		}()
	}
	wg.Wait()
}

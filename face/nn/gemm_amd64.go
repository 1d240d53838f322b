//go:build amd64 && !purego

package nn

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAsm is true when the CPU has AVX2 and FMA; otherwise the pure-Go
// kernels run (build tag purego forces them).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func kern4x16(k int, a *float32, lda uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr)

//go:noescape
func kern1x16(k int, a *float32, b *float32, ldb uintptr, c *float32)

//go:noescape
func kern4x8(k int, a *float32, lda uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr)

//go:noescape
func kern1x8(k int, a *float32, b *float32, ldb uintptr, c *float32)

//go:noescape
func mulAdd8(n int, o, x, w *float32)

//go:noescape
func max8(n int, o, x *float32)

// maxAsm sets o = max(o, x) on the first len(o)&^7 values and returns how many.
func maxAsm(o, x []float32) int {
	n8 := len(o) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	_ = x[len(o)-1]
	max8(n8, unsafe.SliceData(o), unsafe.SliceData(x))
	return n8
}

//go:noescape
func clamp8(n int, p *float32, lo, hi float32)

//go:noescape
func dwRow(npix, c int, o, x *float32, xstep uintptr, w *float32)

// clampAsm clamps d[:len(d)&^7] to [lo, hi] and returns how many it did.
func clampAsm(d []float32, lo, hi float32) int {
	n8 := len(d) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	clamp8(n8, unsafe.SliceData(d), lo, hi)
	return n8
}

// dwRowAsm: see dwRow. It reports false when the kernel cannot be used.
func dwRowAsm(npix, c int, o, x []float32, xstep int, w []float32) bool {
	if !useAsm || c%8 != 0 || npix <= 0 {
		return false
	}
	_ = o[npix*c-1]
	_ = x[(npix-1)*xstep+c-1]
	_ = w[c-1]
	dwRow(npix, c, unsafe.SliceData(o), unsafe.SliceData(x), uintptr(xstep)*4, unsafe.SliceData(w))
	return true
}

// gemmAsm computes c += a*b for the columns [0, n&^15) of all rows with the
// AVX2 kernels and the remaining columns in Go. It returns m: all rows done.
func gemmAsm(m, n, k int, a, b, c []float32) int {
	if k == 0 {
		return m
	}
	n16 := n &^ 15
	m4 := m &^ 3
	_ = a[m*k-1]
	_ = b[k*n-1]
	_ = c[m*n-1]
	lda, ldb := uintptr(k)*4, uintptr(n)*4
	for j := 0; j < n16; j += 16 {
		for i := 0; i < m4; i += 4 {
			kern4x16(k, &a[i*k], lda, &b[j], ldb, &c[i*n+j], ldb)
		}
		for i := m4; i < m; i++ {
			kern1x16(k, &a[i*k], &b[j], ldb, &c[i*n+j])
		}
	}
	n8 := n16
	if n-n16 >= 8 {
		n8 = n16 + 8
		for i := 0; i < m4; i += 4 {
			kern4x8(k, &a[i*k], lda, &b[n16], ldb, &c[i*n+n16], ldb)
		}
		for i := m4; i < m; i++ {
			kern1x8(k, &a[i*k], &b[n16], ldb, &c[i*n+n16])
		}
	}
	if n8 < n {
		for i := 0; i < m; i++ {
			ci := c[i*n+n8 : (i+1)*n]
			for p, av := range a[i*k : (i+1)*k] {
				bp := b[p*n+n8 : (p+1)*n]
				for j := range ci {
					ci[j] += av * bp[j]
				}
			}
		}
	}
	return m
}

func mulAddAsm(o, x, w []float32) int {
	n8 := len(o) &^ 7
	if !useAsm || n8 == 0 {
		return 0
	}
	_ = x[len(o)-1]
	_ = w[len(o)-1]
	mulAdd8(n8, unsafe.SliceData(o), unsafe.SliceData(x), unsafe.SliceData(w))
	return n8
}

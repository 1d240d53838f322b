//go:build amd64 && !purego

package fraud

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAsm is true when the CPU has AVX2 and FMA; otherwise the pure-Go
// kernels run (build tag purego forces them).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotsI8 sets out[i] to the dot product of q (int16, stride values) and
// row i of rows (int8, n rows of stride values). stride is a multiple of 32.
//
//go:noescape
func dotsI8(q *int16, rows *int8, n, stride int, out *int32)

// dotsF32 is dotsI8 for float32 rows; stride is a multiple of 16.
//
//go:noescape
func dotsF32(q *float32, rows *float32, n, stride int, out *float32)

func dotsInt8(q []int16, rows []int8, stride int, out []int32) {
	n := len(out)
	if n == 0 {
		return
	}
	_ = rows[n*stride-1]
	_ = q[stride-1]
	if useAsm {
		dotsI8(unsafe.SliceData(q), unsafe.SliceData(rows), n, stride, unsafe.SliceData(out))
		return
	}
	dotsInt8Go(q, rows, stride, out)
}

func dotsFloat32(q []float32, rows []float32, stride int, out []float32) {
	n := len(out)
	if n == 0 {
		return
	}
	_ = rows[n*stride-1]
	_ = q[stride-1]
	if useAsm {
		dotsF32(unsafe.SliceData(q), unsafe.SliceData(rows), n, stride, unsafe.SliceData(out))
		return
	}
	dotsFloat32Go(q, rows, stride, out)
}

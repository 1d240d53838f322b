//go:build !amd64 || purego

package fraud

const useAsm = false

func dotsInt8(q []int16, rows []int8, stride int, out []int32) { dotsInt8Go(q, rows, stride, out) }

func dotsFloat32(q []float32, rows []float32, stride int, out []float32) {
	dotsFloat32Go(q, rows, stride, out)
}

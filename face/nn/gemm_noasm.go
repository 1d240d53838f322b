//go:build !amd64 || purego

package nn

const useAsm = false

func gemmAsm(m, n, k int, a, b, c []float32) int { return 0 }

func mulAddAsm(o, x, w []float32) int { return 0 }

//go:build !amd64 || purego

package nn

const useAsm = false

func gemmAsm(m, n, k int, a, b, c []float32) int { return 0 }

func mulAddAsm(o, x, w []float32) int { return 0 }

func clampAsm(d []float32, lo, hi float32) int { return 0 }

func dwRowAsm(npix, c int, o, x []float32, xstep int, w []float32) bool { return false }

func maxAsm(o, x []float32) int { return 0 }

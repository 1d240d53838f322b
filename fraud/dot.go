package fraud

// Portable kernels; the amd64 build uses AVX2 assembly (dot_amd64.s) when
// the CPU has it, and the tests check both against each other.

func dotsInt8Go(q []int16, rows []int8, stride int, out []int32) {
	q = q[:stride]
	for i := range out {
		r := rows[i*stride : (i+1)*stride]
		var a0, a1, a2, a3 int32
		for j := 0; j+4 <= stride; j += 4 {
			a0 += int32(q[j]) * int32(r[j])
			a1 += int32(q[j+1]) * int32(r[j+1])
			a2 += int32(q[j+2]) * int32(r[j+2])
			a3 += int32(q[j+3]) * int32(r[j+3])
		}
		out[i] = a0 + a1 + a2 + a3
	}
}

func dotsFloat32Go(q []float32, rows []float32, stride int, out []float32) {
	q = q[:stride]
	for i := range out {
		r := rows[i*stride : (i+1)*stride]
		var a0, a1, a2, a3 float32
		for j := 0; j+4 <= stride; j += 4 {
			a0 += q[j] * r[j]
			a1 += q[j+1] * r[j+1]
			a2 += q[j+2] * r[j+2]
			a3 += q[j+3] * r[j+3]
		}
		out[i] = (a0 + a1) + (a2 + a3)
	}
}

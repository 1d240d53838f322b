//go:build amd64 && !purego

#include "textflag.h"

// func dotsI8(q *int16, rows *int8, n, stride int, out *int32)
// out[i] = sum_j q[j]*rows[i*stride+j]; stride % 32 == 0. Needs AVX2.
// Each row's int8 values are sign-extended to int16 (VPMOVSXBW) and
// multiplied pairwise with the int16 query into int32 (VPMADDWD); two
// accumulators per row hide the add latency.
TEXT ·dotsI8(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	MOVQ out+32(FP), DX

rowI8:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	MOVQ SI, R10 // query cursor
	MOVQ R8, R9  // values left in this row

innerI8:
	VPMOVSXBW (DI), Y2
	VPMOVSXBW 16(DI), Y3
	VPMADDWD (R10), Y2, Y2
	VPMADDWD 32(R10), Y3, Y3
	VPADDD Y2, Y0, Y0
	VPADDD Y3, Y1, Y1
	ADDQ $32, DI
	ADDQ $64, R10
	SUBQ $32, R9
	JNE innerI8

	VPADDD Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0x4E, X0, X1
	VPADDD X1, X0, X0
	VPSHUFD $0xB1, X0, X1
	VPADDD X1, X0, X0
	VMOVD X0, AX
	MOVL AX, (DX)
	ADDQ $4, DX
	DECQ CX
	JNE rowI8
	VZEROUPPER
	RET

// func dotsF32(q *float32, rows *float32, n, stride int, out *float32)
// out[i] = sum_j q[j]*rows[i*stride+j]; stride % 16 == 0. Needs AVX2+FMA.
TEXT ·dotsF32(SB), NOSPLIT, $0-40
	MOVQ q+0(FP), SI
	MOVQ rows+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ stride+24(FP), R8
	MOVQ out+32(FP), DX

rowF32:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ SI, R10
	MOVQ R8, R9

innerF32:
	VMOVUPS (DI), Y2
	VMOVUPS 32(DI), Y3
	VFMADD231PS (R10), Y2, Y0
	VFMADD231PS 32(R10), Y3, Y1
	ADDQ $64, DI
	ADDQ $64, R10
	SUBQ $16, R9
	JNE innerF32

	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0x4E, X0, X1
	VADDPS X1, X0, X0
	VPERMILPS $0xB1, X0, X1
	VADDPS X1, X0, X0
	VMOVSS X0, (DX)
	ADDQ $4, DX
	DECQ CX
	JNE rowF32
	VZEROUPPER
	RET

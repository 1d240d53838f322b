//go:build amd64 && !purego

#include "textflag.h"

// func kern4x16(k int, a *float32, lda uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr)
// C[4][16] += A[4][k] * B[k][16]; strides in bytes. Needs AVX2 and FMA.
TEXT ·kern4x16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ DX, AX
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	ADDQ R10, AX
	VMOVUPS (AX), Y2
	VMOVUPS 32(AX), Y3
	ADDQ R10, AX
	VMOVUPS (AX), Y4
	VMOVUPS 32(AX), Y5
	ADDQ R10, AX
	VMOVUPS (AX), Y6
	VMOVUPS 32(AX), Y7
	TESTQ CX, CX
	JE done4

loop4:
	VMOVUPS (DI), Y8
	VMOVUPS 32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VBROADCASTSS (R11), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VBROADCASTSS (R12), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VBROADCASTSS (R13), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ R9, DI
	DECQ CX
	JNE loop4

done4:
	MOVQ DX, AX
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)
	ADDQ R10, AX
	VMOVUPS Y2, (AX)
	VMOVUPS Y3, 32(AX)
	ADDQ R10, AX
	VMOVUPS Y4, (AX)
	VMOVUPS Y5, 32(AX)
	ADDQ R10, AX
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VZEROUPPER
	RET

// func kern1x16(k int, a *float32, b *float32, ldb uintptr, c *float32)
// C[1][16] += A[1][k] * B[k][16].
TEXT ·kern1x16(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R9
	MOVQ c+32(FP), DX
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ CX, CX
	JE done1

loop1:
	VBROADCASTSS (SI), Y10
	VFMADD231PS (DI), Y10, Y0
	VFMADD231PS 32(DI), Y10, Y1
	ADDQ $4, SI
	ADDQ R9, DI
	DECQ CX
	JNE loop1

done1:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET

// func mulAdd8(n int, o, x, w *float32)
// o[i] += x[i]*w[i] for i < n, n a multiple of 8.
TEXT ·mulAdd8(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ o+8(FP), DX
	MOVQ x+16(FP), SI
	MOVQ w+24(FP), DI
	SHRQ $3, CX
	JE doneM

loopM:
	VMOVUPS (DX), Y0
	VMOVUPS (SI), Y1
	VFMADD231PS (DI), Y1, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE loopM

doneM:
	VZEROUPPER
	RET

// func clamp8(n int, p *float32, lo, hi float32)
// p[i] = min(max(p[i], lo), hi) for i < n, n a multiple of 8.
TEXT ·clamp8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ p+8(FP), DX
	VBROADCASTSS lo+16(FP), Y14
	VBROADCASTSS hi+20(FP), Y15
	SHRQ $3, CX
	JE doneC

loopC:
	VMOVUPS (DX), Y0
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	DECQ CX
	JNE loopC

doneC:
	VZEROUPPER
	RET

// func dwRow(npix, c int, o, x *float32, xstep uintptr, w *float32)
// For each of npix pixels: o[0:c] += x[0:c]*w[0:c]; o advances c floats,
// x advances xstep bytes. c is a multiple of 8.
TEXT ·dwRow(SB), NOSPLIT, $0-48
	MOVQ npix+0(FP), CX
	MOVQ c+8(FP), BX
	MOVQ o+16(FP), DX
	MOVQ x+24(FP), SI
	MOVQ xstep+32(FP), R9
	MOVQ w+40(FP), DI
	SHRQ $3, BX
	TESTQ CX, CX
	JE doneD
	TESTQ BX, BX
	JE doneD

pixD:
	MOVQ BX, R8
	MOVQ SI, R10
	MOVQ DI, R11

chanD:
	VMOVUPS (DX), Y0
	VMOVUPS (R10), Y1
	VFMADD231PS (R11), Y1, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, R10
	ADDQ $32, R11
	DECQ R8
	JNE chanD
	ADDQ R9, SI
	DECQ CX
	JNE pixD

doneD:
	VZEROUPPER
	RET

// func kern4x8(k int, a *float32, lda uintptr, b *float32, ldb uintptr, c *float32, ldc uintptr)
// C[4][8] += A[4][k] * B[k][8]; strides in bytes.
TEXT ·kern4x8(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R10
	LEAQ (SI)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	MOVQ DX, AX
	VMOVUPS (AX), Y0
	ADDQ R10, AX
	VMOVUPS (AX), Y2
	ADDQ R10, AX
	VMOVUPS (AX), Y4
	ADDQ R10, AX
	VMOVUPS (AX), Y6
	TESTQ CX, CX
	JE done48

loop48:
	VMOVUPS (DI), Y8
	VBROADCASTSS (SI), Y10
	VFMADD231PS Y8, Y10, Y0
	VBROADCASTSS (R11), Y11
	VFMADD231PS Y8, Y11, Y2
	VBROADCASTSS (R12), Y12
	VFMADD231PS Y8, Y12, Y4
	VBROADCASTSS (R13), Y13
	VFMADD231PS Y8, Y13, Y6
	ADDQ $4, SI
	ADDQ $4, R11
	ADDQ $4, R12
	ADDQ $4, R13
	ADDQ R9, DI
	DECQ CX
	JNE loop48

done48:
	MOVQ DX, AX
	VMOVUPS Y0, (AX)
	ADDQ R10, AX
	VMOVUPS Y2, (AX)
	ADDQ R10, AX
	VMOVUPS Y4, (AX)
	ADDQ R10, AX
	VMOVUPS Y6, (AX)
	VZEROUPPER
	RET

// func kern1x8(k int, a *float32, b *float32, ldb uintptr, c *float32)
TEXT ·kern1x8(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R9
	MOVQ c+32(FP), DX
	VMOVUPS (DX), Y0
	TESTQ CX, CX
	JE done18

loop18:
	VBROADCASTSS (SI), Y10
	VFMADD231PS (DI), Y10, Y0
	ADDQ $4, SI
	ADDQ R9, DI
	DECQ CX
	JNE loop18

done18:
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func max8(n int, o, x *float32)
// o[i] = max(o[i], x[i]) for i < n, n a multiple of 8.
TEXT ·max8(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ o+8(FP), DX
	MOVQ x+16(FP), SI
	SHRQ $3, CX
	JE doneX

loopX:
	VMOVUPS (DX), Y0
	VMAXPS (SI), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ $32, DX
	ADDQ $32, SI
	DECQ CX
	JNE loopX

doneX:
	VZEROUPPER
	RET

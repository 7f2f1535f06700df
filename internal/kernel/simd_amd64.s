//go:build amd64 && !purego

#include "textflag.h"

// func kern8x8AVX2(k int, a *float32, b *float32, ldb int, c *float32, ldc int, acc int)
// c[r][0:8] = sum_k a[k*8+r] * b[k*ldb+0:8], r < 8. Eight ymm accumulators
// cover the FMA latency (4 cycles x 2 ports).
TEXT ·kern8x8AVX2(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    k8store

k8loop:
	VMOVUPS      (DI), Y8
	VBROADCASTSS (SI), Y9
	VFMADD231PS  Y8, Y9, Y0
	VBROADCASTSS 4(SI), Y10
	VFMADD231PS  Y8, Y10, Y1
	VBROADCASTSS 8(SI), Y11
	VFMADD231PS  Y8, Y11, Y2
	VBROADCASTSS 12(SI), Y12
	VFMADD231PS  Y8, Y12, Y3
	VBROADCASTSS 16(SI), Y13
	VFMADD231PS  Y8, Y13, Y4
	VBROADCASTSS 20(SI), Y14
	VFMADD231PS  Y8, Y14, Y5
	VBROADCASTSS 24(SI), Y15
	VFMADD231PS  Y8, Y15, Y6
	VBROADCASTSS 28(SI), Y9
	VFMADD231PS  Y8, Y9, Y7
	ADDQ         $32, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          k8loop

k8store:
	MOVQ acc+48(FP), AX
	TESTQ AX, AX
	JZ k8plain
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y1, Y1
	VMOVUPS Y1, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y2, Y2
	VMOVUPS Y2, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y3, Y3
	VMOVUPS Y3, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y5, Y5
	VMOVUPS Y5, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	ADDQ R9, DX
	VADDPS (DX), Y7, Y7
	VMOVUPS Y7, (DX)
	VZEROUPPER
	RET

k8plain:
	VMOVUPS Y0, (DX)
	ADDQ    R9, DX
	VMOVUPS Y1, (DX)
	ADDQ    R9, DX
	VMOVUPS Y2, (DX)
	ADDQ    R9, DX
	VMOVUPS Y3, (DX)
	ADDQ    R9, DX
	VMOVUPS Y4, (DX)
	ADDQ    R9, DX
	VMOVUPS Y5, (DX)
	ADDQ    R9, DX
	VMOVUPS Y6, (DX)
	ADDQ    R9, DX
	VMOVUPS Y7, (DX)
	VZEROUPPER
	RET

// func kern8x32AVX512(k int, a *float32, b *float32, ldb int, c *float32, ldc int, acc int)
// The same for 32 columns: 16 zmm accumulators, two B loads and eight
// broadcasts per k for 16 FMAs.
TEXT ·kern8x32AVX512(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TESTQ  CX, CX
	JZ     k32store

k32loop:
	VMOVUPS      (DI), Z16
	VMOVUPS      64(DI), Z17
	VBROADCASTSS (SI), Z18
	VFMADD231PS  Z16, Z18, Z0
	VFMADD231PS  Z17, Z18, Z1
	VBROADCASTSS 4(SI), Z19
	VFMADD231PS  Z16, Z19, Z2
	VFMADD231PS  Z17, Z19, Z3
	VBROADCASTSS 8(SI), Z20
	VFMADD231PS  Z16, Z20, Z4
	VFMADD231PS  Z17, Z20, Z5
	VBROADCASTSS 12(SI), Z21
	VFMADD231PS  Z16, Z21, Z6
	VFMADD231PS  Z17, Z21, Z7
	VBROADCASTSS 16(SI), Z22
	VFMADD231PS  Z16, Z22, Z8
	VFMADD231PS  Z17, Z22, Z9
	VBROADCASTSS 20(SI), Z23
	VFMADD231PS  Z16, Z23, Z10
	VFMADD231PS  Z17, Z23, Z11
	VBROADCASTSS 24(SI), Z24
	VFMADD231PS  Z16, Z24, Z12
	VFMADD231PS  Z17, Z24, Z13
	VBROADCASTSS 28(SI), Z25
	VFMADD231PS  Z16, Z25, Z14
	VFMADD231PS  Z17, Z25, Z15
	ADDQ         $32, SI
	ADDQ         R8, DI
	DECQ         CX
	JNZ          k32loop

k32store:
	MOVQ acc+48(FP), AX
	TESTQ AX, AX
	JZ k32plain
	VADDPS (DX), Z0, Z0
	VADDPS 64(DX), Z1, Z1
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z2, Z2
	VADDPS 64(DX), Z3, Z3
	VMOVUPS Z2, (DX)
	VMOVUPS Z3, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z4, Z4
	VADDPS 64(DX), Z5, Z5
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z6, Z6
	VADDPS 64(DX), Z7, Z7
	VMOVUPS Z6, (DX)
	VMOVUPS Z7, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z8, Z8
	VADDPS 64(DX), Z9, Z9
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z10, Z10
	VADDPS 64(DX), Z11, Z11
	VMOVUPS Z10, (DX)
	VMOVUPS Z11, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z12, Z12
	VADDPS 64(DX), Z13, Z13
	VMOVUPS Z12, (DX)
	VMOVUPS Z13, 64(DX)
	ADDQ R9, DX
	VADDPS (DX), Z14, Z14
	VADDPS 64(DX), Z15, Z15
	VMOVUPS Z14, (DX)
	VMOVUPS Z15, 64(DX)
	VZEROUPPER
	RET

k32plain:
	VMOVUPS Z0, (DX)
	VMOVUPS Z1, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z2, (DX)
	VMOVUPS Z3, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z4, (DX)
	VMOVUPS Z5, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z6, (DX)
	VMOVUPS Z7, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z8, (DX)
	VMOVUPS Z9, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z10, (DX)
	VMOVUPS Z11, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z12, (DX)
	VMOVUPS Z13, 64(DX)
	ADDQ    R9, DX
	VMOVUPS Z14, (DX)
	VMOVUPS Z15, 64(DX)
	VZEROUPPER
	RET

// func gemvAVX2(k int, a *float32, b *float32, ldb int, out *float32)
// out[0:8] = sum_k a[k*8:k*8+8] * b[k*ldb]: vectorised over the panel's 8
// output channels, four k at a time into four accumulators.
TEXT ·gemvAVX2(SB), NOSPLIT, $0-40
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	MOVQ   ldb+24(FP), R8
	SHLQ   $2, R8
	MOVQ   out+32(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

gv4:
	CMPQ         CX, $4
	JL           gv1
	VBROADCASTSS (DI), Y4
	VFMADD231PS  (SI), Y4, Y0
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y5
	VFMADD231PS  32(SI), Y5, Y1
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y6
	VFMADD231PS  64(SI), Y6, Y2
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y7
	VFMADD231PS  96(SI), Y7, Y3
	ADDQ         R8, DI
	ADDQ         $128, SI
	SUBQ         $4, CX
	JMP          gv4

gv1:
	TESTQ        CX, CX
	JZ           gvdone
	VBROADCASTSS (DI), Y4
	VFMADD231PS  (SI), Y4, Y0
	ADDQ         R8, DI
	ADDQ         $32, SI
	DECQ         CX
	JMP          gv1

gvdone:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func gemv16AVX2(k int, a *uint16, b *float32, ldb int, out *float32)
// gemvAVX2 over an fp16 panel, widened with F16C as it is read.
TEXT ·gemv16AVX2(SB), NOSPLIT, $0-40
	MOVQ   k+0(FP), CX
	MOVQ   a+8(FP), SI
	MOVQ   b+16(FP), DI
	MOVQ   ldb+24(FP), R8
	SHLQ   $2, R8
	MOVQ   out+32(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3

gh4:
	CMPQ         CX, $4
	JL           gh1
	VCVTPH2PS    (SI), Y8
	VCVTPH2PS    16(SI), Y9
	VCVTPH2PS    32(SI), Y10
	VCVTPH2PS    48(SI), Y11
	VBROADCASTSS (DI), Y4
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y5
	VFMADD231PS  Y9, Y5, Y1
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y6
	VFMADD231PS  Y10, Y6, Y2
	ADDQ         R8, DI
	VBROADCASTSS (DI), Y7
	VFMADD231PS  Y11, Y7, Y3
	ADDQ         R8, DI
	ADDQ         $64, SI
	SUBQ         $4, CX
	JMP          gh4

gh1:
	TESTQ        CX, CX
	JZ           ghdone
	VCVTPH2PS    (SI), Y8
	VBROADCASTSS (DI), Y4
	VFMADD231PS  Y8, Y4, Y0
	ADDQ         R8, DI
	ADDQ         $16, SI
	DECQ         CX
	JMP          gh1

ghdone:
	VADDPS  Y1, Y0, Y0
	VADDPS  Y3, Y2, Y2
	VADDPS  Y2, Y0, Y0
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func widenF16C(dst *float32, src *uint16, n int)
// n is a multiple of 8.
TEXT ·widenF16C(SB), NOSPLIT, $0-24
	MOVQ  dst+0(FP), DI
	MOVQ  src+8(FP), SI
	MOVQ  n+16(FP), CX
	SHRQ  $3, CX
	TESTQ CX, CX
	JZ    wdone

wloop:
	VCVTPH2PS (SI), Y0
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	DECQ      CX
	JNZ       wloop

wdone:
	VZEROUPPER
	RET

// func epilogueAVX2(x *float32, n int, bias float32, act int)
// x[i] = act(x[i] + bias) for n a multiple of 8; act as in Act.
TEXT ·epilogueAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS bias+16(FP), Y15
	MOVQ         act+24(FP), AX
	SHRQ         $3, CX
	TESTQ        CX, CX
	JZ           edone
	VXORPS       Y14, Y14, Y14
	MOVL         $0x40400000, R8  // 3
	VMOVD        R8, X13
	VBROADCASTSS X13, Y13
	MOVL         $0x40c00000, R8  // 6
	VMOVD        R8, X12
	VBROADCASTSS X12, Y12
	MOVL         $0x3e2aaaab, R8  // float32(1.0/6)
	VMOVD        R8, X11
	VBROADCASTSS X11, Y11
	MOVL         $0x3e2aaaad, R8  // float32(0.1666667), Paddle's hard-sigmoid slope
	VMOVD        R8, X10
	VBROADCASTSS X10, Y10
	MOVL         $0x3f000000, R8  // 0.5
	VMOVD        R8, X9
	VBROADCASTSS X9, Y9
	MOVL         $0x3f800000, R8  // 1
	VMOVD        R8, X8
	VBROADCASTSS X8, Y8
	CMPQ         AX, $1
	JEQ          erelu
	CMPQ         AX, $2
	JEQ          ehswish
	CMPQ         AX, $3
	JEQ          ehsig

enone:
	VADDPS  (DI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     enone
	JMP     edone

erelu:
	VADDPS  (DI), Y15, Y0
	VMAXPS  Y14, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     erelu
	JMP     edone

ehswish:
	VADDPS  (DI), Y15, Y0
	VADDPS  Y13, Y0, Y1
	VMAXPS  Y14, Y1, Y1
	VMINPS  Y12, Y1, Y1
	VMULPS  Y0, Y1, Y1
	VMULPS  Y11, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     ehswish
	JMP     edone

ehsig:
	VADDPS  (DI), Y15, Y0
	VMULPS  Y10, Y0, Y0
	VADDPS  Y9, Y0, Y0
	VMAXPS  Y14, Y0, Y0
	VMINPS  Y8, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     ehsig

edone:
	VZEROUPPER
	RET

// func axpyAVX2(a float32, y *float32, x *float32, n int)
// y[i] += a*x[i] for n a multiple of 8.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS a+0(FP), Y15
	MOVQ         y+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         n+24(FP), CX

ax16:
	CMPQ        CX, $16
	JL          ax8
	VMOVUPS     (DI), Y0
	VMOVUPS     32(DI), Y1
	VFMADD231PS (SI), Y15, Y0
	VFMADD231PS 32(SI), Y15, Y1
	VMOVUPS     Y0, (DI)
	VMOVUPS     Y1, 32(DI)
	ADDQ        $64, DI
	ADDQ        $64, SI
	SUBQ        $16, CX
	JMP         ax16

ax8:
	CMPQ        CX, $8
	JL          axdone
	VMOVUPS     (DI), Y0
	VFMADD231PS (SI), Y15, Y0
	VMOVUPS     Y0, (DI)

axdone:
	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

// Constants of idct8, at the offsets the macros below name.
DATA idctk<>+0(SB)/4, $0x1151 // FIX_0_541196100
DATA idctk<>+4(SB)/4, $0x3b21 // FIX_1_847759065
DATA idctk<>+8(SB)/4, $0x187e // FIX_0_765366865
DATA idctk<>+12(SB)/4, $0x25a1 // FIX_1_175875602
DATA idctk<>+16(SB)/4, $0xffffe333 // -FIX_0_899976223
DATA idctk<>+20(SB)/4, $0xffffadfd // -FIX_2_562915447
DATA idctk<>+24(SB)/4, $0xffffc13b // -FIX_1_961570560
DATA idctk<>+28(SB)/4, $0xfffff384 // -FIX_0_390180644
DATA idctk<>+32(SB)/4, $0x98e // FIX_0_298631336
DATA idctk<>+36(SB)/4, $0x41b3 // FIX_2_053119869
DATA idctk<>+40(SB)/4, $0x6254 // FIX_3_072711026
DATA idctk<>+44(SB)/4, $0x300b // FIX_1_501321110
DATA idctk<>+48(SB)/4, $0x400 // pass 1 rounding
DATA idctk<>+52(SB)/4, $0x2020000 // pass 2 rounding and +128
DATA idctk<>+56(SB)/4, $0x7fff // largest magnitude the int32 lanes take
GLOBL idctk<>(SB), RODATA|NOPTR, $60

// Pass 2 as a matrix: the 32 bytes at 32*j hold, for each output sample x,
// the weight of the row's pass-1 value j (idctPass1, transposed). The
// butterfly rounds only at its end, so out[x] = (sum_j w[j]*weight + rnd)
// >> 18 exactly; int32 lanes wrap, but the sum's true value fits in them
// while every |w| <= 32767.
DATA idctp2<>+0(SB)/4, $0x2000
DATA idctp2<>+4(SB)/4, $0x2000
DATA idctp2<>+8(SB)/4, $0x2000
DATA idctp2<>+12(SB)/4, $0x2000
DATA idctp2<>+16(SB)/4, $0x2000
DATA idctp2<>+20(SB)/4, $0x2000
DATA idctp2<>+24(SB)/4, $0x2000
DATA idctp2<>+28(SB)/4, $0x2000
DATA idctp2<>+32(SB)/4, $0x2c63
DATA idctp2<>+36(SB)/4, $0x25a1
DATA idctp2<>+40(SB)/4, $0x1925
DATA idctp2<>+44(SB)/4, $0x8d4
DATA idctp2<>+48(SB)/4, $0xfffff72c
DATA idctp2<>+52(SB)/4, $0xffffe6db
DATA idctp2<>+56(SB)/4, $0xffffda5f
DATA idctp2<>+60(SB)/4, $0xffffd39d
DATA idctp2<>+64(SB)/4, $0x29cf
DATA idctp2<>+68(SB)/4, $0x1151
DATA idctp2<>+72(SB)/4, $0xffffeeaf
DATA idctp2<>+76(SB)/4, $0xffffd631
DATA idctp2<>+80(SB)/4, $0xffffd631
DATA idctp2<>+84(SB)/4, $0xffffeeaf
DATA idctp2<>+88(SB)/4, $0x1151
DATA idctp2<>+92(SB)/4, $0x29cf
DATA idctp2<>+96(SB)/4, $0x25a1
DATA idctp2<>+100(SB)/4, $0xfffff72d
DATA idctp2<>+104(SB)/4, $0xffffd39e
DATA idctp2<>+108(SB)/4, $0xffffe6dc
DATA idctp2<>+112(SB)/4, $0x1924
DATA idctp2<>+116(SB)/4, $0x2c62
DATA idctp2<>+120(SB)/4, $0x8d3
DATA idctp2<>+124(SB)/4, $0xffffda5f
DATA idctp2<>+128(SB)/4, $0x2000
DATA idctp2<>+132(SB)/4, $0xffffe000
DATA idctp2<>+136(SB)/4, $0xffffe000
DATA idctp2<>+140(SB)/4, $0x2000
DATA idctp2<>+144(SB)/4, $0x2000
DATA idctp2<>+148(SB)/4, $0xffffe000
DATA idctp2<>+152(SB)/4, $0xffffe000
DATA idctp2<>+156(SB)/4, $0x2000
DATA idctp2<>+160(SB)/4, $0x1925
DATA idctp2<>+164(SB)/4, $0xffffd39e
DATA idctp2<>+168(SB)/4, $0x8d5
DATA idctp2<>+172(SB)/4, $0x25a1
DATA idctp2<>+176(SB)/4, $0xffffda5f
DATA idctp2<>+180(SB)/4, $0xfffff72b
DATA idctp2<>+184(SB)/4, $0x2c62
DATA idctp2<>+188(SB)/4, $0xffffe6db
DATA idctp2<>+192(SB)/4, $0x1151
DATA idctp2<>+196(SB)/4, $0xffffd630
DATA idctp2<>+200(SB)/4, $0x29d0
DATA idctp2<>+204(SB)/4, $0xffffeeaf
DATA idctp2<>+208(SB)/4, $0xffffeeaf
DATA idctp2<>+212(SB)/4, $0x29d0
DATA idctp2<>+216(SB)/4, $0xffffd630
DATA idctp2<>+220(SB)/4, $0x1151
DATA idctp2<>+224(SB)/4, $0x8d4
DATA idctp2<>+228(SB)/4, $0xffffe6dc
DATA idctp2<>+232(SB)/4, $0x25a1
DATA idctp2<>+236(SB)/4, $0xffffd39d
DATA idctp2<>+240(SB)/4, $0x2c63
DATA idctp2<>+244(SB)/4, $0xffffda5f
DATA idctp2<>+248(SB)/4, $0x1924
DATA idctp2<>+252(SB)/4, $0xfffff72c
GLOBL idctp2<>(SB), RODATA|NOPTR, $256

#define K(off) idctk<>+off(SB)

// MULK multiplies the lanes of R by the constant at K(OFF).
#define MULK(OFF, R) \
	VPBROADCASTD K(OFF), Y15 \
	VPMULLD      Y15, R, R

// func idct8AVX2(blk *[64]int32, dst *byte, stride int, rows uint64) bool
//
// Pass 1 runs the column butterfly on the eight coefficient rows as
// vectors, a lane per column; pass 2 computes each needed output row as a
// sum of pass-2 weight vectors. It returns false, having written nothing,
// when a coefficient or a pass-1 value is beyond 32767 in magnitude, where
// int32 lanes could overflow.
TEXT ·idct8AVX2(SB), NOSPLIT, $256-33
	MOVQ blk+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ stride+16(FP), DX
	MOVQ rows+24(FP), CX

	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VMOVDQU 64(SI), Y2
	VMOVDQU 96(SI), Y3
	VMOVDQU 128(SI), Y4
	VMOVDQU 160(SI), Y5
	VMOVDQU 192(SI), Y6
	VMOVDQU 224(SI), Y7

	// Every |coefficient| <= 32767, compared unsigned so that the
	// magnitude of -2^31 counts as large.
	VPABSD  Y0, Y8
	VPABSD  Y1, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y2, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y3, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y4, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y5, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y6, Y9
	VPMAXUD Y9, Y8, Y8
	VPABSD  Y7, Y9
	VPMAXUD Y9, Y8, Y8
	VPBROADCASTD K(56), Y14
	VPMINUD  Y14, Y8, Y9
	VPCMPEQD Y9, Y8, Y9
	VPMOVMSKB Y9, AX
	CMPL AX, $-1
	JNE  large

	// Even part: z1, e2 (Y9), e3 (Y10), then t10 (Y0), t11 (Y8),
	// t12 (Y6), t13 (Y4).
	VPADDD Y6, Y2, Y8
	MULK(0, Y8)
	VMOVDQA Y6, Y9
	MULK(4, Y9)
	VPSUBD Y9, Y8, Y9
	VMOVDQA Y2, Y10
	MULK(8, Y10)
	VPADDD Y10, Y8, Y10
	VPADDD Y4, Y0, Y2
	VPSLLD $13, Y2, Y2
	VPSUBD Y4, Y0, Y6
	VPSLLD $13, Y6, Y6
	VPSUBD Y10, Y2, Y4
	VPADDD Y10, Y2, Y0
	VPADDD Y9, Y6, Y8
	VPSUBD Y9, Y6, Y6

	// Odd part: o1 (Y9), o2 (Y10), o3 (Y11), o4 (Y12), z5 (Y13), then
	// t0 (Y7), t1 (Y5), t2 (Y3), t3 (Y1).
	VPADDD Y1, Y7, Y9
	VPADDD Y3, Y5, Y10
	VPADDD Y3, Y7, Y11
	VPADDD Y1, Y5, Y12
	VPADDD Y12, Y11, Y13
	MULK(12, Y13)
	MULK(16, Y9)
	MULK(20, Y10)
	MULK(24, Y11)
	VPADDD Y13, Y11, Y11
	MULK(28, Y12)
	VPADDD Y13, Y12, Y12
	MULK(32, Y7)
	VPADDD Y9, Y7, Y7
	VPADDD Y11, Y7, Y7
	MULK(36, Y5)
	VPADDD Y10, Y5, Y5
	VPADDD Y12, Y5, Y5
	MULK(40, Y3)
	VPADDD Y10, Y3, Y3
	VPADDD Y11, Y3, Y3
	MULK(44, Y1)
	VPADDD Y9, Y1, Y1
	VPADDD Y12, Y1, Y1

	// Rows of pass 1: (even +- odd + 1024) >> 11, kept at 32*row(SP);
	// Y13 gathers their magnitudes.
	VPBROADCASTD K(48), Y15
	VPADDD Y15, Y0, Y0
	VPADDD Y15, Y8, Y8
	VPADDD Y15, Y6, Y6
	VPADDD Y15, Y4, Y4

	VPADDD  Y1, Y0, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 0(SP)
	VPABSD  Y9, Y13
	VPSUBD  Y1, Y0, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 224(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13

	VPADDD  Y3, Y8, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 32(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13
	VPSUBD  Y3, Y8, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 192(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13

	VPADDD  Y5, Y6, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 64(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13
	VPSUBD  Y5, Y6, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 160(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13

	VPADDD  Y7, Y4, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 96(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13
	VPSUBD  Y7, Y4, Y9
	VPSRAD  $11, Y9, Y9
	VMOVDQU Y9, 128(SP)
	VPABSD  Y9, Y9
	VPMAXUD Y9, Y13, Y13

	VPMINUD  Y14, Y13, Y9
	VPCMPEQD Y9, Y13, Y9
	VPMOVMSKB Y9, AX
	CMPL AX, $-1
	JNE  large

	// Pass 2, row by row where rows has a bit.
	VPBROADCASTD K(52), Y14
	VMOVDQU idctp2<>+0(SB), Y8
	VMOVDQU idctp2<>+32(SB), Y9
	VMOVDQU idctp2<>+64(SB), Y10
	VMOVDQU idctp2<>+96(SB), Y11
	VMOVDQU idctp2<>+128(SB), Y12
	VMOVDQU idctp2<>+160(SB), Y13
	MOVQ SP, SI
	MOVQ $8, BX

row:
	TESTQ $1, CX
	JZ    next
	VPBROADCASTD 0(SI), Y0
	VPMULLD      Y8, Y0, Y0
	VPADDD       Y14, Y0, Y0
	VPBROADCASTD 4(SI), Y1
	VPMULLD      Y9, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 8(SI), Y1
	VPMULLD      Y10, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 12(SI), Y1
	VPMULLD      Y11, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 16(SI), Y1
	VPMULLD      Y12, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 20(SI), Y1
	VPMULLD      Y13, Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 24(SI), Y1
	VPMULLD      idctp2<>+192(SB), Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPBROADCASTD 28(SI), Y1
	VPMULLD      idctp2<>+224(SB), Y1, Y1
	VPADDD       Y1, Y0, Y0
	VPSRAD       $18, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW    X1, X0, X0
	VPACKUSWB    X0, X0, X0
	MOVQ         X0, 0(DI)

next:
	SHRQ $1, CX
	ADDQ $32, SI
	ADDQ DX, DI
	DECQ BX
	JNZ  row

	VZEROUPPER
	MOVB $1, ret+32(FP)
	RET

large:
	VZEROUPPER
	MOVB $0, ret+32(FP)
	RET

//go:build amd64 && !purego

#include "textflag.h"

// Dword order that undoes the interleave of two vectors of four qwords
// merged as (hi<<32 | lo): lanes p0 p4 p1 p5 p2 p6 p3 p7 back to p0..p7.
DATA vrowperm<>+0(SB)/4, $0
DATA vrowperm<>+4(SB)/4, $2
DATA vrowperm<>+8(SB)/4, $4
DATA vrowperm<>+12(SB)/4, $6
DATA vrowperm<>+16(SB)/4, $1
DATA vrowperm<>+20(SB)/4, $3
DATA vrowperm<>+24(SB)/4, $5
DATA vrowperm<>+28(SB)/4, $7
GLOBL vrowperm<>(SB), RODATA|NOPTR, $32

// CHANNEL computes eight pixels of one channel, whose lane starts SHIFT-4
// bits up each packed pixel (Y0, Y1: r0; Y2, Y3: r1), and stores them at
// OUT. Per pixel: ((p0>>SHIFT & 0x7fff)*u0>>16 + (p1>>SHIFT & 0x7fff)*u1>>16
// + 2) >> 2, at most 255, then (v*scale - mean) / std in float32.
#define CHANNEL(SHIFT, MEAN, STD, OUT) \
	VPSRLQ    $SHIFT, Y0, Y4      \
	VPAND     Y15, Y4, Y4         \
	VPMULUDQ  Y14, Y4, Y4         \
	VPSRLQ    $16, Y4, Y4         \
	VPSRLQ    $SHIFT, Y2, Y5      \
	VPAND     Y15, Y5, Y5         \
	VPMULUDQ  Y13, Y5, Y5         \
	VPSRLQ    $16, Y5, Y5         \
	VPADDQ    Y5, Y4, Y4          \
	VPSRLQ    $SHIFT, Y1, Y6      \
	VPAND     Y15, Y6, Y6         \
	VPMULUDQ  Y14, Y6, Y6         \
	VPSRLQ    $16, Y6, Y6         \
	VPSRLQ    $SHIFT, Y3, Y7      \
	VPAND     Y15, Y7, Y7         \
	VPMULUDQ  Y13, Y7, Y7         \
	VPSRLQ    $16, Y7, Y7         \
	VPADDQ    Y7, Y6, Y6          \
	VPSLLQ    $32, Y6, Y6         \
	VPOR      Y6, Y4, Y4          \
	VPADDD    Y11, Y4, Y4         \
	VPSRLD    $2, Y4, Y4          \
	VPMINUD   Y10, Y4, Y4         \
	VPERMD    Y4, Y12, Y4         \
	VCVTDQ2PS Y4, Y4              \
	VMULPS    Y9, Y4, Y4          \
	VSUBPS    MEAN(R8), Y4, Y4    \
	VDIVPS    STD(R8), Y4, Y4     \
	VMOVUPS   Y4, (OUT)(CX*4)

// func vrowAVX2(r0, r1 *uint64, n int, u0, u1 uint64, pr, pg, pb *float32, k *wideNorm)
// n is a positive multiple of 8. wideNorm: scale at 0, mean[0..2] at 32,
// 64, 96, std[0..2] at 128, 160, 192.
TEXT ·vrowAVX2(SB), NOSPLIT, $0-72
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DI
	MOVQ n+16(FP), DX
	MOVQ pr+40(FP), R9
	MOVQ pg+48(FP), R10
	MOVQ pb+56(FP), R11
	MOVQ k+64(FP), R8

	VPBROADCASTQ u0+24(FP), Y14
	VPBROADCASTQ u1+32(FP), Y13
	VPCMPEQQ     Y15, Y15, Y15
	VPSRLD       $24, Y15, Y10    // 255 per dword
	VPSRLD       $31, Y15, Y11
	VPSLLD       $1, Y11, Y11     // 2 per dword
	VPSRLQ       $49, Y15, Y15    // 0x7fff per qword
	VMOVDQU      vrowperm<>(SB), Y12
	VMOVUPS      (R8), Y9         // scale

	XORQ CX, CX

loop:
	VMOVDQU (SI)(CX*8), Y0
	VMOVDQU 32(SI)(CX*8), Y1
	VMOVDQU (DI)(CX*8), Y2
	VMOVDQU 32(DI)(CX*8), Y3
	CHANNEL(4, 32, 128, R9)
	CHANNEL(25, 64, 160, R10)
	CHANNEL(46, 96, 192, R11)
	ADDQ    $8, CX
	CMPQ    CX, DX
	JLT     loop

	VZEROUPPER
	RET

// Byte shuffles that take, for four pixels of 3 or 4 bytes (the 16 bytes
// at the first pixel, in both halves of the vector), the R, G and B of
// pixels 0 and 1 into the two qwords of the low half and those of pixels
// 2 and 3 into the high half, each alone in its qword's low byte (an
// index with the top bit set gives a zero byte).
#define SEL(i) (-256+(i))
DATA spanmask3<>+0(SB)/8, $SEL(0)
DATA spanmask3<>+8(SB)/8, $SEL(3)
DATA spanmask3<>+16(SB)/8, $SEL(6)
DATA spanmask3<>+24(SB)/8, $SEL(9)
DATA spanmask3<>+32(SB)/8, $SEL(1)
DATA spanmask3<>+40(SB)/8, $SEL(4)
DATA spanmask3<>+48(SB)/8, $SEL(7)
DATA spanmask3<>+56(SB)/8, $SEL(10)
DATA spanmask3<>+64(SB)/8, $SEL(2)
DATA spanmask3<>+72(SB)/8, $SEL(5)
DATA spanmask3<>+80(SB)/8, $SEL(8)
DATA spanmask3<>+88(SB)/8, $SEL(11)
GLOBL spanmask3<>(SB), RODATA|NOPTR, $96

DATA spanmask4<>+0(SB)/8, $SEL(0)
DATA spanmask4<>+8(SB)/8, $SEL(4)
DATA spanmask4<>+16(SB)/8, $SEL(8)
DATA spanmask4<>+24(SB)/8, $SEL(12)
DATA spanmask4<>+32(SB)/8, $SEL(1)
DATA spanmask4<>+40(SB)/8, $SEL(5)
DATA spanmask4<>+48(SB)/8, $SEL(9)
DATA spanmask4<>+56(SB)/8, $SEL(13)
DATA spanmask4<>+64(SB)/8, $SEL(2)
DATA spanmask4<>+72(SB)/8, $SEL(6)
DATA spanmask4<>+80(SB)/8, $SEL(10)
DATA spanmask4<>+88(SB)/8, $SEL(14)
GLOBL spanmask4<>(SB), RODATA|NOPTR, $96

// func spanAVX2(pix *byte, bpp, n int, out *uint64)
// Packs n pixels (a positive multiple of 4) of bpp = 3 or 4 bytes each
// into out; it reads 16 bytes at each fourth pixel, so the caller leaves
// enough row after the last group.
TEXT ·spanAVX2(SB), NOSPLIT, $0-32
	MOVQ pix+0(FP), SI
	MOVQ bpp+8(FP), BX
	MOVQ n+16(FP), CX
	MOVQ out+24(FP), DI
	LEAQ spanmask3<>(SB), AX
	CMPQ BX, $3
	JEQ  masks
	LEAQ spanmask4<>(SB), AX

masks:
	VMOVDQU (AX), Y13
	VMOVDQU 32(AX), Y14
	VMOVDQU 64(AX), Y15
	SHLQ    $2, BX        // bytes per group of four pixels
	SHRQ    $2, CX

sloop:
	VBROADCASTI128 (SI), Y0
	VPSHUFB        Y13, Y0, Y1
	VPSHUFB        Y14, Y0, Y2
	VPSHUFB        Y15, Y0, Y3
	VPSLLQ         $21, Y2, Y2
	VPSLLQ         $42, Y3, Y3
	VPOR           Y2, Y1, Y1
	VPOR           Y3, Y1, Y1
	VMOVDQU        Y1, (DI)
	ADDQ           BX, SI
	ADDQ           $32, DI
	DECQ           CX
	JNZ            sloop

	VZEROUPPER
	RET

// Weights 32 down to 1 of the bytes of a 32-byte chunk in Adler-32's
// second sum, and 1 per int16.
DATA adlerdot<>+0(SB)/8, $0x191a1b1c1d1e1f20
DATA adlerdot<>+8(SB)/8, $0x1112131415161718
DATA adlerdot<>+16(SB)/8, $0x090a0b0c0d0e0f10
DATA adlerdot<>+24(SB)/8, $0x0102030405060708
GLOBL adlerdot<>(SB), RODATA|NOPTR, $32

// func adlerAVX2(p *byte, n int) (sum, dot, pre uint32)
// Over the n bytes at p (a positive multiple of 32, at most adlerBlock),
// as 32-byte chunks: sum is the sum of the bytes, dot the sum of each
// chunk's bytes weighted 32 down to 1, and pre the sum over chunks of the
// bytes of all chunks before it.
TEXT ·adlerAVX2(SB), NOSPLIT, $0-28
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $5, CX

	VPXOR    Y15, Y15, Y15
	VMOVDQU  adlerdot<>(SB), Y14
	VPCMPEQW Y13, Y13, Y13
	VPSRLW   $15, Y13, Y13     // 1 per int16
	VPXOR    Y0, Y0, Y0        // byte sums, per qword
	VPXOR    Y1, Y1, Y1        // weighted sums, per dword
	VPXOR    Y2, Y2, Y2        // sums of earlier chunks, per qword

aloop:
	VMOVDQU    (SI), Y3
	VPADDQ     Y0, Y2, Y2
	VPSADBW    Y15, Y3, Y4
	VPADDQ     Y4, Y0, Y0
	VPMADDUBSW Y14, Y3, Y5
	VPMADDWD   Y13, Y5, Y5
	VPADDD     Y5, Y1, Y1
	ADDQ       $32, SI
	DECQ       CX
	JNZ        aloop

	VEXTRACTI128 $1, Y0, X4
	VPADDQ       X4, X0, X0
	VPSHUFD      $0x4e, X0, X4
	VPADDQ       X4, X0, X0
	VMOVQ        X0, AX
	MOVL         AX, sum+16(FP)

	VEXTRACTI128 $1, Y1, X4
	VPADDD       X4, X1, X1
	VPSHUFD      $0x4e, X1, X4
	VPADDD       X4, X1, X1
	VPSHUFD      $0xb1, X1, X4
	VPADDD       X4, X1, X1
	VMOVD        X1, AX
	MOVL         AX, dot+20(FP)

	VEXTRACTI128 $1, Y2, X4
	VPADDQ       X4, X2, X2
	VPSHUFD      $0x4e, X2, X4
	VPADDQ       X4, X2, X2
	VMOVQ        X2, AX
	MOVL         AX, pre+24(FP)

	VZEROUPPER
	RET

//go:build amd64 && !purego

#include "textflag.h"

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

// func addAVX2(y, x *float32, n int)
// y[i] += x[i]; n is a multiple of 8.
TEXT ·addAVX2(SB), NOSPLIT, $0-24
	MOVQ  y+0(FP), DI
	MOVQ  x+8(FP), SI
	MOVQ  n+16(FP), CX
	SHRQ  $3, CX
	TESTQ CX, CX
	JZ    adone

aloop:
	VMOVUPS (DI), Y0
	VADDPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     aloop

adone:
	VZEROUPPER
	RET

// func mulAVX2(y, x *float32, n int)
// y[i] *= x[i]; n is a multiple of 8.
TEXT ·mulAVX2(SB), NOSPLIT, $0-24
	MOVQ  y+0(FP), DI
	MOVQ  x+8(FP), SI
	MOVQ  n+16(FP), CX
	SHRQ  $3, CX
	TESTQ CX, CX
	JZ    mdone

mloop:
	VMOVUPS (DI), Y0
	VMULPS  (SI), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mloop

mdone:
	VZEROUPPER
	RET

//go:build amd64 && !purego

package kernel

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// Hand-written micro-kernels in simd_amd64.s. They take raw pointers; the
// wrappers below check every slice bound first, so a blocking bug panics
// instead of reading or writing out of bounds.

//go:noescape
func kern8x8AVX2(k int, a *float32, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func kern8x32AVX512(k int, a *float32, b *float32, ldb int, c *float32, ldc int, acc int)

//go:noescape
func gemvAVX2(k int, a *float32, b *float32, ldb int, out *float32)

//go:noescape
func gemv16AVX2(k int, a *uint16, b *float32, ldb int, out *float32)

//go:noescape
func widenF16C(dst *float32, src *uint16, n int)

//go:noescape
func epilogueAVX2(x *float32, n int, bias float32, act int)

//go:noescape
func axpyAVX2(a float32, y *float32, x *float32, n int)

// simdImpls lists the SIMD implementations this CPU supports, best first.
func simdImpls() []*impl {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	// F16C has no flag in x/sys/cpu; every AVX2+FMA CPU (Haswell, Zen and
	// later) has it.
	avx2 := &impl{
		name:     "avx2",
		nr:       8,
		kern:     kernAVX2,
		kern8:    kernAVX2,
		gemv:     gemvSIMD,
		gemv16:   gemv16SIMD,
		widen:    widenSIMD,
		epilogue: epilogueSIMD,
		axpy:     axpySIMD,
	}
	if !cpu.X86.HasAVX512F {
		return []*impl{avx2}
	}
	avx512 := *avx2
	avx512.name = "avx512"
	avx512.nr = 32
	avx512.kern = kernAVX512
	return []*impl{&avx512, avx2}
}

func checkKern(k int, a, b []float32, ldb int, c []float32, ldc, nr int) {
	if k < 1 || len(a) < k*mr || len(b) < (k-1)*ldb+nr || len(c) < (mr-1)*ldc+nr {
		panic(fmt.Sprintf("kernel: micro-kernel 8x%d with k=%d ldb=%d ldc=%d on len(a)=%d len(b)=%d len(c)=%d",
			nr, k, ldb, ldc, len(a), len(b), len(c)))
	}
}

func kernAVX2(k int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	checkKern(k, a, b, ldb, c, ldc, 8)
	kern8x8AVX2(k, &a[0], &b[0], ldb, &c[0], ldc, b2i(acc))
}

func kernAVX512(k int, a, b []float32, ldb int, c []float32, ldc int, acc bool) {
	checkKern(k, a, b, ldb, c, ldc, 32)
	kern8x32AVX512(k, &a[0], &b[0], ldb, &c[0], ldc, b2i(acc))
}

func gemvSIMD(k int, a, b []float32, ldb int, out []float32) {
	if k < 1 || len(a) < k*mr || len(b) < (k-1)*ldb+1 || len(out) < mr {
		panic(fmt.Sprintf("kernel: gemv k=%d ldb=%d on len(a)=%d len(b)=%d", k, ldb, len(a), len(b)))
	}
	gemvAVX2(k, &a[0], &b[0], ldb, &out[0])
}

func gemv16SIMD(k int, a []uint16, b []float32, ldb int, out []float32) {
	if k < 1 || len(a) < k*mr || len(b) < (k-1)*ldb+1 || len(out) < mr {
		panic(fmt.Sprintf("kernel: gemv16 k=%d ldb=%d on len(a)=%d len(b)=%d", k, ldb, len(a), len(b)))
	}
	gemv16AVX2(k, &a[0], &b[0], ldb, &out[0])
}

func widenSIMD(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[n-1]
		widenF16C(&dst[0], &src[0], n)
	}
	widenGeneric(dst[n:], src[n:])
}

func epilogueSIMD(x []float32, bias float32, act Act) {
	n := len(x) &^ 7
	if n > 0 {
		epilogueAVX2(&x[0], n, bias, int(act))
	}
	epilogueGeneric(x[n:], bias, act)
}

func axpySIMD(y, x []float32, a float32) {
	x = x[:len(y)]
	n := len(y) &^ 7
	if n > 0 {
		axpyAVX2(a, &y[0], &x[0], n)
	}
	axpyGeneric(y[n:], x[n:], a)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

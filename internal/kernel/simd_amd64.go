//go:build amd64 && !purego

package kernel

import (
	"fmt"

	"golang.org/x/sys/cpu"
)

// The SIMD micro-kernels are hand-written assembly: the GEMM tiles and
// GEMV in gemm_amd64.s (wrapped in gemm_amd64.go), the depthwise and stem
// rows in dw_amd64.s (dw_amd64.go), and the vector helpers below in
// simd_amd64.s. They take raw pointers; the Go wrappers check every slice
// bound first, so a tiling bug panics instead of reading or writing out of
// bounds. Every function ends with VZEROUPPER, and none uses a legacy-SSE
// instruction: on this family of CPUs an SSE instruction with dirty upper
// vector state cost about a microsecond per call.

//go:noescape
func widenF16C(dst *float32, src *uint16, n int)

//go:noescape
func addAVX2(y, x *float32, n int)

//go:noescape
func mulAVX2(y, x *float32, n int)

// simdImpls lists the SIMD implementations this CPU supports, best first.
func simdImpls() []*impl {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		return nil
	}
	// F16C has no flag in x/sys/cpu; every AVX2+FMA CPU (Haswell, Zen and
	// later) has it.
	avx2 := &impl{
		name:    "avx2",
		mr:      mr256,
		tile16:  tile16Y,
		part:    tileAVX2,
		gemv:    gemvY,
		gemv16:  gemv16Y,
		widen:   widenSIMD,
		dwRow:   dwRowY,
		stemRow: stemRowY,
		add:     addSIMD,
		mul:     mulSIMD,
	}
	if !cpu.X86.HasAVX512F {
		return []*impl{avx2}
	}
	avx512 := *avx2
	avx512.name = "avx512"
	avx512.mr = mr512
	avx512.tile16 = hTile16
	avx512.tile32 = hTile32
	avx512.part = tileAVX512
	avx512.gemv = hGemv
	avx512.gemv16 = hGemv16
	avx512.dwRow = hDwRow
	avx512.stemRow = hStemRow
	return []*impl{&avx512, avx2}
}

func widenSIMD(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if n > 0 {
		_ = dst[n-1]
		widenF16C(&dst[0], &src[0], n)
	}
	widenGeneric(dst[n:], src[n:])
}

func addSIMD(y, x []float32) {
	x = x[:len(y)]
	n := len(y) &^ 7
	if n > 0 {
		addAVX2(&y[0], &x[0], n)
	}
	addGeneric(y[n:], x[n:])
}

func mulSIMD(y, x []float32) {
	x = x[:len(y)]
	n := len(y) &^ 7
	if n > 0 {
		mulAVX2(&y[0], &x[0], n)
	}
	mulGeneric(y[n:], x[n:])
}

// checkTile panics unless a tile of mr rows by 16*np columns fits.
func checkTile(name string, mr, np, k int, a []float32, lda int, p, bias, c []float32, ldc int) {
	if k < 1 || lda < k || ldc < np*lanes || len(a) < (mr-1)*lda+k || len(p) < np*k*lanes || len(bias) < np*lanes || len(c) < (mr-1)*ldc+np*lanes {
		panic(fmt.Sprintf("kernel: %s %dx%d tile with k=%d lda=%d ldc=%d on len(a)=%d len(p)=%d len(bias)=%d len(c)=%d",
			name, mr, np*lanes, k, lda, ldc, len(a), len(p), len(bias), len(c)))
	}
}

// checkGemv panics unless a one-row GEMM over np panels (of plen values
// in all) fits.
func checkGemv(name string, k int, a []float32, plen, np int, bias, c []float32) {
	if k < 1 || np < 1 || len(a) < k || plen < np*k*lanes || len(bias) < np*lanes || len(c) < np*lanes {
		panic(fmt.Sprintf("kernel: %s with k=%d over %d panels on len(a)=%d len(p)=%d len(bias)=%d len(c)=%d",
			name, k, np, len(a), plen, len(bias), len(c)))
	}
}

// checkRow panics unless every read and write of a dwRow (scalar ==
// false) or stemRow (scalar == true) call stays inside its slices.
func checkRow(name string, r *rowArgs, scalar bool) {
	px := r.cs // elements per input pixel
	if scalar {
		px = 1
	}
	ok := r.n >= 1 && r.cs >= lanes && r.cs%lanes == 0 && r.kx0 >= 0 && r.kx0 < r.kx1 && r.step >= 0 &&
		len(r.roff) >= 1 && len(r.woff) == len(r.roff) && len(r.bias) >= r.cs && len(r.out) >= r.n*r.cs
	for t := 0; ok && t < len(r.roff); t++ {
		lo := r.roff[t] + r.kx0*px
		hi := r.roff[t] + (r.n-1)*r.step + (r.kx1-1)*px
		if scalar {
			hi++
		} else {
			hi += r.cs
		}
		ok = lo >= 0 && hi <= len(r.in) && r.woff[t]+r.kx0*r.cs >= 0 && r.woff[t]+r.kx1*r.cs <= len(r.w)
	}
	if !ok {
		panic(fmt.Sprintf("kernel: %s out of bounds: n=%d cs=%d kx=[%d,%d) step=%d roff=%v woff=%v len(in)=%d len(w)=%d len(bias)=%d len(out)=%d",
			name, r.n, r.cs, r.kx0, r.kx1, r.step, r.roff, r.woff, len(r.in), len(r.w), len(r.bias), len(r.out)))
	}
}

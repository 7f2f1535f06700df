// Package kernel holds the CPU compute kernels behind lcnet's PP-LCNet
// inference: a packed-weight GEMM for the 1x1 convolutions, the SE block,
// the last conv and the FC layer; depthwise k x k convolutions; a depthwise
// convolution fused with the 1x1 convolution after it, band by band, so
// that its output stays in cache; the dense stem convolution; and the
// small per-channel ops of the SE block and the global pool, plus a
// low-overhead Pool that splits one layer over a fixed set of goroutines.
//
// Layout contracts (all float32, no hidden state):
//
//   - Activations are per-image NHWC with the channel count padded to a
//     multiple of 16 (Stride(c)): pixel p = y*w+x, channel c is at
//     x[p*cs+c]. Padding channels hold zeros; every kernel keeps them zero
//     because packed weights and biases are zero there. Channels-last lets
//     every kernel vectorise over channels, which is what makes depthwise
//     convolutions with any stride as fast as the rest.
//   - The network's input is NCHW (3 planes), read directly by Stem.
//   - Weight matrices come in M (output channels) x K (inputs) row-major,
//     as Paddle and ONNX store a conv weight [M][K][1][1]; Pack turns one
//     into 16-column panels once at load time. Depthwise and stem filters
//     come as [M][taps] and are laid out tap-major by PackTaps.
//   - Padding is always (k-1)/2 zeros on each side (PP-LCNet's "same"
//     convolutions); outputs are oh = (h+2p-k)/sh+1 by ow = (w+2p-k)/sw+1.
//
// Concurrency: every function is safe to call from many goroutines at once
// as long as each call has its own Workspaces and output. A Pool runs one
// parallel loop at a time; concurrent calls sharing a Pool take turns.
// With pool == nil a call runs serially on the calling goroutine.
//
// The implementation (AVX-512, AVX2+FMA+F16C, or pure Go) is chosen once at
// start-up from the CPU's features; LCNET_KERNEL=generic (or avx2) or the
// build tag purego forces another. Impl reports the choice.
package kernel

import (
	"os"
	"unsafe"
)

//go:generate python3 gen/asm.py

// Act is an activation fused into a kernel's output.
type Act uint8

const (
	ActNone        Act = iota
	ActReLU            // max(x, 0)
	ActHardSwish       // x * relu6(x+3) / 6
	ActHardSigmoid     // clip(x*0.1666667 + 0.5, 0, 1), Paddle's slope
)

// hardSigmoidSlope is Paddle's rounded 1/6 (not exactly 1/6), kept so the
// outputs match Paddle and its ONNX export bit for bit in the slope.
const hardSigmoidSlope = float32(0.1666667)

// lanes is the width of a packed weight panel and the unit of channel
// padding: one AVX-512 vector, two AVX2 vectors.
const lanes = 16

// Stride is the padded channel count activations with c channels are
// stored with.
func Stride(c int) int { return (c + lanes - 1) &^ (lanes - 1) }

// impl is one set of micro-kernels. Everything above them (tiling, edges,
// threading, border handling) is shared Go, so the pure-Go path and the
// SIMD paths differ only here and the tests can run each of them. The
// exact contract of each is in generic.go, whose pure-Go versions are the
// reference the SIMD ones are tested against.
type impl struct {
	name string
	// mr is the number of rows (pixels) a GEMM tile computes.
	mr int
	// tile16 computes an mr x 16 GEMM tile from one panel, tile32 an
	// mr x 32 tile from two consecutive panels (nil when the impl has
	// no wider kernel).
	// pf names memory to pull toward L2 meanwhile (kernels may ignore it).
	tile16, tile32 func(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, pf prefetch)
	// part computes a partial tile of rows < mr rows and np (1 or 2)
	// panels in place; nil makes the driver copy the rows into a zeroed
	// full tile and the outputs back.
	part func(rows, np, k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int)
	// gemv is a one-row GEMM over np panels, gemv16 the same reading fp16
	// panels directly (these layers are memory-bound: half the bytes).
	gemv   func(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32)
	gemv16 func(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32)
	// widen converts fp16 to fp32 (len(dst) == len(src)).
	widen func(dst []float32, src []uint16)
	// dwRow and stemRow compute a run of output pixels of one output row
	// of a depthwise or stem convolution (see dwRowGeneric, stemRowGeneric).
	dwRow   func(r *rowArgs)
	stemRow func(r *rowArgs)
	// dwFull, when not nil, computes a whole depthwise output row, its
	// clipped border pixels included, in one call: r.roff[t] points at
	// input column -(k-1)/2 of tap row t, [kx0, kx1) = [0, k), n = ow,
	// and win is the input width. It reports false, computing nothing,
	// when it has no kernel for the shape; the row then goes run by run.
	dwFull func(r *rowArgs, win int) bool
	// add does y[i] += x[i], mul y[i] *= x[i] (len(x) >= len(y)).
	add, mul func(y, x []float32)
}

// prefetch is memory a GEMM tile pulls into L2 while it computes: the
// panels of the column group the thread computes next. The late layers'
// weights are megabytes read once per inference from L3, and a tile
// waiting on them runs about 10% slower than on cached ones. The zero
// value prefetches nothing.
type prefetch struct {
	p    unsafe.Pointer
	step int // bytes per k step: 64 per panel, at most 128
}

// active is chosen once at start-up and never changed.
var active = chooseImpl(os.Getenv("LCNET_KERNEL"))

func chooseImpl(env string) *impl {
	if env == "generic" {
		return genericImpl()
	}
	for _, im := range simdImpls() {
		if env == "" || env == im.name {
			return im
		}
	}
	return genericImpl()
}

// Impl names the implementation chosen at start-up: "avx512", "avx2" or
// "generic".
func Impl() string { return active.name }

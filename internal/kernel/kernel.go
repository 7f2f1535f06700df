// Package kernel holds the CPU compute kernels behind lcnet's PP-LCNet
// inference: a packed-weight GEMM (1x1 convolutions, the last conv and the
// FC layer), depthwise k x k convolutions, a dense convolution for the stem,
// and the small per-channel ops of the SE block, plus a low-overhead Pool
// that splits one layer over a fixed set of goroutines.
//
// Layout contracts (all float32, row-major, no hidden padding):
//
//   - Activations are per-image CHW planes: channel c, row y, column x is
//     at in[(c*h+y)*w+x].
//   - Weight matrices are M (output channels) x K (input channels, or
//     cin*k*k for Conv in (ci, ky, kx) order) row-major, as Paddle and ONNX
//     store a conv weight [M][K][1][1] or [M][cin][k][k]. Pack turns one
//     into a Packed once at load time.
//   - Gemm's b is K x n and c is M x n, both with leading dimension n: the
//     CHW plane of a 1x1 convolution's input and output, with n = H*W. For
//     the FC layer on a batch, n is the batch size and b is K x batch.
//   - Depthwise weights are c x k x k; bias is one value per output channel.
//   - Padding is always (k-1)/2 zeros on each side (PP-LCNet's "same"
//     convolutions); outputs are oh = (h+2p-k)/sh+1 by ow = (w+2p-k)/sw+1.
//
// Concurrency: every function is safe to call from many goroutines at once
// as long as each call has its own Workspaces and output. A Pool runs one
// parallel loop at a time; concurrent calls sharing a Pool take turns.
// With pool == nil a call runs serially on the calling goroutine.
//
// The implementation (AVX-512, AVX2+FMA+F16C, or pure Go) is chosen once at
// start-up from the CPU's features; LCNET_KERNEL=generic or the build tag
// purego forces the pure-Go fallback. Impl reports the choice.
package kernel

import "os"

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

// impl is one set of micro-kernels. Everything above the micro-kernels
// (blocking, packing, edges, threading) is shared, so the pure-Go path and
// the SIMD paths differ only here and the tests can run each of them.
type impl struct {
	name string
	// nr is the column width of the widest GEMM micro-kernel.
	nr int
	// kern computes c[8][nr] = a · b (or, with acc, adds it to c) for an
	// 8 x k panel a (k-major, 8 values per k) and b of k rows with leading
	// dimension ldb.
	kern func(k int, a, b []float32, ldb int, c []float32, ldc int, acc bool)
	// kern8 is the same with 8 columns, for the edge left over by kern.
	kern8 func(k int, a, b []float32, ldb int, c []float32, ldc int, acc bool)
	// gemv computes out[0:8] = a · b[:, 0] (column stride ldb), for n < 8.
	gemv func(k int, a, b []float32, ldb int, out []float32)
	// gemv16 is gemv with an fp16 panel widened on the fly: the small-n
	// layers are memory-bound, so they read half the bytes.
	gemv16 func(k int, a []uint16, b []float32, ldb int, out []float32)
	// widen converts fp16 to fp32 (len(dst) == len(src)).
	widen func(dst []float32, src []uint16)
	// epilogue does x[i] = act(x[i] + bias) in place.
	epilogue func(x []float32, bias float32, act Act)
	// axpy does y[i] += a*x[i] (len(x) == len(y)), the depthwise inner loop.
	axpy func(y, x []float32, a float32)
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

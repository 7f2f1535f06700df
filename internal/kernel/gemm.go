package kernel

import "fmt"

// Workspace is per-thread scratch: a widened fp16 weight panel, the packed
// right edge of B, an output tile for partial panels and Conv's im2col
// block. Buffers grow on demand and are reused, so steady-state calls do
// not allocate. A Workspace must not be used by two calls at once.
type Workspace struct {
	panel []float32 // 8 x K widened fp16 panel
	tile  []float32 // 8 x edge partial outputs, one per panel
	part  []float32 // 8 x wide partial outputs of a short last panel
	bpack []float32 // the zero-padded last columns of a block of B
	col   []float32 // Conv: K x colBlock im2col block
}

// NewWorkspace returns an empty Workspace.
func NewWorkspace() *Workspace { return &Workspace{} }

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// l2Budget is how many bytes of B one column block may span, so that the
// block stays in L2 while every weight panel streams over it.
const l2Budget = 512 << 10

// kcMax bounds a K chunk so that a kcMax x 32 tile of B (32 KiB) and an
// 8 x kcMax weight panel fit the 48 KiB L1 together.
const kcMax = 256

// serialFlops is the multiply-add count below which a layer is not worth
// splitting: the SE block's 1-column GEMMs and the like.
const serialFlops = 1 << 15

// Gemm computes c[M][N] = act(a · b[K][N] + bias[M]), with b and c
// row-major with leading dimension n (a 1x1 conv on a CHW plane has
// n = H*W). bias may be nil. With a pool the work is split over
// min(pool.Threads(), len(ws)) threads, each using its own Workspace; with
// pool == nil it runs serially on ws[0].
func Gemm(pool *Pool, ws []*Workspace, a *Packed, b []float32, n int, bias []float32, act Act, c []float32) {
	gemmWith(active, pool, ws, a, b, n, bias, act, c)
}

func gemmWith(im *impl, pool *Pool, ws []*Workspace, a *Packed, b []float32, n int, bias []float32, act Act, c []float32) {
	if n <= 0 || len(b) < a.k*n || len(c) < a.m*n || (bias != nil && len(bias) < a.m) || len(ws) == 0 {
		panic(fmt.Sprintf("kernel.Gemm: M=%d K=%d N=%d with len(b)=%d len(c)=%d len(bias)=%d and %d workspaces",
			a.m, a.k, n, len(b), len(c), len(bias), len(ws)))
	}
	panels := (a.m + mr - 1) / mr
	if pool.Threads() <= 1 || len(ws) == 1 || a.m*a.k*n < serialFlops {
		gemmBlock(im, ws[0], a, 0, panels, b, n, n, bias, act, c, n)
		return
	}
	pool.mu.Lock()
	pool.gemmT = gemmTask{im: im, ws: ws, a: a, b: b, n: n, bias: bias, act: act, c: c}
	pool.parallel(&pool.gemmT)
	pool.gemmT = gemmTask{} // drop references to the caller's slices
	pool.mu.Unlock()
}

type gemmTask struct {
	im   *impl
	ws   []*Workspace
	a    *Packed
	b    []float32
	n    int
	bias []float32
	act  Act
	c    []float32
}

// run splits wide layers over columns (pixels), each thread streaming all
// weights over its own pixels, and narrow ones (the last conv and FC, with
// n = batch) over output channels.
func (t *gemmTask) run(tid, threads int) {
	threads = min(threads, len(t.ws))
	if tid >= threads {
		return
	}
	panels := (t.a.m + mr - 1) / mr
	if t.n >= 16*threads {
		step := (t.n + threads - 1) / threads
		step = (step + 7) &^ 7
		lo, hi := tid*step, min((tid+1)*step, t.n)
		if lo < hi {
			gemmBlock(t.im, t.ws[tid], t.a, 0, panels, t.b[lo:], t.n, hi-lo, t.bias, t.act, t.c[lo:], t.n)
		}
		return
	}
	lo, hi := panels*tid/threads, panels*(tid+1)/threads
	if lo < hi {
		gemmBlock(t.im, t.ws[tid], t.a, lo, hi, t.b, t.n, t.n, t.bias, t.act, t.c, t.n)
	}
}

// gemmBlock computes weight panels [p0, p1) against n columns of b
// (leading dimension ldb) into c (leading dimension ldc).
func gemmBlock(im *impl, ws *Workspace, a *Packed, p0, p1 int, b []float32, ldb, n int, bias []float32, act Act, c []float32, ldc int) {
	k := a.k
	ws.tile = grow(ws.tile, mr*im.nr)
	if n < 8 {
		out := ws.tile[:mr]
		for p := p0; p < p1; p++ {
			rows := min(mr, a.m-p*mr)
			for j := 0; j < n; j++ {
				if a.f16 != nil {
					im.gemv16(k, a.f16[p*mr*k:(p+1)*mr*k], b[j:], ldb, out)
				} else {
					im.gemv(k, a.f32[p*mr*k:(p+1)*mr*k], b[j:], ldb, out)
				}
				for r := 0; r < rows; r++ {
					bv := float32(0)
					if bias != nil {
						bv = bias[p*mr+r]
					}
					c[(p*mr+r)*ldc+j] = activate(out[r]+bv, act)
				}
			}
		}
		return
	}
	// Blocking (GotoBLAS order): a column block of B and C sized for L2,
	// then K chunks of at most kcMax so one kc x nr tile of B stays in L1
	// while every weight panel of the chunk streams past it from L2.
	nc := max(im.nr, min(l2Budget/(4*k), l2Budget/(4*(p1-p0)*mr))/im.nr*im.nr)
	chunks := (k + kcMax - 1) / kcMax
	kc := (k + chunks - 1) / chunks
	if a.f16 != nil {
		ws.panel = grow(ws.panel, (p1-p0)*mr*kc)
	}
	for j0 := 0; j0 < n; j0 += nc {
		jn := min(nc, n-j0)
		wide := jn / im.nr * im.nr
		// The last jn-wide columns go through one zero-padded tile: 8 wide
		// when they fit, else a full wide tile, which on AVX-512 beats
		// several 8-column ymm tiles even with up to half of it padding.
		edge := 8
		if jn-wide > 8 {
			edge = im.nr
		}
		if wide < jn {
			ws.bpack = grow(ws.bpack, k*edge)
			for kk := 0; kk < k; kk++ {
				d := ws.bpack[kk*edge : (kk+1)*edge]
				m := copy(d, b[kk*ldb+j0+wide:kk*ldb+j0+jn])
				clear(d[m:])
			}
			ws.tile = grow(ws.tile, (p1-p0)*mr*edge)
		}
		if a.m%mr != 0 && p1*mr > a.m {
			ws.part = grow(ws.part, mr*wide)
		}
		for k0 := 0; k0 < k; k0 += kc {
			kn := min(kc, k-k0)
			acc := k0 > 0
			if a.f16 != nil {
				for p := p0; p < p1; p++ {
					im.widen(ws.panel[(p-p0)*mr*kn:(p-p0+1)*mr*kn], a.f16[p*mr*k+k0*mr:p*mr*k+(k0+kn)*mr])
				}
			}
			panel := func(p int) []float32 {
				if a.f16 != nil {
					return ws.panel[(p-p0)*mr*kn : (p-p0+1)*mr*kn]
				}
				return a.f32[p*mr*k+k0*mr : p*mr*k+(k0+kn)*mr]
			}
			// Full tiles read B in place: packing it cost more than the
			// strided reads save at PP-LCNet's sizes (measured).
			for j := 0; j < wide; j += im.nr {
				bt := b[k0*ldb+j0+j:]
				for p := p0; p < p1; p++ {
					cp := c[p*mr*ldc+j0+j:]
					if rows := a.m - p*mr; rows >= mr {
						im.kern(kn, panel(p), bt, ldb, cp, ldc, acc)
						continue
					}
					// A partial last panel: compute into a tile that holds
					// its sum over the K chunks, copy out after the last.
					t := ws.part[j*mr : j*mr+mr*im.nr]
					im.kern(kn, panel(p), bt, ldb, t, im.nr, acc)
					if k0+kn == k {
						copyTile(cp, ldc, t, im.nr, a.m-p*mr, im.nr)
					}
				}
			}
			if wide < jn {
				for p := p0; p < p1; p++ {
					t := ws.tile[(p-p0)*mr*edge : (p-p0+1)*mr*edge]
					if edge == 8 {
						im.kern8(kn, panel(p), ws.bpack[k0*edge:], edge, t, edge, acc)
					} else {
						im.kern(kn, panel(p), ws.bpack[k0*edge:], edge, t, edge, acc)
					}
					if k0+kn == k {
						copyTile(c[p*mr*ldc+j0+wide:], ldc, t, edge, min(mr, a.m-p*mr), jn-wide)
					}
				}
			}
		}
		if bias != nil || act != ActNone {
			for p := p0; p < p1; p++ {
				for r := 0; r < min(mr, a.m-p*mr); r++ {
					bv := float32(0)
					if bias != nil {
						bv = bias[p*mr+r]
					}
					row := c[(p*mr+r)*ldc+j0:]
					im.epilogue(row[:jn], bv, act)
				}
			}
		}
	}
}

func copyTile(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	for r := 0; r < rows; r++ {
		copy(dst[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols])
	}
}

func activate(v float32, act Act) float32 {
	switch act {
	case ActReLU:
		return max(v, 0)
	case ActHardSwish:
		return v * min(max(v+3, 0), 6) * (1.0 / 6)
	case ActHardSigmoid:
		return min(max(v*hardSigmoidSlope+0.5, 0), 1)
	}
	return v
}

package kernel

import "fmt"

// Workspace is per-thread scratch: a widened fp16 weight panel, the packed
// right edge of B, an output tile for partial panels and Conv's im2col
// block. Buffers grow on demand and are reused, so steady-state calls do
// not allocate. A Workspace must not be used by two calls at once.
type Workspace struct {
	panel []float32 // 8 x K widened fp16 panel
	edge  []float32 // K x 8 zero-padded last columns of B
	tile  []float32 // 8 x nr partial output
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
	nc := max(im.nr, l2Budget/(4*k)/im.nr*im.nr)
	if a.f16 != nil {
		ws.panel = grow(ws.panel, mr*k)
	}
	for j0 := 0; j0 < n; j0 += nc {
		jn := min(nc, n-j0)
		wide := jn / im.nr * im.nr
		narrow := wide + (jn-wide)/8*8
		if narrow < jn { // pack the last <8 columns once for all panels
			ws.edge = grow(ws.edge, k*8)
			e := ws.edge
			for kk := 0; kk < k; kk++ {
				src := b[kk*ldb+j0+narrow : kk*ldb+j0+jn]
				dst := e[kk*8 : kk*8+8]
				copy(dst, src)
				clear(dst[len(src):])
			}
		}
		for p := p0; p < p1; p++ {
			var panel []float32
			if a.f16 != nil {
				im.widen(ws.panel, a.f16[p*mr*k:(p+1)*mr*k])
				panel = ws.panel
			} else {
				panel = a.f32[p*mr*k : (p+1)*mr*k]
			}
			rows := min(mr, a.m-p*mr)
			cp := c[p*mr*ldc+j0:]
			for j := 0; j < wide; j += im.nr {
				if rows == mr {
					im.kern(k, panel, b[j0+j:], ldb, cp[j:], ldc)
				} else {
					im.kern(k, panel, b[j0+j:], ldb, ws.tile, im.nr)
					copyTile(cp[j:], ldc, ws.tile, im.nr, rows, im.nr)
				}
			}
			for j := wide; j < narrow; j += 8 {
				if rows == mr {
					im.kern8(k, panel, b[j0+j:], ldb, cp[j:], ldc)
				} else {
					im.kern8(k, panel, b[j0+j:], ldb, ws.tile, 8)
					copyTile(cp[j:], ldc, ws.tile, 8, rows, 8)
				}
			}
			if narrow < jn {
				im.kern8(k, panel, ws.edge, 8, ws.tile, 8)
				copyTile(cp[narrow:], ldc, ws.tile, 8, rows, jn-narrow)
			}
			if bias != nil || act != ActNone {
				for r := 0; r < rows; r++ {
					bv := float32(0)
					if bias != nil {
						bv = bias[p*mr+r]
					}
					im.epilogue(cp[r*ldc:r*ldc+jn], bv, act)
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

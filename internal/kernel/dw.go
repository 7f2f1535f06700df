package kernel

import "fmt"

// Depthwise computes a per-channel k x k convolution (k odd) with zero
// padding (k-1)/2 and stride (sh, sw), fused with bias and act. in is
// h x w x cs (NHWC, cs a multiple of 16), wt is PackTaps(filters, c, k*k)
// (k*k x cs), bias has cs values, out is oh x ow x cs. With a pool the
// output rows are split over min(pool.Threads(), len(ws)) threads.
func Depthwise(pool *Pool, ws []*Workspace, in []float32, h, w, cs int, wt []float32, k, sh, sw int, bias []float32, act Act, out []float32) {
	dwWith(active, pool, ws, in, h, w, cs, wt, k, sh, sw, bias, act, out)
}

func dwWith(im *impl, pool *Pool, ws []*Workspace, in []float32, h, w, cs int, wt []float32, k, sh, sw int, bias []float32, act Act, out []float32) {
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	if !dwArgsOK(in, h, w, cs, wt, k, sh, sw, bias, ws) || len(out) < oh*ow*cs {
		panic(fmt.Sprintf("kernel.Depthwise: %dx%dx%d k=%d stride=(%d,%d) with len(in)=%d len(wt)=%d len(bias)=%d len(out)=%d and %d workspaces",
			h, w, cs, k, sh, sw, len(in), len(wt), len(bias), len(out), len(ws)))
	}
	t := rowTask{im: im, dense: false, ws: ws, in: in, planes: 1, h: h, w: w, cs: cs, wt: wt, k: k, sh: sh, sw: sw, bias: bias, act: act, out: out}
	t.start(pool)
}

// dwArgsOK reports whether a depthwise convolution's geometry, input,
// filters, bias and workspaces fit together (Depthwise, DepthwisePointwise).
func dwArgsOK(in []float32, h, w, cs int, wt []float32, k, sh, sw int, bias []float32, ws []*Workspace) bool {
	return k >= 1 && k%2 == 1 && sh >= 1 && sw >= 1 && h >= 1 && w >= 1 && cs >= lanes && cs%lanes == 0 && len(ws) > 0 &&
		len(in) >= h*w*cs && len(wt) >= k*k*cs && len(bias) >= cs
}

// Stem computes a dense k x k convolution of an NCHW input (cin planes of
// h x w) with zero padding (k-1)/2 and stride (sh, sw), fused with bias and
// act, into NHWC out (oh x ow x cs): wt is PackTaps(filters, cout,
// cin*k*k) with each filter in (ci, ky, kx) order, cs = Stride(cout), bias
// has cs values. PP-LCNet's first layer.
func Stem(pool *Pool, ws []*Workspace, in []float32, cin, h, w int, wt []float32, cs, k, sh, sw int, bias []float32, act Act, out []float32) {
	stemWith(active, pool, ws, in, cin, h, w, wt, cs, k, sh, sw, bias, act, out)
}

func stemWith(im *impl, pool *Pool, ws []*Workspace, in []float32, cin, h, w int, wt []float32, cs, k, sh, sw int, bias []float32, act Act, out []float32) {
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	if k < 1 || k%2 == 0 || sh < 1 || sw < 1 || cin < 1 || h < 1 || w < 1 || cs < lanes || cs%lanes != 0 || len(ws) == 0 ||
		len(in) < cin*h*w || len(wt) < cin*k*k*cs || len(bias) < cs || len(out) < oh*ow*cs {
		panic(fmt.Sprintf("kernel.Stem: cin=%d %dx%d k=%d stride=(%d,%d) cs=%d with len(in)=%d len(wt)=%d len(bias)=%d len(out)=%d and %d workspaces",
			cin, h, w, k, sh, sw, cs, len(in), len(wt), len(bias), len(out), len(ws)))
	}
	t := rowTask{im: im, dense: true, ws: ws, in: in, planes: cin, h: h, w: w, cs: cs, wt: wt, k: k, sh: sh, sw: sw, bias: bias, act: act, out: out}
	t.start(pool)
}

func outSize(in, k, stride int) int { return (in+2*((k-1)/2)-k)/stride + 1 }

// rowTask is a Depthwise or Stem call: both walk output rows and hand runs
// of pixels with the same in-bounds horizontal taps to a row kernel.
type rowTask struct {
	im        *impl
	dense     bool // Stem: NCHW input, scalar taps
	ws        []*Workspace
	in        []float32
	planes    int // input planes read per tap row: cin for Stem, 1 for Depthwise
	h, w, cs  int
	wt        []float32
	k, sh, sw int
	bias      []float32
	act       Act
	out       []float32
	// row0 is the output row at the start of out: 0, or the first row of
	// a band (DepthwisePointwise).
	row0 int
	// claims are the threads' shares of the output rows; nil splits them
	// statically.
	claims []claim
}

func (t *rowTask) start(pool *Pool) {
	oh, ow := outSize(t.h, t.k, t.sh), outSize(t.w, t.k, t.sw)
	if pool.Threads() <= 1 || len(t.ws) == 1 || oh < 2 || oh*ow*t.cs*t.k*t.k*t.planes < serialFlops {
		t.run(0, 1)
		return
	}
	pool.mu.Lock()
	pool.rowT = *t
	pool.rowT.claims = pool.share(len(t.ws), oh)
	pool.parallel(&pool.rowT)
	pool.rowT = rowTask{}
	pool.mu.Unlock()
}

func (t *rowTask) run(tid, threads int) {
	threads = min(threads, len(t.ws))
	if tid >= threads {
		return
	}
	ws := t.ws[tid]
	if t.claims != nil {
		runShare(t.claims, tid, false, 1, func(y0, y1 int) {
			for oy := y0; oy < y1; oy++ {
				t.row(ws, oy)
			}
		})
		return
	}
	oh := outSize(t.h, t.k, t.sh)
	for oy := oh * tid / threads; oy < oh*(tid+1)/threads; oy++ {
		t.row(ws, oy)
	}
}

// row computes output row oy: it lists the tap rows inside the input,
// then hands the whole row to the impl's dwFull kernel if it has one for
// the shape, or else splits the row into runs of pixels whose horizontal
// taps are clipped alike (the left border, the interior, the right
// border), a call each.
func (t *rowTask) row(ws *Workspace, oy int) {
	k, p, cs := t.k, (t.k-1)/2, t.cs
	ow := outSize(t.w, k, t.sw)
	ws.base, ws.woff = ws.base[:0], ws.woff[:0]
	for c := 0; c < t.planes; c++ {
		for ky := 0; ky < k; ky++ {
			iy := oy*t.sh - p + ky
			if iy < 0 || iy >= t.h {
				continue
			}
			if t.dense {
				ws.base = append(ws.base, (c*t.h+iy)*t.w-p)
				ws.woff = append(ws.woff, (c*k+ky)*k*cs)
			} else {
				ws.base = append(ws.base, (iy*t.w-p)*cs)
				ws.woff = append(ws.woff, ky*k*cs)
			}
		}
	}
	ws.roff = grow(ws.roff, len(ws.base))
	px := cs // input elements per pixel
	if t.dense {
		px = 1
	}
	a := &ws.args
	if !t.dense && t.im.dwFull != nil {
		copy(ws.roff, ws.base)
		*a = rowArgs{in: t.in, roff: ws.roff, woff: ws.woff, k: k, kx0: 0, kx1: k, step: t.sw * px, n: ow,
			cs: cs, w: t.wt, bias: t.bias, act: t.act, out: t.out[(oy-t.row0)*ow*cs : (oy-t.row0+1)*ow*cs]}
		ok := t.im.dwFull(a, t.w)
		*a = rowArgs{}
		if ok {
			return
		}
	}
	// Pixels [lo, hi) read all k horizontal taps; the at most p pixels on
	// either side are clipped, each its own way.
	lo := min(ow, (p+t.sw-1)/t.sw)
	hi := lo
	if t.w-k+p >= 0 {
		hi = max(lo, min(ow, (t.w-k+p)/t.sw+1))
	}
	run := func(ox, end, kx0, kx1 int) {
		for i, b := range ws.base {
			ws.roff[i] = b + ox*t.sw*px
		}
		*a = rowArgs{in: t.in, roff: ws.roff, woff: ws.woff, k: k, kx0: kx0, kx1: kx1, step: t.sw * px, n: end - ox,
			cs: cs, w: t.wt, bias: t.bias, act: t.act, out: t.out[((oy-t.row0)*ow+ox)*cs : ((oy-t.row0)*ow+end)*cs]}
		if t.dense {
			t.im.stemRow(a)
		} else {
			t.im.dwRow(a)
		}
	}
	clipped := func(ox int) {
		run(ox, ox+1, max(0, p-ox*t.sw), min(k, t.w+p-ox*t.sw))
	}
	for ox := 0; ox < lo; ox++ {
		clipped(ox)
	}
	// The interior is cut to a multiple of 4 pixels and a remainder: row
	// kernels vectorise across pixels in groups of 4 or more, and a
	// separate short run lets them take a path made for few pixels.
	mid := lo + (hi-lo)&^3
	if lo < mid {
		run(lo, mid, 0, k)
	}
	if mid < hi {
		run(mid, hi, 0, k)
	}
	for ox := hi; ox < ow; ox++ {
		clipped(ox)
	}
	*a = rowArgs{}
}

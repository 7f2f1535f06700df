package kernel

import "fmt"

// colBlock is how many output pixels Conv lowers to a matrix at a time, so
// the im2col block (cin*k*k x colBlock) stays in L1/L2 instead of being
// materialised for the whole image.
const colBlock = 256

// Conv computes a dense k x k convolution with zero padding (k-1)/2 and
// stride (sh, sw), fused with bias and act: in is cin x h x w, a is
// Pack(w, cout, cin*k*k) with weights in (ci, ky, kx) order, out is
// cout x oh x ow. PP-LCNet uses it for the stem (cin = 3). Output pixels
// are split over the pool's threads, one Workspace each.
func Conv(pool *Pool, ws []*Workspace, in []float32, cin, h, w int, a *Packed, k, sh, sw int, bias []float32, act Act, out []float32) {
	convWith(active, pool, ws, in, cin, h, w, a, k, sh, sw, bias, act, out)
}

func convWith(im *impl, pool *Pool, ws []*Workspace, in []float32, cin, h, w int, a *Packed, k, sh, sw int, bias []float32, act Act, out []float32) {
	if k < 1 || k%2 == 0 || sh < 1 || sw < 1 || cin < 1 || h < 1 || w < 1 || a.k != cin*k*k || len(ws) == 0 {
		panic(fmt.Sprintf("kernel.Conv: cin=%d h=%d w=%d k=%d stride=(%d,%d) for a %d x %d matrix and %d workspaces",
			cin, h, w, k, sh, sw, a.m, a.k, len(ws)))
	}
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	if len(in) < cin*h*w || len(out) < a.m*oh*ow || (bias != nil && len(bias) < a.m) {
		panic(fmt.Sprintf("kernel.Conv: cin=%d h=%d w=%d k=%d cout=%d: len(in)=%d len(out)=%d len(bias)=%d",
			cin, h, w, k, a.m, len(in), len(out), len(bias)))
	}
	t := convTask{im: im, ws: ws, in: in, cin: cin, h: h, w: w, a: a, k: k, sh: sh, sw: sw, bias: bias, act: act, out: out}
	if pool.Threads() <= 1 || len(ws) == 1 {
		t.run(0, 1)
		return
	}
	pool.mu.Lock()
	pool.convT = t
	pool.parallel(&pool.convT)
	pool.convT = convTask{}
	pool.mu.Unlock()
}

type convTask struct {
	im        *impl
	ws        []*Workspace
	in        []float32
	cin, h, w int
	a         *Packed
	k, sh, sw int
	bias      []float32
	act       Act
	out       []float32
}

func (t *convTask) run(tid, threads int) {
	threads = min(threads, len(t.ws))
	if tid >= threads {
		return
	}
	ws := t.ws[tid]
	oh, ow := outSize(t.h, t.k, t.sh), outSize(t.w, t.k, t.sw)
	npix := oh * ow
	lo, hi := npix*tid/threads, npix*(tid+1)/threads
	kk := t.a.k
	ws.col = grow(ws.col, kk*colBlock)
	for q0 := lo; q0 < hi; q0 += colBlock {
		cnt := min(colBlock, hi-q0)
		im2col(ws.col, cnt, t.in, t.cin, t.h, t.w, t.k, t.sh, t.sw, ow, q0)
		gemmBlock(t.im, ws, t.a, 0, (t.a.m+mr-1)/mr, ws.col, cnt, cnt, t.bias, t.act, t.out[q0:], npix)
	}
}

// im2col writes the cin*k*k x cnt matrix of input taps for output pixels
// [q0, q0+cnt) into col (leading dimension cnt), zeros for the padding.
func im2col(col []float32, cnt int, in []float32, cin, h, w, k, sh, sw, ow, q0 int) {
	p := (k - 1) / 2
	for ci := 0; ci < cin; ci++ {
		plane := in[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := col[((ci*k+ky)*k+kx)*cnt : ((ci*k+ky)*k+kx+1)*cnt]
				oy, ox := q0/ow, q0%ow
				for i := range row {
					iy, ix := oy*sh-p+ky, ox*sw-p+kx
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						row[i] = plane[iy*w+ix]
					} else {
						row[i] = 0
					}
					if ox++; ox == ow {
						ox = 0
						oy++
					}
				}
			}
		}
	}
}

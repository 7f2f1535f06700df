package kernel

import (
	"fmt"
	"unsafe"
)

// Workspace is per-thread scratch: widened fp16 weight panels, the rows of
// a partial last tile and its outputs, a zero bias, and the tap offsets of
// Depthwise and Stem. Buffers grow on demand and are reused, so
// steady-state calls do not allocate. A Workspace must not be used by two
// calls at once.
type Workspace struct {
	// The pads keep another thread's data off this Workspace's cache
	// lines: the row kernels rewrite args and roff on every call, and
	// sharing a line with the other thread's halved depthwise speed.
	_          [64]byte
	panel      []float32 // widened fp16 panels
	atile      []float32 // mr x k: the rows of a partial tile, zero-padded
	ctile      []float32 // mr x 32: a partial tile's outputs
	zeros      []float32 // the bias of layers without one
	base, roff []int     // Depthwise/Stem: tap-row offsets for pixel 0, and for a run
	woff       []int
	args       rowArgs
	band       []float32 // DepthwisePointwise: a band of depthwise output rows
	wide       []float32 // DepthwisePointwise: all fp16 panels, widened
	widePacked Packed    // wide as a Packed
	_          [64]byte
}

// minTaps is the smallest capacity of the tap offset slices: 16 ints fill
// two cache lines, so no other object shares them.
const minTaps = 16

// NewWorkspace returns an empty Workspace.
func NewWorkspace() *Workspace {
	return &Workspace{base: make([]int, 0, minTaps), roff: make([]int, 0, minTaps), woff: make([]int, 0, minTaps)}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// smallWeights is the packed size (as fp32) under which Gemm keeps all
// weight panels hot and walks row tiles in the outer loop; larger layers
// walk panels in the outer loop so each panel is read from memory once.
const smallWeights = 64 << 10

// serialFlops is the multiply-add count below which a layer is not worth
// splitting over threads (the SE block's one-row GEMMs and the like).
const serialFlops = 1 << 15

// Gemm computes, for r < m and j < Stride(w.M()),
//
//	c[r*ldc+j] = act(bias[j] + sum over kk < w.K() of a[r*lda+kk] * W[j][kk])
//
// a holds m rows (pixels) of w.K() inputs with stride lda, c receives m
// rows of Stride(w.M()) outputs with stride ldc: a 1x1 convolution on
// NHWC activations. bias has Stride(w.M()) values (see PadBias) or is nil.
// With a pool the work is split over min(pool.Threads(), len(ws)) threads,
// each using its own Workspace; with pool == nil it runs on ws[0].
func Gemm(pool *Pool, ws []*Workspace, a []float32, m, lda int, w *Packed, bias []float32, act Act, c []float32, ldc int) {
	gemmWith(active, pool, ws, a, m, lda, w, bias, act, c, ldc)
}

func gemmWith(im *impl, pool *Pool, ws []*Workspace, a []float32, m, lda int, w *Packed, bias []float32, act Act, c []float32, ldc int) {
	n := Stride(w.m)
	if m < 1 || lda < w.k || ldc < n || len(ws) == 0 || len(a) < (m-1)*lda+w.k || len(c) < (m-1)*ldc+n || (bias != nil && len(bias) < n) {
		panic(fmt.Sprintf("kernel.Gemm: M=%d (padded %d) K=%d rows=%d lda=%d ldc=%d with len(a)=%d len(c)=%d len(bias)=%d and %d workspaces",
			w.m, n, w.k, m, lda, ldc, len(a), len(c), len(bias), len(ws)))
	}
	bias = orZeros(bias, ws[0], n)
	t := gemmTask{im: im, ws: ws, a: a, m: m, lda: lda, w: w, bias: bias, act: act, c: c, ldc: ldc}
	if pool.Threads() <= 1 || len(ws) == 1 || m*w.k*n < serialFlops {
		t.run(0, 1)
		return
	}
	pool.mu.Lock()
	pool.gemmT = t
	if mode, units := t.plan(min(pool.threads, len(ws))); mode != byRowTiles {
		pool.gemmT.mode = mode
		pool.gemmT.claims = pool.share(len(ws), units)
	}
	pool.parallel(&pool.gemmT)
	pool.gemmT = gemmTask{} // drop references to the caller's slices
	pool.mu.Unlock()
}

// orZeros is bias, or for a layer without one n zeros from ws. Kernels
// only read bias, so that buffer holds zeros from its make on: nothing to
// clear per call.
func orZeros(bias []float32, ws *Workspace, n int) []float32 {
	if bias != nil {
		return bias
	}
	ws.zeros = grow(ws.zeros, n)
	return ws.zeros
}

type gemmTask struct {
	im     *impl
	ws     []*Workspace
	a      []float32
	m, lda int
	w      *Packed
	bias   []float32
	act    Act
	c      []float32
	ldc    int
	// mode and claims: a split over column groups or GEMV blocks whose
	// shares rebalance as they run (see runShare); row tiles split
	// statically.
	mode   gemmSplit
	claims []claim
}

type gemmSplit uint8

const (
	byRowTiles gemmSplit = iota
	byColumnGroups
	byPanelBlocks // one-row layers
)

// gemvBlock is how many panels a unit of a one-row layer has.
const gemvBlock = 4

// plan chooses how to split the layer over threads and into how many
// units.
func (t *gemmTask) plan(threads int) (gemmSplit, int) {
	np := t.w.panels()
	if t.m == 1 {
		return byPanelBlocks, ceilDiv(np, gemvBlock)
	}
	tiles := ceilDiv(t.m, t.im.mr)
	groups := ceilDiv(np, t.im.panelsPerTile())
	// Split whichever way leaves the busiest thread the fewest tiles (4
	// row tiles of a 7x7 layer split 2/2, its 40 column groups 20/20); on
	// a tie, split the larger operand, so that each thread streams only
	// its half of it (the late layers' weights are megabytes, from L3).
	byTiles, byGroups := ceilDiv(tiles, threads)*groups, ceilDiv(groups, threads)*tiles
	if byTiles < byGroups || byTiles == byGroups && t.m >= np*lanes {
		return byRowTiles, tiles
	}
	return byColumnGroups, groups
}

// run splits a layer over row tiles or column groups, and a one-row layer
// (SE, the last conv and FC at batch 1) over panels.
func (t *gemmTask) run(tid, threads int) {
	threads = min(threads, len(t.ws))
	if tid >= threads {
		return
	}
	ws := t.ws[tid]
	np := t.w.panels()
	gw := t.im.panelsPerTile()
	tiles := ceilDiv(t.m, t.im.mr)
	if t.claims != nil {
		switch t.mode {
		case byPanelBlocks:
			runShare(t.claims, tid, false, 1, func(u0, u1 int) { t.gemv(u0*gemvBlock, min(u1*gemvBlock, np)) })
		case byColumnGroups:
			runShare(t.claims, tid, false, 1, func(g0, g1 int) { t.tiles(ws, 0, tiles, g0*gw, min(g1*gw, np), np) })
		}
		return
	}
	mode, units := t.plan(threads)
	u0, u1 := units*tid/threads, units*(tid+1)/threads
	switch mode {
	case byPanelBlocks:
		if q0, q1 := u0*gemvBlock, min(u1*gemvBlock, np); q0 < q1 {
			t.gemv(q0, q1)
		}
	case byRowTiles:
		t.tiles(ws, u0, u1, 0, np, np)
	case byColumnGroups:
		t.tiles(ws, 0, tiles, u0*gw, min(u1*gw, np), np)
	}
}

func (t *gemmTask) gemv(q0, q1 int) {
	k := t.w.k
	if t.w.f16 != nil {
		t.im.gemv16(k, t.a, t.w.f16[q0*k*lanes:q1*k*lanes], q1-q0, t.bias[q0*lanes:], t.act, t.c[q0*lanes:])
		return
	}
	t.im.gemv(k, t.a, t.w.f32[q0*k*lanes:q1*k*lanes], q1-q0, t.bias[q0*lanes:], t.act, t.c[q0*lanes:])
}

// tiles computes row tiles [t0, t1) against panels [q0, q1), prefetching
// panels up to pfEnd.
func (t *gemmTask) tiles(ws *Workspace, t0, t1, q0, q1, pfEnd int) {
	if t0 >= t1 || q0 >= q1 {
		return
	}
	k := t.w.k
	gw := t.im.panelsPerTile()
	// panels returns the fp32 panels [p0, p1), widening fp16 into off
	// (in units of panels) of the workspace.
	panels := func(p0, p1, off int) []float32 {
		if t.w.f16 == nil {
			return t.w.f32[p0*k*lanes : p1*k*lanes]
		}
		d := ws.panel[off*k*lanes : (off+p1-p0)*k*lanes]
		t.im.widen(d, t.w.f16[p0*k*lanes:p1*k*lanes])
		return d
	}
	if 4*k*lanes*(q1-q0) <= smallWeights {
		// All panels stay in L1/L2: tiles outer, so each tile's rows of a
		// are read from memory once.
		if t.w.f16 != nil {
			ws.panel = grow(ws.panel, (q1-q0)*k*lanes)
		}
		all := panels(q0, q1, 0)
		for ti := t0; ti < t1; ti++ {
			for q := q0; q < q1; q += gw {
				nq := min(gw, q1-q)
				t.tile(ws, ti, q, nq, all[(q-q0)*k*lanes:(q-q0+nq)*k*lanes], prefetch{})
			}
		}
		return
	}
	if t.w.f16 != nil {
		ws.panel = grow(ws.panel, gw*k*lanes)
	}
	for q := q0; q < q1; q += gw {
		nq := min(gw, q1-q)
		p := panels(q, q+nq, 0)
		// The group's first tile reads its panels from L3; it also pulls
		// the next group's toward L2, so that the next first tile finds
		// them there.
		pf := t.ahead(q+nq, min(q+nq+gw, pfEnd))
		for ti := t0; ti < t1; ti++ {
			t.tile(ws, ti, q, nq, p, pf)
			pf = prefetch{}
		}
	}
}

// ahead is the prefetch of panels [p0, p1) (their stored form, fp32 or
// fp16), nothing when the range is empty.
func (t *gemmTask) ahead(p0, p1 int) prefetch {
	if p0 >= p1 {
		return prefetch{}
	}
	n := t.w.k * lanes
	if t.w.f16 != nil {
		return prefetch{p: unsafe.Pointer(&t.w.f16[p0*n]), step: (p1 - p0) * lanes * 2}
	}
	return prefetch{p: unsafe.Pointer(&t.w.f32[p0*n]), step: (p1 - p0) * lanes * 4}
}

// tile computes row tile ti against the nq (1 or 2) panels p starting at
// panel q. A partial last tile goes through the workspace, so the kernels
// always see mr full rows.
func (t *gemmTask) tile(ws *Workspace, ti, q, nq int, p []float32, pf prefetch) {
	im, k := t.im, t.w.k
	mr := im.mr
	kern := im.tile16
	if nq == 2 {
		kern = im.tile32
	}
	r0 := ti * mr
	bias := t.bias[q*lanes : (q+nq)*lanes]
	if rows := t.m - r0; rows < mr && im.part != nil {
		im.part(rows, nq, k, t.a[r0*t.lda:], t.lda, p, bias, t.act, t.c[r0*t.ldc+q*lanes:], t.ldc)
		return
	} else if rows < mr {
		ws.atile = grow(ws.atile, mr*k)
		for r := 0; r < mr; r++ {
			d := ws.atile[r*k : (r+1)*k]
			if r < rows {
				copy(d, t.a[(r0+r)*t.lda:(r0+r)*t.lda+k])
			} else {
				clear(d)
			}
		}
		ws.ctile = grow(ws.ctile, mr*2*lanes)
		kern(k, ws.atile, k, p, bias, t.act, ws.ctile, 2*lanes, pf)
		for r := 0; r < rows; r++ {
			copy(t.c[(r0+r)*t.ldc+q*lanes:(r0+r)*t.ldc+(q+nq)*lanes], ws.ctile[r*2*lanes:r*2*lanes+nq*lanes])
		}
		return
	}
	kern(k, t.a[r0*t.lda:], t.lda, p, bias, t.act, t.c[r0*t.ldc+q*lanes:], t.ldc, pf)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// panelsPerTile is how many 16-column panels the widest tile covers: a
// GEMM walks its columns in groups of that many.
func (im *impl) panelsPerTile() int {
	if im.tile32 != nil {
		return 2
	}
	return 1
}

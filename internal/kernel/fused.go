package kernel

import "fmt"

// DepthwisePointwise is Depthwise followed by Gemm on its output (a
// depthwise-separable block without SE) computed band by band: each thread
// takes a share of the output rows and, a few rows at a time, computes the
// depthwise rows into its Workspace and multiplies them by the pointwise
// weights right away. On the early, high-resolution layers the depthwise
// output is megabytes that would otherwise go out to L3 and come back:
// fused, it never leaves L1/L2 (x2.5's first three blocks run 8-20%
// faster). Every thread reads all of pw. A thread that runs out of rows
// takes bands from the far end of a share whose thread fell behind (see
// runShare).
//
// The arguments are Depthwise's (in, h, w, cs, dwt, k, sh, sw, dwBias,
// dwAct) and Gemm's (pw, pwBias, pwAct, out, ldc) with the depthwise
// output as Gemm's input (m = oh*ow rows, lda = cs). backward walks each
// thread's bands from its last row up: a layer that reads its input in
// the opposite order to the one that wrote it starts on the rows still in
// L2 (alternating directions made x2.5's second block 2-15% faster).
func DepthwisePointwise(pool *Pool, ws []*Workspace, in []float32, h, w, cs int, dwt []float32, k, sh, sw int, dwBias []float32, dwAct Act,
	pw *Packed, pwBias []float32, pwAct Act, out []float32, ldc int, backward bool) {
	fusedWith(active, pool, ws, in, h, w, cs, dwt, k, sh, sw, dwBias, dwAct, pw, pwBias, pwAct, out, ldc, backward)
}

func fusedWith(im *impl, pool *Pool, ws []*Workspace, in []float32, h, w, cs int, dwt []float32, k, sh, sw int, dwBias []float32, dwAct Act,
	pw *Packed, pwBias []float32, pwAct Act, out []float32, ldc int, backward bool) {
	oh, ow := outSize(h, k, sh), outSize(w, k, sw)
	n := Stride(pw.m)
	if !dwArgsOK(in, h, w, cs, dwt, k, sh, sw, dwBias, ws) || pw.k > cs || ldc < n || len(out) < (oh*ow-1)*ldc+n ||
		(pwBias != nil && len(pwBias) < n) {
		panic(fmt.Sprintf("kernel.DepthwisePointwise: %dx%dx%d k=%d stride=(%d,%d), pointwise %dx%d ldc=%d, with len(in)=%d len(dwt)=%d len(dwBias)=%d len(pwBias)=%d len(out)=%d and %d workspaces",
			h, w, cs, k, sh, sw, pw.m, pw.k, ldc, len(in), len(dwt), len(dwBias), len(pwBias), len(out), len(ws)))
	}
	pwBias = orZeros(pwBias, ws[0], n)
	t := fusedTask{
		dw:       rowTask{im: im, ws: ws, in: in, planes: 1, h: h, w: w, cs: cs, wt: dwt, k: k, sh: sh, sw: sw, bias: dwBias, act: dwAct},
		pw:       gemmTask{im: im, lda: cs, w: pw, bias: pwBias, act: pwAct, c: out, ldc: ldc},
		backward: backward,
	}
	if pool.Threads() <= 1 || len(ws) == 1 || oh < 2 {
		t.run(0, 1)
		return
	}
	pool.mu.Lock()
	t.claims = pool.share(len(ws), oh)
	pool.fusedT = t
	pool.parallel(&pool.fusedT)
	pool.fusedT = fusedTask{}
	pool.mu.Unlock()
}

// bandBytes bounds a band of depthwise output rows: with the pointwise
// panels and a tile's outputs it stays in L1 and L2.
const bandBytes = 48 << 10

type fusedTask struct {
	dw       rowTask  // out and row0 set per band
	pw       gemmTask // ws, a, m and c set per band
	backward bool     // bands from the last to the first
	// claims are the threads' shares of the output rows, taken a band at
	// a time; nil runs all bands on one thread.
	claims []claim
}

// rows is how many output rows a band has.
func (t *fusedTask) rows() int {
	ow := outSize(t.dw.w, t.dw.k, t.dw.sw)
	return max(1, bandBytes/(4*ow*t.dw.cs))
}

func (t *fusedTask) run(tid, threads int) {
	threads = min(threads, len(t.dw.ws))
	if tid >= threads {
		return
	}
	ws := t.dw.ws[tid]
	oh, ow := outSize(t.dw.h, t.dw.k, t.dw.sh), outSize(t.dw.w, t.dw.k, t.dw.sw)
	cs := t.dw.cs
	rows := t.rows()
	ws.band = grow(ws.band, rows*ow*cs)
	dw, pw := t.dw, t.pw
	dw.out = ws.band
	pw.ws = t.dw.ws[tid : tid+1]
	pw.a = ws.band
	if pw.w.f16 != nil {
		// Widen the panels once, not once per band.
		ws.wide = grow(ws.wide, len(pw.w.f16))
		t.dw.im.widen(ws.wide, pw.w.f16)
		ws.widePacked = Packed{m: pw.w.m, k: pw.w.k, f32: ws.wide}
		pw.w = &ws.widePacked
	}
	band := func(b0, b1 int) {
		dw.row0 = b0
		for oy := b0; oy < b1; oy++ {
			dw.row(ws, oy)
		}
		pw.m = (b1 - b0) * ow
		pw.c = t.pw.c[b0*ow*pw.ldc:]
		pw.run(0, 1)
	}
	if t.claims == nil {
		for i := 0; i < oh; i += rows {
			if t.backward {
				band(max(0, oh-i-rows), oh-i)
			} else {
				band(i, min(i+rows, oh))
			}
		}
		return
	}
	runShare(t.claims, tid, t.backward, rows, band)
}

package nn

import "sync"

// Intra-op parallelism: a worker running an image splits each large layer
// over its output channels and offers the pieces to idle workers with a
// non-blocking send on the model's job channel. A piece nobody takes at once
// runs inline, so a busy model (a batch at least as large as the worker
// count, or many callers) degrades to one image per worker with no handoff
// cost, while a lone batch-1 call uses every worker. The poster never blocks
// on a send and helpers never wait on anything, so this cannot deadlock.
// This stands in for internal/kernel's Pool until that package lands.

type opKind uint8

const (
	opGemm opKind = iota
	opDepthwise
	opConv
)

// splitOp is one layer being split; it lives in the posting worker and is
// reused layer after layer, so splitting does not allocate.
type splitOp struct {
	kind       opKind
	in         []float32
	c, h, w, n int // n: gemm columns
	mat        *matrix
	dw         []float32
	k, sh, sw  int
	bias       []float32
	ac         act
	out        []float32
	wg         sync.WaitGroup
}

// rows is the number of output channels the op splits over.
func (o *splitOp) rows() int {
	if o.kind == opDepthwise {
		return o.c
	}
	return o.mat.m
}

// run computes output channels [lo, hi) with scratch of the running worker.
func (o *splitOp) run(lo, hi int, ws *worker) {
	switch o.kind {
	case opGemm:
		sub := o.mat.rows(lo, hi)
		ws.scratch = grow(ws.scratch, sub.k)
		var b []float32
		if o.bias != nil {
			b = o.bias[lo:hi]
		}
		gemm(&sub, o.in, o.n, b, o.ac, o.out[lo*o.n:hi*o.n], ws.scratch)
	case opDepthwise:
		hw := o.h * o.w
		ohw := outSize(o.h, o.k, o.sh) * outSize(o.w, o.k, o.sw)
		depthwise(o.in[lo*hw:hi*hw], hi-lo, o.h, o.w, o.dw[lo*o.k*o.k:hi*o.k*o.k], o.k, o.sh, o.sw, o.bias[lo:hi], o.ac, o.out[lo*ohw:hi*ohw])
	case opConv:
		sub := o.mat.rows(lo, hi)
		ws.scratch = grow(ws.scratch, sub.k)
		ohw := outSize(o.h, o.k, o.sh) * outSize(o.w, o.k, o.sw)
		conv(o.in, o.c, o.h, o.w, &sub, o.k, o.sh, o.sw, o.bias[lo:hi], o.ac, o.out[lo*ohw:hi*ohw], ws.scratch)
	}
}

// rows is the sub-matrix of rows [lo, hi).
func (a *matrix) rows(lo, hi int) matrix {
	s := matrix{m: hi - lo, k: a.k}
	if a.f32 != nil {
		s.f32 = a.f32[lo*a.k : hi*a.k]
	} else {
		s.f16 = a.f16[lo*a.k : hi*a.k]
	}
	return s
}

// minSplitWork is the smallest piece (in multiply-adds) worth handing to
// another goroutine; below it the channel handoff costs more than it saves.
const minSplitWork = 1 << 15

// runSplit runs ws.op, offering pieces to idle workers.
func (m *Model) runSplit(ws *worker, work int) {
	o := &ws.op
	rows := o.rows()
	pieces := min(4*m.threads, rows, max(1, work/minSplitWork))
	if pieces <= 1 || m.threads <= 1 {
		o.run(0, rows, ws)
		return
	}
	for p := range pieces {
		lo, hi := p*rows/pieces, (p+1)*rows/pieces
		o.wg.Add(1)
		select {
		case m.jobs <- job{op: o, lo: lo, hi: hi}:
		default:
			o.run(lo, hi, ws)
			o.wg.Done()
		}
	}
	o.wg.Wait()
}

func (m *Model) gemmSplit(ws *worker, a *matrix, b []float32, n int, bias []float32, ac act, c []float32) {
	ws.op = splitOp{kind: opGemm, mat: a, in: b, n: n, bias: bias, ac: ac, out: c}
	m.runSplit(ws, a.m*a.k*n)
}

func (m *Model) depthwiseSplit(ws *worker, in []float32, c, h, w int, weights []float32, k, sh, sw int, bias []float32, ac act, out []float32) {
	ws.op = splitOp{kind: opDepthwise, in: in, c: c, h: h, w: w, dw: weights, k: k, sh: sh, sw: sw, bias: bias, ac: ac, out: out}
	m.runSplit(ws, c*k*k*outSize(h, k, sh)*outSize(w, k, sw))
}

func (m *Model) convSplit(ws *worker, in []float32, cin, h, w int, a *matrix, k, sh, sw int, bias []float32, ac act, out []float32) {
	ws.op = splitOp{kind: opConv, in: in, c: cin, h: h, w: w, mat: a, k: k, sh: sh, sw: sw, bias: bias, ac: ac, out: out}
	m.runSplit(ws, a.m*a.k*outSize(h, k, sh)*outSize(w, k, sw))
}

package nn

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/kernel"
)

// MinInputSize is the smallest height and width Infer accepts: five
// stride-2 stages bring 32 down to 1.
const MinInputSize = 32

// maxSide and maxBatch only keep n*3*h*w from overflowing; callers such as
// the API set the real, much smaller limits.
const (
	maxSide  = 1 << 15
	maxBatch = 1 << 16
)

// useKernelPool turns on intra-op parallelism for calls with fewer images
// than threads: each layer of a batch-1 call is split over kernel.Pool's
// threads.
const useKernelPool = true

// ErrClosed is returned by Infer after Close.
var ErrClosed = errors.New("nn: model is closed")

// Options tune Load.
type Options struct {
	// Half stores the large weight matrices as IEEE fp16 (about half the
	// resident weight bytes); compute stays float32.
	Half bool
	// Threads bounds the worker goroutines that run inference for all
	// callers together; 0 means runtime.NumCPU().
	Threads int
}

// CallOptions tune one inference call.
type CallOptions struct {
	// Serial runs each image of the call on one thread, head included,
	// as calls of Threads images or more always do. A call of fewer
	// images otherwise splits every layer over the model's threads,
	// which cuts its latency when the cores are idle; when other work
	// keeps them busy (a loaded server), the split only adds hand-offs
	// and threads spinning for a core: TestLoad in api measured 10% more
	// CPU per image with it.
	Serial bool
}

// Output holds the results for N images, each row-major N x dim.
type Output struct {
	N          int
	Classes    int
	FeatureDim int
	PooledDim  int
	// Logits are the fc outputs, Probabilities their softmax, or for a
	// multi-label head (arch.Arch.MultiLabel) their sigmoids.
	Logits, Probabilities []float32
	// Features are hardswish(last_conv(GAP)) before dropout, or the pooled
	// vector for models without last_conv.
	Features []float32
	// Pooled is the global average pool of blocks6.
	Pooled []float32
}

// Model is a loaded PP-LCNet, safe for concurrent use: one Model serves any
// number of goroutines. A fixed set of Options.Threads workers, each with
// its own activation buffers, runs the images of all calls; a batch of N
// images is spread over the workers, one image per worker at a time. A call
// with fewer images than threads (batch 1) is meant to split each layer
// over the threads with internal/kernel's Pool (see useKernelPool).
type Model struct {
	arch    arch.Arch
	half    bool
	net     *network
	threads int
	// pool splits each layer over the threads for calls with fewer images
	// than threads (batch 1); larger batches run one image per worker,
	// serially, which keeps every core busy without per-layer handoffs.
	pool *kernel.Pool

	jobs chan job
	// calls recycles call states so steady-state calls do not allocate;
	// a channel rather than a sync.Pool, which the GC empties.
	calls chan *call

	// mu makes Close wait for calls in flight: Infer holds it shared.
	mu      sync.RWMutex
	closed  bool
	done    chan struct{}
	workers sync.WaitGroup
}

// job is one image of one call.
type job struct {
	c   *call
	img int
}

// call is the state of one Infer call, shared by the workers running its
// images.
type call struct {
	ctx    context.Context
	x      []float32
	imgs   [][]float32 // instead of x: InferImages
	h, w   int
	out    *Output
	serial bool // CallOptions.Serial
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error

	// The head's scratch, kept when the call is recycled: kernel
	// workspaces (one per pool thread) and the padded last_conv and fc
	// outputs of all the call's images.
	kws        []*kernel.Workspace
	feat, logi []float32
}

func (c *call) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

// Load checks tensors against arch (the first missing, mis-shaped or
// unexpected tensor is an error naming it), folds BatchNorm into the convs
// and starts the workers. The tensors are not retained. Close the Model to
// stop its workers.
func Load(a arch.Arch, tensors map[string]arch.Tensor, opts Options) (*Model, error) {
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := a.Check(tensors); err != nil {
		return nil, fmt.Errorf("load: %w", checkError(err))
	}
	net, err := buildNetwork(a, tensors, opts.Half)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	m := &Model{
		arch:    a,
		half:    opts.Half,
		net:     net,
		threads: threads,
		jobs:    make(chan job),
		done:    make(chan struct{}),
		calls:   make(chan *call, 4*threads),
	}
	m.arch.Blocks = append([]arch.Block(nil), a.Blocks...)
	m.arch.StrideList = append([]arch.Stride(nil), a.StrideList...)
	if threads > 1 && useKernelPool {
		m.pool = kernel.NewPool(threads)
	}
	m.workers.Add(threads)
	for range threads {
		go m.work()
	}
	return m, nil
}

// Arch returns the architecture the model was loaded with.
func (m *Model) Arch() arch.Arch {
	a := m.arch
	a.Blocks = append([]arch.Block(nil), a.Blocks...)
	a.StrideList = append([]arch.Stride(nil), a.StrideList...)
	return a
}

// Half reports whether the large weights are stored as fp16.
func (m *Model) Half() bool { return m.half }

// WeightBytes is the resident size of all weights the model computes with
// (folded conv weights, biases, fc), measured from the slices it holds.
func (m *Model) WeightBytes() int { return m.net.sizeBytes() }

// layers lists the model's layers in network order.
func (m *Model) layers() []*convLayer { return m.net.layers() }

// Close stops the workers after the calls in flight finish. Infer then
// returns ErrClosed. Close is idempotent.
func (m *Model) Close() {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.done)
	}
	m.mu.Unlock()
	m.workers.Wait()
	m.pool.Close()
}

// Infer runs n images of h x w (x is NCHW, normalized, len n*3*h*w) and
// returns newly allocated outputs. See InferInto to reuse buffers.
func (m *Model) Infer(ctx context.Context, x []float32, n, h, w int) (*Output, error) {
	out := new(Output)
	if err := m.InferInto(ctx, x, n, h, w, out); err != nil {
		return nil, err
	}
	return out, nil
}

// InferInto is Infer writing into out, whose slices are reused when their
// capacity suffices (then a call makes no allocations). ctx is checked
// before each image and between the layers of each image.
func (m *Model) InferInto(ctx context.Context, x []float32, n, h, w int, out *Output) error {
	return m.InferWith(ctx, x, n, h, w, out, CallOptions{})
}

// InferWith is InferInto with per-call options.
func (m *Model) InferWith(ctx context.Context, x []float32, n, h, w int, out *Output, opt CallOptions) error {
	if err := checkInput(n, h, w); err != nil {
		return err
	}
	if len(x) != n*3*h*w {
		return fmt.Errorf("infer: input has %d values, want %d for %d images of 3x%dx%d", len(x), n*3*h*w, n, h, w)
	}
	return m.infer(ctx, x, nil, n, h, w, out, opt)
}

// InferImages is InferWith for images that are not contiguous: imgs[i]
// is image i, 3*h*w values (NCHW). A server gathering the images of
// several requests into one call need not copy them into one slice.
func (m *Model) InferImages(ctx context.Context, imgs [][]float32, h, w int, out *Output, opt CallOptions) error {
	if err := checkInput(len(imgs), h, w); err != nil {
		return err
	}
	for i, x := range imgs {
		if len(x) != 3*h*w {
			return fmt.Errorf("infer: image %d has %d values, want %d for 3x%dx%d", i, len(x), 3*h*w, h, w)
		}
	}
	return m.infer(ctx, nil, imgs, len(imgs), h, w, out, opt)
}

func checkInput(n, h, w int) error {
	switch {
	case n < 1:
		return fmt.Errorf("infer: batch size %d, want at least 1", n)
	case n > maxBatch || h > maxSide || w > maxSide:
		return fmt.Errorf("infer: %d images of %dx%d, the limits are %d images of %dx%d", n, h, w, maxBatch, maxSide, maxSide)
	case h < MinInputSize || w < MinInputSize:
		return fmt.Errorf("infer: input %dx%d, want at least %dx%d", h, w, MinInputSize, MinInputSize)
	}
	return nil
}

// infer runs n images, from x (contiguous) or imgs (one slice each).
func (m *Model) infer(ctx context.Context, x []float32, imgs [][]float32, n, h, w int, out *Output, opt CallOptions) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	a := &m.arch
	out.N, out.Classes, out.FeatureDim, out.PooledDim = n, a.ClassNum, a.FeatureDim(), a.LastChannels()
	out.Logits = grow(out.Logits, n*out.Classes)
	out.Probabilities = grow(out.Probabilities, n*out.Classes)
	out.Features = grow(out.Features, n*out.FeatureDim)
	out.Pooled = grow(out.Pooled, n*out.PooledDim)

	var c *call
	select {
	case c = <-m.calls:
	default:
		c = new(call)
	}
	c.ctx, c.x, c.imgs, c.h, c.w, c.out, c.err, c.serial = ctx, x, imgs, h, w, out, nil, opt.Serial
	if c.kws == nil {
		c.kws = make([]*kernel.Workspace, m.threads)
		for i := range c.kws {
			c.kws[i] = kernel.NewWorkspace()
		}
	}
	var err error
send:
	for i := range n {
		if err = ctx.Err(); err != nil {
			break
		}
		c.wg.Add(1)
		select {
		case m.jobs <- job{c: c, img: i}:
		case <-ctx.Done():
			c.wg.Done()
			err = ctx.Err()
			break send
		}
	}
	c.wg.Wait()
	if err == nil {
		err = c.err
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		m.head(c, n)
	}
	c.ctx, c.x, c.imgs, c.out, c.err = nil, nil, nil, nil, nil
	select {
	case m.calls <- c:
	default:
	}
	if err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	return nil
}

func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// worker is one worker's scratch: activations (NHWC, channels padded to
// kernel.Stride) ping-pong between a and b.
type worker struct {
	a, b []float32
	vec  []float32 // SE pooled vector, then the global pool
	mid  []float32 // SE squeeze
	exc  []float32 // SE excitation
	// kws are the kernel workspaces, one per pool thread: the pool may
	// be shared, but each worker's calls use only its own workspaces.
	kws []*kernel.Workspace
}

func (m *Model) work() {
	defer m.workers.Done()
	ws := &worker{kws: make([]*kernel.Workspace, m.threads)}
	for i := range ws.kws {
		ws.kws[i] = kernel.NewWorkspace()
	}
	for {
		select {
		case j := <-m.jobs:
			m.run(ws, j)
		case <-m.done:
			return
		}
	}
}

func (m *Model) run(ws *worker, j job) {
	defer j.c.wg.Done()
	c := j.c
	o := c.out
	chw := 3 * c.h * c.w
	i := j.img
	pool := m.pool
	if o.N >= m.threads || c.serial {
		pool = nil // every worker has an image: no idle thread to split over
	}
	var x []float32
	if c.imgs != nil {
		x = c.imgs[i]
	} else {
		x = c.x[i*chw : (i+1)*chw]
	}
	err := m.forward(c.ctx, ws, pool, x, c.h, c.w, o.Pooled[i*o.PooledDim:(i+1)*o.PooledDim])
	if err != nil {
		c.fail(fmt.Errorf("image %d: %w", i, err))
	}
}

// ensure sizes the worker's buffers for an h x w input.
func (ws *worker) ensure(a *arch.Arch, h, w int) {
	st := kernel.Stride
	ss := a.StemStride()
	h, w = outSize(h, 3, ss.H), outSize(w, 3, ss.W)
	maxAct, maxC := st(a.StemOut)*h*w, st(a.StemOut)
	for _, b := range a.Blocks {
		h, w = outSize(h, b.Kernel, b.Stride.H), outSize(w, b.Kernel, b.Stride.W)
		maxAct = max(maxAct, st(b.In)*h*w, st(b.Out)*h*w)
		maxC = max(maxC, st(b.In), st(b.Out))
	}
	ws.a = grow(ws.a, maxAct)
	ws.b = grow(ws.b, maxAct)
	ws.vec = grow(ws.vec, maxC)
	ws.mid = grow(ws.mid, maxC)
	ws.exc = grow(ws.exc, maxC)
}

// forward runs one image (3 x h x w, NCHW) through the network up to the
// global pool, which it writes to pooled. pool is nil (serial) or the
// model's pool.
func (m *Model) forward(ctx context.Context, ws *worker, pool *kernel.Pool, x []float32, h, w int, pooled []float32) error {
	st := kernel.Stride
	a := &m.arch
	n := m.net
	k := ws.kws
	ws.ensure(a, h, w)
	ss := a.StemStride()
	oh, ow := outSize(h, 3, ss.H), outSize(w, 3, ss.W)
	cur, tmp := ws.a, ws.b
	kernel.Stem(pool, k, x, 3, h, w, n.Stem.dw, st(a.StemOut), 3, ss.H, ss.W, n.Stem.bias, kernel.ActHardSwish, cur)
	h, w = oh, ow
	for i, bl := range n.Blocks {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := bl.spec
		cin := st(b.In)
		oh, ow = outSize(h, b.Kernel, b.Stride.H), outSize(w, b.Kernel, b.Stride.W)
		hw := oh * ow
		if bl.fused {
			// Alternate the band order, so that each block first reads the
			// rows the previous one wrote last (see DepthwisePointwise).
			kernel.DepthwisePointwise(pool, k, cur, h, w, cin, bl.DW.dw, b.Kernel, b.Stride.H, b.Stride.W, bl.DW.bias, kernel.ActHardSwish,
				bl.PW.w, bl.PW.bias, kernel.ActHardSwish, tmp, st(b.Out), i%2 == 0)
			cur, tmp = tmp, cur
			h, w = oh, ow
			continue
		}
		kernel.Depthwise(pool, k, cur, h, w, cin, bl.DW.dw, b.Kernel, b.Stride.H, b.Stride.W, bl.DW.bias, kernel.ActHardSwish, tmp)
		if bl.SE1 != nil {
			mid := bl.SE1.w.M()
			kernel.GlobalAvgPool(tmp, hw, cin, ws.vec[:cin])
			kernel.Gemm(pool, k, ws.vec, 1, cin, bl.SE1.w, bl.SE1.bias, kernel.ActReLU, ws.mid, st(mid))
			kernel.Gemm(pool, k, ws.mid, 1, st(mid), bl.SE2.w, bl.SE2.bias, kernel.ActHardSigmoid, ws.exc, cin)
			kernel.ScaleChannels(tmp, hw, cin, ws.exc)
		}
		kernel.Gemm(pool, k, tmp, hw, cin, bl.PW.w, bl.PW.bias, kernel.ActHardSwish, cur, st(b.Out))
		h, w = oh, ow
	}
	last := st(a.LastChannels())
	kernel.GlobalAvgPool(cur, h*w, last, ws.vec[:last])
	copy(pooled, ws.vec)
	return nil
}

// head runs last_conv and fc on the pooled vectors of all n images of a
// call at once, split over the pool. These two layers are 11.5 MB of
// weights at x2.5, read from L3: image by image, every image streamed
// them again, which was 5% of a batch of 8.
func (m *Model) head(c *call, n int) {
	st := kernel.Stride
	a, net, o := &m.arch, m.net, c.out
	src, lda := o.Pooled, o.PooledDim
	pool := m.pool
	if c.serial {
		pool = nil
	}
	if net.LastConv != nil {
		fs := st(o.FeatureDim)
		c.feat = grow(c.feat, n*fs)
		kernel.Gemm(pool, c.kws, src, n, lda, net.LastConv.w, nil, kernel.ActHardSwish, c.feat, fs)
		for i := range n {
			copy(o.Features[i*o.FeatureDim:(i+1)*o.FeatureDim], c.feat[i*fs:])
		}
		src, lda = c.feat, fs
	} else {
		copy(o.Features, o.Pooled)
	}
	cs := st(a.ClassNum)
	c.logi = grow(c.logi, n*cs)
	kernel.Gemm(pool, c.kws, src, n, lda, net.FC.w, net.FC.bias, kernel.ActNone, c.logi, cs)
	for i := range n {
		logits := o.Logits[i*o.Classes : (i+1)*o.Classes]
		copy(logits, c.logi[i*cs:])
		if a.MultiLabel {
			sigmoid(logits, o.Probabilities[i*o.Classes:(i+1)*o.Classes])
		} else {
			softmax(logits, o.Probabilities[i*o.Classes:(i+1)*o.Classes])
		}
	}
}

// checkError words a tensor that does not fit the architecture the way
// the network's users read it, "tensor NAME: what is wrong", keeping the
// *arch.TensorError reachable through errors.As.
func checkError(err error) error {
	var te *arch.TensorError
	if !errors.As(err, &te) {
		return err
	}
	var msg string
	switch te.Problem {
	case arch.Missing:
		msg = fmt.Sprintf("tensor %s: missing (the architecture wants shape %v)", te.Name, te.Want)
	case arch.Misshapen:
		msg = fmt.Sprintf("tensor %s: shape %v, the architecture wants %v", te.Name, te.Shape, te.Want)
	case arch.Unexpected:
		msg = fmt.Sprintf("tensor %s: unexpected for this architecture (%d unexpected tensors)", te.Name, te.Extra)
	default:
		return err
	}
	return &tensorError{TensorError: te, msg: msg}
}

type tensorError struct {
	*arch.TensorError
	msg string
}

func (e *tensorError) Error() string { return e.msg }
func (e *tensorError) Unwrap() error { return e.TensorError }

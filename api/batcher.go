package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"
)

var errShuttingDown = errors.New("server shutting down")

// job is one request's images for one model, all of the same size.
type job struct {
	ctx     context.Context
	x       []float32 // n x 3 x h x w
	n, h, w int
	// pooled says x came from the batcher's inputs, and goes back to
	// them once the batch no longer reads it.
	pooled bool
	done   chan jobResult // buffered: the batcher never blocks on a reply
}

type jobResult struct {
	out *output // rows of this job only
	err error
}

// batcher owns one loaded model: requests from many clients queue here and
// one goroutine runs them through the network in batches of up to maxBatch
// images, waiting at most wait for a batch to fill while other requests
// are still decoding. The queue is bounded;
// a full queue refuses at once (429) rather than letting latency grow
// without limit.
type batcher struct {
	label    string // NAME:VERSION, for metrics and logs
	run      runner
	queue    chan *job
	maxBatch int
	wait     time.Duration
	timeout  time.Duration
	met      *metrics
	stop     chan struct{}
	done     chan struct{}
	// running bounds the batches in the network at once. Two let the next
	// batch gather (and start) while one finishes, so the network's
	// workers do not idle between batches.
	running chan struct{}
	base    context.Context
	// coming counts the requests for this model that are decoding their
	// images and will queue soon. A batch waits for others only while
	// some are on their way: a lone request is not delayed.
	coming atomic.Int64
	// inputs recycles the requests' tensors (see tensors).
	inputs floats
}

// newBatcher runs batches under base (ended when a shutdown gives up on
// the drain), each bounded by the request timeout.
func newBatcher(base context.Context, label string, run runner, cfg Config, met *metrics) *batcher {
	b := &batcher{
		base:     base,
		label:    label,
		run:      run,
		queue:    make(chan *job, cfg.QueueSize),
		maxBatch: cfg.MaxBatch,
		wait:     cfg.BatchWait,
		timeout:  cfg.RequestTimeout,
		met:      met,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		running:  make(chan struct{}, cfg.BatchParallel),
	}
	go b.loop()
	return b
}

// infer queues x (n images of h x w) and waits for its rows of the result.
// With pooled, x is a buffer from b.inputs that the batcher gives back
// once it is done reading it, which may be after infer returns (when ctx
// ends first): the caller must not touch x after the call.
func (b *batcher) infer(ctx context.Context, x []float32, n, h, w int, pooled bool) (*output, error) {
	j := &job{ctx: ctx, x: x, n: n, h: h, w: w, pooled: pooled, done: make(chan jobResult, 1)}
	select {
	case <-b.stop:
		b.release(j)
		return nil, &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("model %s is being unloaded", b.label), retryAfter: time.Second, err: errShuttingDown}
	default:
	}
	select {
	case b.queue <- j:
		b.met.queueDepth.Add(float64(n))
	default:
		b.release(j)
		b.met.rejected.WithLabelValues("queue_full").Inc()
		return nil, &httpError{status: http.StatusTooManyRequests,
			detail:     fmt.Sprintf("model %s has %d requests queued, the limit; retry shortly", b.label, cap(b.queue)),
			retryAfter: time.Second}
	}
	select {
	case r := <-j.done:
		return r.out, r.err
	case <-b.done:
		// The loop exited between our send and its last drain.
		select {
		case r := <-j.done:
			return r.out, r.err
		default:
			// Never taken: the loop waits for running batches before
			// it closes done.
			b.met.queueDepth.Sub(float64(n))
			return nil, &httpError{status: http.StatusServiceUnavailable, detail: fmt.Sprintf("model %s was unloaded", b.label), retryAfter: time.Second, err: errShuttingDown}
		}
	case <-ctx.Done():
		// The batcher skips jobs whose context is done.
		return nil, ctx.Err()
	}
}

// release gives j's tensor back to b.inputs if it came from there.
func (b *batcher) release(j *job) {
	if j.pooled {
		b.inputs.put(j.x)
		j.x = nil
	}
}

// close stops the loop after the jobs already queued have run.
func (b *batcher) close() {
	close(b.stop)
	<-b.done
}

func (b *batcher) loop() {
	defer close(b.done)
	// Wait for the batches still running before reporting done.
	defer func() {
		for range cap(b.running) {
			b.running <- struct{}{}
		}
	}()
	for {
		var first *job
		// Queued jobs run before a stop is honoured, so unloading a model
		// finishes the requests that were already admitted.
		select {
		case first = <-b.queue:
		default:
			select {
			case first = <-b.queue:
			case <-b.stop:
				return
			}
		}
		batch, n := []*job{first}, first.n
		if n < b.maxBatch && b.wait > 0 && b.coming.Load() > 0 {
			timer := time.NewTimer(b.wait)
		collect:
			for n < b.maxBatch {
				select {
				case j := <-b.queue:
					batch = append(batch, j)
					n += j.n
					if b.coming.Load() == 0 {
						break collect
					}
				case <-timer.C:
					break collect
				case <-b.stop:
					break collect
				}
			}
			timer.Stop()
		}
		// Take what else is already waiting without further delay.
	more:
		for n < b.maxBatch {
			select {
			case j := <-b.queue:
				batch = append(batch, j)
				n += j.n
			default:
				break more
			}
		}
		b.met.queueDepth.Sub(float64(n))
		b.running <- struct{}{}
		// With another batch running, or more requests on their way,
		// the cores have work: splitting this batch's layers over them
		// would only make the threads wait for each other.
		serial := len(b.running) > 1 || len(b.queue) > 0 || b.coming.Load() > 0
		go func() {
			defer func() { <-b.running }()
			b.runBatch(batch, serial)
		}()
	}
}

// runBatch runs the live jobs of batch, one network call per input size;
// serial is runner.infer's.
func (b *batcher) runBatch(batch []*job, serial bool) {
	live := batch[:0]
	for _, j := range batch {
		if err := j.ctx.Err(); err != nil {
			b.release(j)
			j.done <- jobResult{err: err}
			continue
		}
		live = append(live, j)
	}
	for len(live) > 0 {
		h, w := live[0].h, live[0].w
		group, rest := live[:0:0], live[:0:0]
		for _, j := range live {
			if j.h == h && j.w == w {
				group = append(group, j)
			} else {
				rest = append(rest, j)
			}
		}
		b.runGroup(group, h, w, serial)
		live = rest
	}
}

func (b *batcher) runGroup(group []*job, h, w int, serial bool) {
	// The network reads each image where its request left it: gathering
	// them into one slice was a 2.4 MB copy per batch of 16.
	per := 3 * h * w
	var imgs [][]float32
	for _, j := range group {
		for i := range j.n {
			imgs = append(imgs, j.x[i*per:(i+1)*per:(i+1)*per])
		}
	}
	n := len(imgs)
	defer func() {
		for _, j := range group {
			b.release(j)
		}
	}()
	// The batch serves several requests, so it is not tied to any one
	// request's context; it is bounded by the request timeout instead,
	// and by the server's life.
	ctx, cancel := context.WithTimeout(b.base, b.timeout)
	start := time.Now()
	out, err := b.run.infer(ctx, imgs, h, w, serial)
	cancel()
	b.met.inferSeconds.WithLabelValues(b.label).Observe(time.Since(start).Seconds())
	b.met.batchSize.WithLabelValues(b.label).Observe(float64(n))
	if err == nil && out.N != n {
		err = fmt.Errorf("model %s returned %d rows for %d images", b.label, out.N, n)
	}
	row := 0
	for _, j := range group {
		if err != nil {
			j.done <- jobResult{err: err}
			continue
		}
		j.done <- jobResult{out: out.rows(row, row+j.n)}
		row += j.n
	}
}

// rows returns rows [from, to) of o, sharing its memory.
func (o *output) rows(from, to int) *output {
	sl := func(s []float32, dim int) []float32 {
		if len(s) < to*dim {
			return nil
		}
		return s[from*dim : to*dim : to*dim]
	}
	return &output{
		N: to - from, Classes: o.Classes, FeatureDim: o.FeatureDim, PooledDim: o.PooledDim,
		Logits:        sl(o.Logits, o.Classes),
		Probabilities: sl(o.Probabilities, o.Classes),
		Features:      sl(o.Features, o.FeatureDim),
		Pooled:        sl(o.Pooled, o.PooledDim),
	}
}

package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// task is one parallel loop: run is called once per thread with that
// thread's index. Each task splits its own work: into equal static shares,
// which keeps each thread on the same rows from layer to layer (and so in
// its cache), and, for most tasks, shares that a thread left idle can take
// over when another stalls (see runShare). Which thread computes a unit
// never changes its result.
type task interface {
	run(tid, threads int)
}

// Pool runs parallel loops on a fixed set of goroutines (threads-1 workers
// plus the caller). After a loop, workers spin for a short while waiting for
// the next one, since at batch 1 the next layer follows within
// microseconds, and then park so an idle Pool costs no CPU. A Pool with
// threads <= 1 (or a nil *Pool) runs everything inline.
type Pool struct {
	threads int
	mu      sync.Mutex // one loop at a time
	cur     task
	gen     atomic.Uint64 // bumped to publish cur
	pending atomic.Int32
	closed  atomic.Bool
	workers []*poolWorker
	done    sync.WaitGroup

	// Reused task values, so dispatching a layer allocates nothing.
	gemmT  gemmTask
	rowT   rowTask
	fusedT fusedTask
	claims []claim // one per thread, for tasks that rebalance as they run
}

type poolWorker struct {
	wake     chan struct{}
	sleeping atomic.Bool
	_        [48]byte // keep workers' flags on separate cache lines
}

// A waiting thread first busy-polls (busySpins PAUSEs, about 50 µs on
// this CPU), since at batch 1 the next layer follows within microseconds
// and runtime.Gosched goes through the scheduler's global lock on every
// call; then it yields for spinRounds polls, then parks.
const (
	busySpins  = 1000
	spinRounds = 100
)

// NewPool starts a pool of threads goroutines (including the caller).
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	p := &Pool{threads: threads, claims: make([]claim, threads)}
	for i := 1; i < threads; i++ {
		w := &poolWorker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		p.done.Add(1)
		go p.work(i, w)
	}
	return p
}

// Threads is the number of threads a loop is split over (1 for nil).
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Close stops the workers. The Pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil || p.closed.Swap(true) {
		return
	}
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.sleeping.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
	p.done.Wait()
}

// parallel runs t on every thread and returns when all are done.
func (p *Pool) parallel(t task) {
	if p == nil || p.threads <= 1 {
		t.run(0, 1)
		return
	}
	p.cur = t
	p.pending.Store(int32(p.threads - 1))
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.sleeping.CompareAndSwap(true, false) {
			w.wake <- struct{}{}
		}
	}
	t.run(0, p.threads)
	for spins := 0; p.pending.Load() != 0; spins++ {
		if spins < busySpins {
			spinPause()
			continue
		}
		// A worker is slow: it lost its core, or (a lost wake-up we could
		// not find but once saw under heavy load) it sleeps with our loop
		// pending. Wake any sleeper again and give up the core meanwhile.
		for _, w := range p.workers {
			if w.sleeping.CompareAndSwap(true, false) {
				w.wake <- struct{}{}
			}
		}
		runtime.Gosched()
	}
	p.cur = nil
}

func (p *Pool) work(tid int, w *poolWorker) {
	defer p.done.Done()
	// Generation 0 is NewPool's; reading gen here instead could skip a
	// loop published before this goroutine first ran, deadlocking it.
	seen := uint64(0)
	for {
		for spins := 0; p.gen.Load() == seen; spins++ {
			if spins < busySpins {
				spinPause()
				continue
			}
			if spins < busySpins+spinRounds {
				runtime.Gosched()
				continue
			}
			w.sleeping.Store(true)
			if p.gen.Load() != seen {
				if !w.sleeping.CompareAndSwap(true, false) {
					<-w.wake // someone saw us asleep and sent a token: take it
				}
				break
			}
			// A token means "look again", not "there is a loop": the caller
			// of a slow loop wakes every sleeper, so the loop condition
			// re-checks gen before any work.
			<-w.wake
		}
		seen = p.gen.Load()
		if p.closed.Load() {
			return
		}
		p.cur.run(tid, p.threads)
		p.pending.Add(-1)
	}
}

// claim is one thread's share of a task's units [front, back), taken one
// at a time from either end: by the owner from one, by threads that ran
// out of their own work from the other. Both ends live in one word, so a
// unit is never taken twice.
type claim struct {
	v atomic.Uint64 // front<<32 | back
	_ [56]byte      // a cache line each
}

func (c *claim) set(front, back int) { c.v.Store(uint64(front)<<32 | uint64(back)) }

// take removes up to n units [lo, hi) from the front, or the back with
// fromBack, unless no more than keep units are left.
func (c *claim) take(fromBack bool, n, keep int) (lo, hi int, ok bool) {
	for {
		v := c.v.Load()
		f, b := int(v>>32), int(uint32(v))
		if b-f <= keep {
			return 0, 0, false
		}
		k := min(n, b-f)
		if fromBack {
			if c.v.CompareAndSwap(v, uint64(f)<<32|uint64(b-k)) {
				return b - k, b, true
			}
		} else if c.v.CompareAndSwap(v, uint64(f+k)<<32|uint64(b)) {
			return f, f + k, true
		}
	}
}

// share divides units [0, n) into equal shares for the first
// min(threads, p.threads) threads and returns their claims; the caller
// holds p.mu and hands them to its task.
func (p *Pool) share(threads, n int) []claim {
	threads = min(threads, p.threads)
	for i := range threads {
		p.claims[i].set(n*i/threads, n*(i+1)/threads)
	}
	return p.claims[:threads]
}

// runShare runs do on thread tid's units, n at a time and from the back
// with backward, then on the units of threads that are behind by more
// than their current n units and the next n: threads whose core the host
// took away for a while. A thread barely behind keeps its units, whose
// inputs are in its cache (stealing those cost 5-10% on an idle machine;
// stealing from a stalled thread took x2.5 under a competing process
// from 20.7 to 17.1 ms).
func runShare(claims []claim, tid int, backward bool, n int, do func(lo, hi int)) {
	for lo, hi, ok := claims[tid].take(backward, n, 0); ok; lo, hi, ok = claims[tid].take(backward, n, 0) {
		do(lo, hi)
	}
	for o := 1; o < len(claims); o++ {
		c := &claims[(tid+o)%len(claims)]
		for lo, hi, ok := c.take(!backward, n, n); ok; lo, hi, ok = c.take(!backward, n, n) {
			do(lo, hi)
		}
	}
}

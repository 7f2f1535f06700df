package kernel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts how often each part runs.
type countTask struct {
	runs []atomic.Int32
	work time.Duration
}

func (c *countTask) run(tid, threads int) {
	c.runs[tid].Add(1)
	if c.work > 0 {
		time.Sleep(time.Duration(tid) * c.work) // part 0 at once, the rest later
	}
}

// TestPoolRunsEachPartOnce publishes loops back to back and after pauses
// long enough for the workers to park, with parts that finish at once or
// at different times (so a worker that finished parks while the loop is
// still pending, and the caller's slow-loop path wakes it): every part
// must run exactly once per loop, and no loop may hang.
func TestPoolRunsEachPartOnce(t *testing.T) {
	for _, threads := range []int{2, 3} {
		p := NewPool(threads)
		c := &countTask{runs: make([]atomic.Int32, threads)}
		for i := 0; i < 300; i++ {
			switch i % 3 {
			case 1:
				time.Sleep(200 * time.Microsecond) // workers park
			case 2:
				c.work = 300 * time.Microsecond
			}
			p.mu.Lock()
			p.parallel(c)
			p.mu.Unlock()
			c.work = 0
			for tid := range c.runs {
				if n := c.runs[tid].Swap(0); n != 1 {
					t.Fatalf("threads=%d loop %d: part %d ran %d times", threads, i, tid, n)
				}
			}
		}
		p.Close()
	}
}

// TestRunShare runs shares of units on goroutines that stall at random:
// every unit must run exactly once, and a stalled thread's units go to the
// others, except the last n it is entitled to keep.
func TestRunShare(t *testing.T) {
	for _, c := range []struct{ threads, units, n int }{{2, 100, 1}, {2, 37, 3}, {3, 1000, 2}, {4, 7, 1}, {2, 1, 1}} {
		t.Run(fmt.Sprintf("t%d_u%d_n%d", c.threads, c.units, c.n), func(t *testing.T) {
			p := NewPool(c.threads)
			defer p.Close()
			for round := range 20 {
				claims := p.share(c.threads, c.units)
				done := make([]atomic.Int32, c.units)
				var by [8]atomic.Int32 // units run by each thread
				var wg sync.WaitGroup
				stalled := make(chan struct{})
				for tid := range c.threads {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if tid == 0 && round%2 == 0 {
							<-stalled // thread 0 starts only when the others are done
						}
						runShare(claims, tid, round%4 == 1, c.n, func(lo, hi int) {
							if lo >= hi {
								t.Errorf("empty range [%d, %d)", lo, hi)
							}
							for u := lo; u < hi; u++ {
								done[u].Add(1)
							}
							by[tid].Add(int32(hi - lo))
						})
						if tid == c.threads-1 && round%2 == 0 {
							close(stalled)
						}
					}()
				}
				if c.threads == 1 || round%2 == 1 {
					close(stalled)
				}
				wg.Wait()
				for u := range done {
					if n := done[u].Load(); n != 1 {
						t.Fatalf("round %d: unit %d ran %d times", round, u, n)
					}
				}
				own := c.units / c.threads // thread 0's share
				if round%2 == 0 && c.threads == 2 && own > c.n && int(by[0].Load()) > c.n {
					t.Errorf("round %d: stalled thread 0 ran %d of its %d units; the other should have left it %d at most", round, by[0].Load(), own, c.n)
				}
			}
		})
	}
}

package kernel

import (
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

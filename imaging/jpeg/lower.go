package jpeg

import "sync/atomic"

// lower stores v in x unless x holds less already.
func lower(x *atomic.Int64, v int64) {
	for {
		c := x.Load()
		if v >= c || x.CompareAndSwap(c, v) {
			return
		}
	}
}

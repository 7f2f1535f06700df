package jpeg

import "sync/atomic"

// onTwo runs a on a new goroutine and b on the calling one, and returns
// once both are done. A panic on either is raised again here, where the
// caller's recover (the server's middleware) sees it as it would see the
// serial decode's; give, if set, runs first, so that the other goroutine
// stops taking work rather than wait for work the panic abandoned.
func onTwo(a, b, give func()) {
	done := make(chan any, 1)
	go func() {
		defer func() {
			v := recover()
			if v != nil && give != nil {
				give()
			}
			done <- v
		}()
		a()
	}()
	func() {
		defer func() {
			if v := recover(); v != nil {
				if give != nil {
					give()
				}
				<-done
				panic(v)
			}
		}()
		b()
	}()
	if v := <-done; v != nil {
		panic(v)
	}
}

// lower stores v in x unless x holds less already.
func lower(x *atomic.Int64, v int64) {
	for {
		c := x.Load()
		if v >= c || x.CompareAndSwap(c, v) {
			return
		}
	}
}

// Package par runs two pieces of one job on two goroutines, for the
// image path's decoders and resizers, which split an image between the
// calling goroutine and one more when a core is spare.
package par

// Two runs a on a new goroutine and b on the calling one, and returns
// once both are done. A panic on either is raised again here, after the
// other has finished, where the caller's recover (the server's
// middleware) sees it as it would see a serial run's, and no goroutine
// still writes into memory the caller is about to reuse. give, if set,
// runs first, so that the other goroutine stops taking work rather than
// wait for work the panic abandoned.
func Two(a, b, give func()) {
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

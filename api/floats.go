package api

import "sync"

// floats recycles the float32 buffers of one model's input tensors. Under
// load every request allocated one (150 KB for an 80x160 input): large
// allocations that the runtime zeroes and the GC paces on. A sync.Pool
// keeps only what recent requests used and lets the GC take the rest, so
// an idle model holds no extra memory.
type floats struct{ p sync.Pool }

// get returns a buffer of length n, with at least capacity c, whose
// contents are unspecified: the caller writes every value.
func (f *floats) get(n, c int) []float32 {
	if b, ok := f.p.Get().(*[]float32); ok {
		if cap(*b) >= n {
			return (*b)[:n]
		}
		// Too small for this request: let the GC have it, and keep the
		// larger one next time.
	}
	return make([]float32, n, max(n, c))
}

// put gives b back; the caller must not touch it afterwards.
func (f *floats) put(b []float32) {
	if cap(b) > 0 {
		f.p.Put(&b)
	}
}

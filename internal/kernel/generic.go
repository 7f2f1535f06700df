package kernel

// The pure-Go micro-kernels. They are the fallback on CPUs without
// AVX2/FMA and the reference the SIMD kernels are tested against, so each
// states the contract its SIMD versions implement.

func genericImpl() *impl {
	return &impl{
		name:    "generic",
		mr:      4,
		tile16:  tileGeneric(1),
		gemv:    gemvGeneric,
		gemv16:  gemv16Generic,
		widen:   widenGeneric,
		dwRow:   dwRowGeneric,
		stemRow: stemRowGeneric,
		add:     addGeneric,
		mul:     mulGeneric,
	}
}

// tileGeneric returns the mr x (16*np) GEMM tile for np consecutive
// panels p (each k x 16, k-major), rows of a with stride lda:
//
//	c[r*ldc+j] = act(bias[j] + sum over kk < k of a[r*lda+kk] * p[(j/16)*k*16 + kk*16 + j%16])
//
// for r < mr (4 here) and j < 16*np. bias has 16*np values (never nil).
func tileGeneric(np int) func(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, _ prefetch) {
	const rows = 4
	return func(k int, a []float32, lda int, p []float32, bias []float32, act Act, c []float32, ldc int, _ prefetch) {
		for q := 0; q < np; q++ {
			pp := p[q*k*lanes : (q+1)*k*lanes]
			for r := 0; r < rows; r++ {
				var acc [lanes]float32
				ar := a[r*lda : r*lda+k]
				for kk, av := range ar {
					w := pp[kk*lanes : kk*lanes+lanes : kk*lanes+lanes]
					for j := range acc {
						acc[j] += av * w[j]
					}
				}
				cr := c[r*ldc+q*lanes : r*ldc+q*lanes+lanes]
				for j := range cr {
					cr[j] = activate(acc[j]+bias[q*lanes+j], act)
				}
			}
		}
	}
}

// gemvGeneric is the one-row GEMM over np panels:
//
//	c[j] = act(bias[j] + sum over kk < k of a[kk] * p[(j/16)*k*16 + kk*16 + j%16])
//
// for j < 16*np.
func gemvGeneric(k int, a []float32, p []float32, np int, bias []float32, act Act, c []float32) {
	gemvOf(k, a, p, np, bias, act, c, func(v float32) float32 { return v })
}

// gemv16Generic is gemvGeneric with fp16 panels.
func gemv16Generic(k int, a []float32, p []uint16, np int, bias []float32, act Act, c []float32) {
	gemvOf(k, a, p, np, bias, act, c, fromHalf)
}

func gemvOf[T float32 | uint16](k int, a []float32, p []T, np int, bias []float32, act Act, c []float32, widen func(T) float32) {
	a = a[:k]
	for q := 0; q < np; q++ {
		var acc [lanes]float32
		pp := p[q*k*lanes : (q+1)*k*lanes]
		for kk, av := range a {
			w := pp[kk*lanes : kk*lanes+lanes : kk*lanes+lanes]
			for j := range acc {
				acc[j] += av * widen(w[j])
			}
		}
		for j := range acc {
			c[q*lanes+j] = activate(acc[j]+bias[q*lanes+j], act)
		}
	}
}

func widenGeneric(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = fromHalf(h)
	}
}

// rowArgs describe a run of n output pixels of one output row of a
// depthwise (dwRow) or stem (stemRow) convolution over which the
// horizontal taps kx in [kx0, kx1) all fall inside the input. Tap rows in
// the vertical padding are left out of roff and woff.
type rowArgs struct {
	in []float32 // dwRow: NHWC with cs channels; stemRow: NCHW planes
	// roff[t] is the offset in in of horizontal tap kx = 0 of pixel 0 on
	// tap row t. It may be negative: only taps kx >= kx0 are read.
	roff []int
	// woff[t] is the offset in w of horizontal tap kx = 0 on tap row t.
	woff     []int
	k        int // the kernel's width: [kx0, kx1) = [0, k) is an interior run
	kx0, kx1 int
	step     int // input elements between consecutive output pixels
	n        int // output pixels
	cs       int // output channels, a multiple of 16
	w        []float32
	bias     []float32 // cs values
	act      Act
	out      []float32 // n*cs values
}

// dwRowGeneric is the depthwise row: for i < n, c < cs,
//
//	out[i*cs+c] = act(bias[c] + sum over t < len(roff), kx0 <= kx < kx1 of
//	                  w[woff[t]+kx*cs+c] * in[roff[t] + i*step + kx*cs + c])
func dwRowGeneric(r *rowArgs) {
	cs := r.cs
	for i := 0; i < r.n; i++ {
		o := r.out[i*cs : (i+1)*cs]
		copy(o, r.bias[:cs])
		for t, ro := range r.roff {
			for kx := r.kx0; kx < r.kx1; kx++ {
				x := r.in[ro+i*r.step+kx*cs : ro+i*r.step+kx*cs+cs]
				w := r.w[r.woff[t]+kx*cs : r.woff[t]+kx*cs+cs]
				for c := range o {
					o[c] += w[c] * x[c]
				}
			}
		}
		for c, v := range o {
			o[c] = activate(v, r.act)
		}
	}
}

// stemRowGeneric is the dense (stem) row: for i < n, c < cs,
//
//	out[i*cs+c] = act(bias[c] + sum over t < len(roff), kx0 <= kx < kx1 of
//	                  w[woff[t]+kx*cs+c] * in[roff[t] + i*step + kx])
//
// Each input value is one scalar broadcast over the output channels.
func stemRowGeneric(r *rowArgs) {
	cs := r.cs
	for i := 0; i < r.n; i++ {
		o := r.out[i*cs : (i+1)*cs]
		copy(o, r.bias[:cs])
		for t, ro := range r.roff {
			for kx := r.kx0; kx < r.kx1; kx++ {
				x := r.in[ro+i*r.step+kx]
				w := r.w[r.woff[t]+kx*cs : r.woff[t]+kx*cs+cs]
				for c := range o {
					o[c] += w[c] * x
				}
			}
		}
		for c, v := range o {
			o[c] = activate(v, r.act)
		}
	}
}

func addGeneric(y, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += x[i]
	}
}

func mulGeneric(y, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] *= x[i]
	}
}

func activate(v float32, act Act) float32 {
	switch act {
	case ActReLU:
		return max(v, 0)
	case ActHardSwish:
		return v * min(max(v+3, 0), 6) * (1.0 / 6)
	case ActHardSigmoid:
		return min(max(v*hardSigmoidSlope+0.5, 0), 1)
	}
	return v
}

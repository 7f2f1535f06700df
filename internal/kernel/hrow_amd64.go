//go:build amd64 && !purego

package kernel

// The AVX-512 row kernels take rowArgs apart into plain arguments; nq is
// the number of 16-channel chunks, which the assembly counts down.

//go:noescape
func hDwRowAVX512(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)

//go:noescape
func hStemRowAVX512(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)

//go:noescape
func dwInt3AVX512(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)

//go:noescape
func dwInt5AVX512(in *float32, roff *int, woff *int, nt int, kx0 int, kx1 int, step int, n int, cs int, w *float32, bias *float32, out *float32, act int, nq int)

func hDwRow(r *rowArgs) {
	checkRow("dwRowAVX512", r, false)
	if r.kx0 == 0 && r.kx1 == r.k && len(r.roff) <= r.k {
		// The interior of the row: fully unrolled taps.
		switch r.k {
		case 3:
			dwInt3AVX512(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
			return
		case 5:
			dwInt5AVX512(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
			return
		}
	}
	hDwRowAVX512(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
}

func hStemRow(r *rowArgs) {
	checkRow("stemRowAVX512", r, true)
	hStemRowAVX512(&r.in[0], &r.roff[0], &r.woff[0], len(r.roff), r.kx0, r.kx1, r.step, r.n, r.cs, &r.w[0], &r.bias[0], &r.out[0], int(r.act), r.cs/lanes)
}

package kernel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestDepthwisePointwise checks the fused kernel against Depthwise then
// Gemm, which the other tests check against float64 references. Both
// paths run the same micro-kernels on the same values in the same order,
// so the outputs must be identical.
func TestDepthwisePointwise(t *testing.T) {
	shapes := []struct{ c, h, w, k, sh, sw, n int }{
		{40, 112, 112, 3, 1, 1, 80}, {80, 112, 112, 3, 2, 2, 160}, {16, 9, 13, 3, 1, 1, 24},
		{24, 7, 7, 5, 2, 1, 40}, {3, 1, 1, 3, 1, 1, 5}, {48, 33, 17, 5, 1, 1, 100}, {160, 56, 56, 3, 1, 1, 160},
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(7, 7))
	for _, im := range impls() {
		for si, s := range shapes {
			for _, half := range []bool{false, true} {
				dwAct, pwAct := acts[si%len(acts)], acts[(si+1)%len(acts)]
				t.Run(fmt.Sprintf("%s/c%dh%dw%dk%ds%dx%d_n%d/half=%v", im.name, s.c, s.h, s.w, s.k, s.sh, s.sw, s.n, half), func(t *testing.T) {
					cs := Stride(s.c)
					x := toNHWC(randSlice(r, s.c*s.h*s.w), s.c, s.h, s.w, cs)
					dwt := PackTaps(randSlice(r, s.c*s.k*s.k), s.c, s.k*s.k)
					dwb := PadBias(randSlice(r, s.c))
					pw := Pack(randSlice(r, s.n*s.c), s.n, s.c, half)
					pwb := PadBias(randSlice(r, s.n))
					oh, ow := outSize(s.h, s.k, s.sh), outSize(s.w, s.k, s.sw)
					ldc := Stride(s.n) + 16 // a strided output, as in NHWC with more channels
					mid := make([]float32, oh*ow*cs)
					dwWith(im, nil, workspaces(1), x, s.h, s.w, cs, dwt, s.k, s.sh, s.sw, dwb, dwAct, mid)
					want := nanSlice(oh * ow * ldc)
					gemmWith(im, nil, workspaces(1), mid, oh*ow, cs, pw, pwb, pwAct, want, ldc)
					for _, p := range []*Pool{nil, pool} {
						got := nanSlice(len(want))
						fusedWith(im, p, workspaces(2), x, s.h, s.w, cs, dwt, s.k, s.sh, s.sw, dwb, dwAct, pw, pwb, pwAct, got, ldc, si%2 == 1)
						for i := range oh * ow {
							g, w := got[i*ldc:i*ldc+Stride(s.n)], want[i*ldc:i*ldc+Stride(s.n)]
							if !slices.Equal(g, w) {
								t.Fatalf("pool=%v: output pixel %d differs from Depthwise+Gemm", p != nil, i)
							}
						}
					}
				})
			}
		}
	}
}

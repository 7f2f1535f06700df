package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// impls is every implementation this CPU can run: the tests check each one,
// so the pure-Go fallback stays tested on SIMD machines.
func impls() []*impl { return append([]*impl{genericImpl()}, simdImpls()...) }

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

func nanSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

func refAct(v float64, act Act) float64 {
	switch act {
	case ActReLU:
		return math.Max(v, 0)
	case ActHardSwish:
		return v * math.Min(math.Max(v+3, 0), 6) / 6
	case ActHardSigmoid:
		return math.Min(math.Max(v*0.1666667+0.5, 0), 1)
	}
	return v
}

// refConv is a naive float64 grouped convolution on an NCHW input
// (groups == cin == cout for depthwise, 1 for dense), padding (k-1)/2,
// with the output in NHWC with cs = Stride(cout) channels: the padding
// channels are expected to be act(0). It also returns, per output, the
// sum of |w*x| terms to scale the tolerance.
func refConv(in []float32, cin, h, w int, wt []float32, cout, k, sh, sw int, groups int, bias []float32, act Act) (out, mag []float64) {
	p := (k - 1) / 2
	oh, ow := (h+2*p-k)/sh+1, (w+2*p-k)/sw+1
	cpg := cin / groups
	opg := cout / groups
	cs := Stride(cout)
	out = make([]float64, oh*ow*cs)
	mag = make([]float64, oh*ow*cs)
	for i := range out {
		out[i] = refAct(0, act)
	}
	for co := 0; co < cout; co++ {
		g := co / opg
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				s, m := 0.0, 0.0
				if bias != nil {
					s, m = float64(bias[co]), math.Abs(float64(bias[co]))
				}
				for ci := 0; ci < cpg; ci++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := oy*sh-p+ky, ox*sw-p+kx
							if iy < 0 || iy >= h || ix < 0 || ix >= w {
								continue
							}
							t := float64(wt[((co*cpg+ci)*k+ky)*k+kx]) * float64(in[((g*cpg+ci)*h+iy)*w+ix])
							s += t
							m += math.Abs(t)
						}
					}
				}
				out[(oy*ow+ox)*cs+co] = refAct(s, act)
				mag[(oy*ow+ox)*cs+co] = m
			}
		}
	}
	return out, mag
}

// toNHWC lays out an NCHW plane set as NHWC with cs channels (zero padding).
func toNHWC(in []float32, c, h, w, cs int) []float32 {
	out := make([]float32, h*w*cs)
	for ch := 0; ch < c; ch++ {
		for p := 0; p < h*w; p++ {
			out[p*cs+ch] = in[ch*h*w+p]
		}
	}
	return out
}

func check(t *testing.T, got []float32, want, mag []float64) {
	t.Helper()
	bad := 0
	for i := range want {
		tol := 1e-5*mag[i] + 1e-5
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol) {
			if bad < 5 {
				t.Errorf("out[%d] = %g, want %g (tolerance %g)", i, got[i], want[i], tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d outputs wrong", bad, len(want))
	}
}

// halfRound rounds weights through fp16 so the reference sees what the
// kernel computes with.
func halfRound(w []float32) []float32 {
	r := make([]float32, len(w))
	for i, v := range w {
		r[i] = fromHalf(toHalf(v))
	}
	return r
}

func workspaces(n int) []*Workspace {
	ws := make([]*Workspace, n)
	for i := range ws {
		ws[i] = NewWorkspace()
	}
	return ws
}

var acts = []Act{ActNone, ActReLU, ActHardSwish, ActHardSigmoid}

func TestGemm(t *testing.T) {
	// rows (pixels), k (inputs), m (outputs); extra lda/ldc padding.
	shapes := []struct{ rows, k, m, xa, xc int }{
		{1, 1, 1, 0, 0}, {8, 8, 8, 0, 0}, {3, 5, 7, 2, 0}, {1, 17, 13, 0, 0}, {3, 16, 16, 0, 16},
		{19, 9, 24, 0, 0}, {56 * 56, 64, 64, 0, 0}, {28 * 28, 64, 128, 0, 0}, {65, 33, 40, 3, 16},
		{31, 200, 17, 0, 0}, {49, 256, 256, 0, 0}, {1, 512, 1280, 0, 0}, {8, 512, 1280, 0, 0},
		{100, 48, 96, 0, 0}, {9, 3000, 8, 0, 0}, {77, 1, 37, 0, 0}, {33, 40, 9, 0, 0},
		{2000, 24, 16, 8, 0}, {100, 600, 13, 0, 0}, {1, 1280, 1000, 0, 0}, {70, 300, 21, 0, 0},
		{9, 520, 40, 0, 0}, {12, 16, 48, 0, 0}, {13, 16, 80, 0, 0}, {112 * 112, 16, 32, 0, 0},
	}
	pool := NewPool(3)
	defer pool.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range impls() {
		for si, s := range shapes {
			for _, half := range []bool{false, true} {
				act := acts[si%len(acts)]
				name := fmt.Sprintf("%s/rows%dK%dM%d/half=%v/act%d", im.name, s.rows, s.k, s.m, half, act)
				t.Run(name, func(t *testing.T) {
					w := randSlice(r, s.m*s.k)
					lda, n := s.k+s.xa, Stride(s.m)
					ldc := n + s.xc
					a := randSlice(r, (s.rows-1)*lda+s.k)
					var bias []float32
					if si%3 != 0 {
						bias = randSlice(r, s.m)
					}
					pk := Pack(w, s.m, s.k, half)
					if half {
						w = halfRound(w)
					}
					// The reference sees a as a 1 x rows image of k channels.
					planes := make([]float32, s.k*s.rows)
					for p := 0; p < s.rows; p++ {
						for kk := 0; kk < s.k; kk++ {
							planes[kk*s.rows+p] = a[p*lda+kk]
						}
					}
					want, mag := refConv(planes, s.k, 1, s.rows, w, s.m, 1, 1, 1, 1, bias, act)
					var pb []float32
					if bias != nil {
						pb = PadBias(bias)
					}
					for _, p := range []*Pool{nil, pool} {
						c := nanSlice((s.rows-1)*ldc + n)
						gemmWith(im, p, workspaces(3), a, s.rows, lda, pk, pb, act, c, ldc)
						got := make([]float32, s.rows*n)
						for row := 0; row < s.rows; row++ {
							copy(got[row*n:(row+1)*n], c[row*ldc:row*ldc+n])
						}
						check(t, got, want, mag)
					}
				})
			}
		}
	}
}

func TestDepthwise(t *testing.T) {
	shapes := []struct{ c, h, w, k, sh, sw int }{
		{1, 1, 1, 3, 1, 1}, {3, 5, 7, 3, 1, 1}, {4, 8, 8, 3, 2, 2}, {5, 9, 11, 5, 2, 2},
		{2, 7, 7, 5, 1, 1}, {3, 6, 9, 3, 2, 1}, {3, 9, 10, 5, 2, 1}, {16, 112, 112, 3, 1, 1},
		{32, 56, 56, 3, 2, 2}, {7, 2, 3, 5, 1, 1}, {2, 1, 17, 3, 1, 2}, {64, 14, 14, 5, 1, 1},
		{8, 3, 40, 5, 2, 1}, {2, 33, 3, 3, 1, 1}, {88, 7, 7, 5, 1, 1}, {40, 13, 15, 5, 2, 2},
		// 13, 8 and 7 chunks of 16 channels: every block size of the
		// few-pixel kernels (8, 4, 3, 2, 1 chunks at a time).
		{200, 6, 6, 5, 1, 1}, {120, 9, 5, 3, 2, 2}, {112, 7, 7, 3, 1, 1},
		// Whole rows of 16 + 8 + 4 pixels and a tail group that steps
		// back, and rows of 4 and 5 pixels (see dwFullZ).
		{17, 5, 29, 3, 1, 1}, {33, 6, 58, 5, 2, 2}, {16, 4, 5, 3, 1, 1}, {48, 5, 4, 5, 1, 1}, {20, 3, 9, 3, 2, 2},
		// Groups of 14 and 7, alone and followed by the others.
		{40, 6, 15, 5, 1, 1}, {24, 5, 23, 3, 1, 1}, {32, 9, 13, 3, 1, 1}, {16, 7, 29, 5, 2, 2},
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, im := range impls() {
		for si, s := range shapes {
			act := acts[si%len(acts)]
			t.Run(fmt.Sprintf("%s/c%dh%dw%dk%ds%dx%d/act%d", im.name, s.c, s.h, s.w, s.k, s.sh, s.sw, act), func(t *testing.T) {
				checkDepthwise(t, r, im, []*Pool{nil, pool}, s.c, s.h, s.w, s.k, s.sh, s.sw, act)
			})
		}
	}
}

// checkDepthwise runs a depthwise convolution of random values on im,
// once with each pool, against the float64 reference.
func checkDepthwise(t *testing.T, r *rand.Rand, im *impl, pools []*Pool, c, h, w, k, sh, sw int, act Act) {
	t.Helper()
	in := randSlice(r, c*h*w)
	wt := randSlice(r, c*k*k)
	bias := randSlice(r, c)
	want, mag := refConv(in, c, h, w, wt, c, k, sh, sw, c, bias, act)
	cs := Stride(c)
	x := toNHWC(in, c, h, w, cs)
	for _, p := range pools {
		out := nanSlice(len(want))
		dwWith(im, p, workspaces(2), x, h, w, cs, PackTaps(wt, c, k*k), k, sh, sw, PadBias(bias), act, out)
		check(t, out, want, mag)
	}
}

// TestDepthwiseRandomShapes runs every impl on random small shapes, with
// the row widths around the whole-row kernels' group sizes (4 to 16 and
// their sums) and both strides, against the float64 reference.
func TestDepthwiseRandomShapes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 150 {
		c, h, w := 1+r.IntN(40), 1+r.IntN(9), 1+r.IntN(48)
		k, sh, sw := 3+2*r.IntN(2), 1+r.IntN(2), 1+r.IntN(2)
		act := acts[i%len(acts)]
		for _, im := range impls() {
			t.Run(fmt.Sprintf("%s/c%dh%dw%dk%ds%dx%d", im.name, c, h, w, k, sh, sw), func(t *testing.T) {
				checkDepthwise(t, r, im, []*Pool{nil}, c, h, w, k, sh, sw, act)
			})
		}
	}
}

func TestStem(t *testing.T) {
	shapes := []struct{ cin, cout, h, w, k, sh, sw int }{
		{3, 16, 224, 224, 3, 2, 2}, {3, 8, 9, 7, 3, 2, 2}, {2, 5, 6, 6, 5, 1, 1},
		{3, 24, 17, 33, 3, 2, 1}, {1, 1, 1, 1, 3, 1, 1}, {4, 12, 20, 3, 3, 1, 1}, {3, 40, 32, 32, 3, 2, 2},
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(5, 6))
	for _, im := range impls() {
		for si, s := range shapes {
			act := acts[(si+1)%len(acts)]
			t.Run(fmt.Sprintf("%s/%dto%d/%dx%d/k%ds%dx%d", im.name, s.cin, s.cout, s.h, s.w, s.k, s.sh, s.sw), func(t *testing.T) {
				in := randSlice(r, s.cin*s.h*s.w)
				wt := randSlice(r, s.cout*s.cin*s.k*s.k)
				bias := randSlice(r, s.cout)
				want, mag := refConv(in, s.cin, s.h, s.w, wt, s.cout, s.k, s.sh, s.sw, 1, bias, act)
				for _, p := range []*Pool{nil, pool} {
					out := nanSlice(len(want))
					stemWith(im, p, workspaces(2), in, s.cin, s.h, s.w, PackTaps(wt, s.cout, s.cin*s.k*s.k), Stride(s.cout), s.k, s.sh, s.sw, PadBias(bias), act, out)
					check(t, out, want, mag)
				}
			})
		}
	}
}

func TestPoolSE(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cs, hw := 32, 13
	x := randSlice(r, cs*hw)
	got := make([]float32, cs)
	GlobalAvgPool(x, hw, cs, got)
	s := randSlice(r, cs)
	y := append([]float32(nil), x...)
	ScaleChannels(y, hw, cs, s)
	for ch := 0; ch < cs; ch++ {
		sum := 0.0
		for i := 0; i < hw; i++ {
			v := float64(x[i*cs+ch])
			sum += v
			if want := v * float64(s[ch]); math.Abs(float64(y[i*cs+ch])-want) > 1e-6*math.Abs(want) {
				t.Errorf("scaled[%d][%d] = %g, want %g", i, ch, y[i*cs+ch], want)
			}
		}
		if want := sum / float64(hw); math.Abs(float64(got[ch])-want) > 1e-5 {
			t.Errorf("mean[%d] = %g, want %g", ch, got[ch], want)
		}
	}
	for _, im := range impls() {
		a, b := randSlice(r, 37), randSlice(r, 37)
		sum, prod := append([]float32(nil), a...), append([]float32(nil), a...)
		im.add(sum, b)
		im.mul(prod, b)
		for i := range a {
			if sum[i] != a[i]+b[i] || prod[i] != a[i]*b[i] {
				t.Errorf("%s: add/mul[%d] = %g, %g; want %g, %g", im.name, i, sum[i], prod[i], a[i]+b[i], a[i]*b[i])
			}
		}
	}
}

func TestHalf(t *testing.T) {
	// Every fp16 value survives fp32 and back; rounding is to nearest even.
	for h := 0; h < 1<<16; h++ {
		f := fromHalf(uint16(h))
		if f != f {
			continue
		}
		if back := toHalf(f); back != uint16(h) {
			t.Fatalf("toHalf(fromHalf(%#04x)) = %#04x (%g)", h, back, f)
		}
	}
	cases := []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0},
		{5.960464477539063e-08, 0x0001}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02},
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, c := range cases {
		if got := toHalf(c.f); got != c.want {
			t.Errorf("toHalf(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	for _, im := range impls() {
		src := []uint16{0, 0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x8000, 0x3555, 0x1234, 0x0400, 0x03ff, 0xabcd, 0x4000, 0x5000, 0x6000, 0x7000, 0x2000}
		dst := make([]float32, len(src))
		im.widen(dst, src)
		for i, h := range src {
			if dst[i] != fromHalf(h) {
				t.Errorf("%s: widen(%#04x) = %g, want %g", im.name, h, dst[i], fromHalf(h))
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	ws := workspaces(2)
	r := rand.New(rand.NewPCG(9, 10))
	a := Pack(randSlice(r, 64*64), 64, 64, true)
	b := randSlice(r, 64*3136)
	c := make([]float32, 64*3136)
	bias := randSlice(r, 64)
	in := randSlice(r, 3*32*32)
	stem := PackTaps(randSlice(r, 8*27), 8, 27)
	out := make([]float32, 16*16*16)
	dww := randSlice(r, 64*9)
	run := func() {
		Gemm(pool, ws, b, 3136, 64, a, bias, ActHardSwish, c, 64)
		Gemm(nil, ws, b, 1, 64, a, bias, ActReLU, c, 64)
		Gemm(pool, ws, b, 29, 64, a, nil, ActNone, c, 64)
		Depthwise(pool, ws, b, 56, 56, 64, dww, 3, 2, 2, bias, ActHardSwish, c)
		Stem(pool, ws, in, 3, 32, 32, stem, 16, 3, 2, 2, bias, ActNone, out)
	}
	run()
	if n := testing.AllocsPerRun(10, run); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func TestImplChoice(t *testing.T) {
	if got := chooseImpl("generic").name; got != "generic" {
		t.Errorf("LCNET_KERNEL=generic chose %q", got)
	}
	if n := Impl(); n != "generic" && n != "avx2" && n != "avx512" {
		t.Errorf("Impl() = %q", n)
	}
}

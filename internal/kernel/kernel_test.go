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

// refConv is a naive float64 grouped convolution (groups == cin == cout for
// depthwise, 1 for dense), padding (k-1)/2. It returns the outputs and, per
// output, the sum of |w*x| terms to scale the tolerance.
func refConv(in []float32, cin, h, w int, wt []float32, cout, k, sh, sw int, groups int, bias []float32, act Act) (out, mag []float64) {
	p := (k - 1) / 2
	oh, ow := (h+2*p-k)/sh+1, (w+2*p-k)/sw+1
	cpg := cin / groups
	opg := cout / groups
	out = make([]float64, cout*oh*ow)
	mag = make([]float64, cout*oh*ow)
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
				out[(co*oh+oy)*ow+ox] = refAct(s, act)
				mag[(co*oh+oy)*ow+ox] = m
			}
		}
	}
	return out, mag
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
	shapes := []struct{ m, k, n int }{
		{1, 1, 1}, {8, 8, 8}, {3, 5, 7}, {13, 17, 1}, {16, 16, 3}, {24, 9, 19},
		{64, 64, 56 * 56}, {128, 64, 28 * 28}, {40, 33, 65}, {17, 200, 31},
		{256, 256, 49}, {1280, 512, 1}, {1280, 512, 8}, {96, 48, 100}, {8, 3000, 9},
		{37, 1, 77}, {9, 40, 33}, {16, 24, 2000}, {13, 600, 100}, {1000, 1280, 8}, {21, 300, 70}, {40, 520, 9},
	}
	pool := NewPool(3)
	defer pool.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range impls() {
		for si, s := range shapes {
			for _, half := range []bool{false, true} {
				act := acts[si%len(acts)]
				name := fmt.Sprintf("%s/M%dK%dN%d/half=%v/act%d", im.name, s.m, s.k, s.n, half, act)
				t.Run(name, func(t *testing.T) {
					w := randSlice(r, s.m*s.k)
					b := randSlice(r, s.k*s.n)
					var bias []float32
					if si%3 != 0 {
						bias = randSlice(r, s.m)
					}
					a := Pack(w, s.m, s.k, half)
					if half {
						w = halfRound(w)
					}
					want, mag := refConv(b, s.k, 1, s.n, w, s.m, 1, 1, 1, 1, bias, act)
					for _, p := range []*Pool{nil, pool} {
						c := make([]float32, s.m*s.n)
						for i := range c {
							c[i] = float32(math.NaN()) // every output must be written
						}
						gemmWith(im, p, workspaces(3), a, b, s.n, bias, act, c)
						check(t, c, want, mag)
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
		{8, 3, 40, 5, 2, 1}, {2, 33, 3, 3, 1, 1},
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(3, 4))
	for _, im := range impls() {
		for si, s := range shapes {
			act := acts[si%len(acts)]
			t.Run(fmt.Sprintf("%s/c%dh%dw%dk%ds%dx%d/act%d", im.name, s.c, s.h, s.w, s.k, s.sh, s.sw, act), func(t *testing.T) {
				in := randSlice(r, s.c*s.h*s.w)
				wt := randSlice(r, s.c*s.k*s.k)
				var bias []float32
				if si%2 == 0 {
					bias = randSlice(r, s.c)
				}
				want, mag := refConv(in, s.c, s.h, s.w, wt, s.c, s.k, s.sh, s.sw, s.c, bias, act)
				for _, p := range []*Pool{nil, pool} {
					out := make([]float32, len(want))
					for i := range out {
						out[i] = float32(math.NaN())
					}
					dwWith(im, p, in, s.c, s.h, s.w, wt, s.k, s.sh, s.sw, bias, act, out)
					check(t, out, want, mag)
				}
			})
		}
	}
}

func TestConv(t *testing.T) {
	shapes := []struct{ cin, cout, h, w, k, sh, sw int }{
		{3, 16, 224, 224, 3, 2, 2}, {3, 8, 9, 7, 3, 2, 2}, {2, 5, 6, 6, 5, 1, 1},
		{3, 24, 17, 33, 3, 2, 1}, {1, 1, 1, 1, 3, 1, 1}, {4, 12, 20, 3, 3, 1, 1},
	}
	pool := NewPool(2)
	defer pool.Close()
	r := rand.New(rand.NewPCG(5, 6))
	for _, im := range impls() {
		for si, s := range shapes {
			for _, half := range []bool{false, true} {
				act := acts[(si+1)%len(acts)]
				t.Run(fmt.Sprintf("%s/%dto%d/%dx%d/k%ds%dx%d/half=%v", im.name, s.cin, s.cout, s.h, s.w, s.k, s.sh, s.sw, half), func(t *testing.T) {
					in := randSlice(r, s.cin*s.h*s.w)
					wt := randSlice(r, s.cout*s.cin*s.k*s.k)
					bias := randSlice(r, s.cout)
					a := Pack(wt, s.cout, s.cin*s.k*s.k, half)
					if half {
						wt = halfRound(wt)
					}
					want, mag := refConv(in, s.cin, s.h, s.w, wt, s.cout, s.k, s.sh, s.sw, 1, bias, act)
					for _, p := range []*Pool{nil, pool} {
						out := make([]float32, len(want))
						for i := range out {
							out[i] = float32(math.NaN())
						}
						convWith(im, p, workspaces(2), in, s.cin, s.h, s.w, a, s.k, s.sh, s.sw, bias, act, out)
						check(t, out, want, mag)
					}
				})
			}
		}
	}
}

func TestPoolSE(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	c, hw := 5, 13
	x := randSlice(r, c*hw)
	got := make([]float32, c)
	GlobalAvgPool(x, c, hw, got)
	s := randSlice(r, c)
	y := append([]float32(nil), x...)
	ScaleChannels(y, c, hw, s)
	for ch := 0; ch < c; ch++ {
		sum := 0.0
		for i := 0; i < hw; i++ {
			sum += float64(x[ch*hw+i])
			if want := float64(x[ch*hw+i]) * float64(s[ch]); math.Abs(float64(y[ch*hw+i])-want) > 1e-6*math.Abs(want) {
				t.Errorf("scaled[%d][%d] = %g, want %g", ch, i, y[ch*hw+i], want)
			}
		}
		if want := sum / float64(hw); math.Abs(float64(got[ch])-want) > 1e-5 {
			t.Errorf("mean[%d] = %g, want %g", ch, got[ch], want)
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
	stem := Pack(randSlice(r, 8*27), 8, 27, false)
	out := make([]float32, 8*16*16)
	dww := randSlice(r, 64*9)
	run := func() {
		Gemm(pool, ws, a, b, 3136, bias, ActHardSwish, c)
		Gemm(nil, ws, a, b, 1, bias, ActReLU, c)
		Depthwise(pool, b, 64, 56, 56, dww, 3, 2, 2, bias, ActHardSwish, c)
		Conv(pool, ws, in, 3, 32, 32, stem, 3, 2, 2, nil, ActNone, out)
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

package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// PP-LCNet x1.0 pointwise layers at 224x224 (M = out, K = in, N = pixels),
// the last conv and FC at batch 1 and 8, and the x2.5 late layers.
var gemmShapes = []struct {
	name    string
	m, k, n int
}{
	{"x1_112px_16to32", 32, 16, 112 * 112},
	{"x1_56px_64to64", 64, 64, 56 * 56},
	{"x1_28px_128to128", 128, 128, 28 * 28},
	{"x1_14px_256to256", 256, 256, 14 * 14},
	{"x1_7px_512to512", 512, 512, 7 * 7},
	{"x1_last_512to1280_b1", 1280, 512, 1},
	{"x1_fc_1280to1000_b8", 1000, 1280, 8},
	{"x2.5_7px_1280to1280", 1280, 1280, 7 * 7},
}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, im := range impls() {
		for _, s := range gemmShapes {
			for _, half := range []bool{false, true} {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%s/fp%d/t%d", im.name, s.name, map[bool]int{false: 32, true: 16}[half], threads), func(b *testing.B) {
						a := Pack(randSlice(r, s.m*s.k), s.m, s.k, half)
						in := randSlice(r, s.k*s.n)
						bias := randSlice(r, s.m)
						out := make([]float32, s.m*s.n)
						pool := NewPool(threads)
						defer pool.Close()
						ws := workspaces(threads)
						b.ResetTimer()
						for b.Loop() {
							gemmWith(im, pool, ws, a, in, s.n, bias, ActHardSwish, out)
						}
						b.ReportMetric(2*float64(s.m*s.k*s.n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}

// Depthwise layers of PP-LCNet x1.0 at 224x224 (channels, input size, k, stride).
var dwShapes = []struct {
	name          string
	c, h, k, s, t int
}{
	{"x1_16c_112px_k3", 16, 112, 3, 1, 0},
	{"x1_32c_112px_k3_s2", 32, 112, 3, 2, 0},
	{"x1_64c_56px_k3", 64, 56, 3, 1, 0},
	{"x1_256c_14px_k5", 256, 14, 5, 1, 0},
	{"x1_512c_7px_k5", 512, 7, 5, 1, 0},
}

func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, im := range impls() {
		for _, s := range dwShapes {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", im.name, s.name, threads), func(b *testing.B) {
					in := randSlice(r, s.c*s.h*s.h)
					wt := randSlice(r, s.c*s.k*s.k)
					bias := randSlice(r, s.c)
					o := outSize(s.h, s.k, s.s)
					out := make([]float32, s.c*o*o)
					pool := NewPool(threads)
					defer pool.Close()
					for b.Loop() {
						dwWith(im, pool, in, s.c, s.h, s.h, wt, s.k, s.s, s.s, bias, ActHardSwish, out)
					}
					b.ReportMetric(2*float64(s.c*o*o*s.k*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

func BenchmarkStem(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, im := range impls() {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/3to16_224px_s2/t%d", im.name, threads), func(b *testing.B) {
				in := randSlice(r, 3*224*224)
				a := Pack(randSlice(r, 16*27), 16, 27, false)
				out := make([]float32, 16*112*112)
				pool := NewPool(threads)
				defer pool.Close()
				ws := workspaces(threads)
				for b.Loop() {
					convWith(im, pool, ws, in, 3, 224, 224, a, 3, 2, 2, nil, ActHardSwish, out)
				}
				b.ReportMetric(2*float64(16*27*112*112)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkPool is the fixed cost of one parallel layer: an empty loop.
func BenchmarkPool(b *testing.B) {
	pool := NewPool(2)
	defer pool.Close()
	t := &nopTask{}
	for b.Loop() {
		pool.mu.Lock()
		pool.parallel(t)
		pool.mu.Unlock()
	}
}

type nopTask struct{}

func (nopTask) run(tid, threads int) {}

package kernel

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time: flops per CPU-second is
// what a kernel does when it has a core, whatever else the machine runs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report sets GFLOP/s (wall clock) and cpu-GFLOP/s (per CPU-second) for
// flops per op, given the CPU time at the start of the timed loop.
func report(b *testing.B, flops float64, cpu0 time.Duration) {
	total := flops * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if d := cpuTime() - cpu0; d > 0 {
		b.ReportMetric(total/d.Seconds()/1e9, "cpu-GFLOP/s")
	}
}

// PP-LCNet x1.0 pointwise layers at 224x224 (rows = pixels, K = in,
// M = out), the last conv and FC at batch 1, and an x2.5 late layer.
var gemmShapes = []struct {
	name       string
	rows, k, m int
}{
	{"x1_112px_16to32", 112 * 112, 16, 32},
	{"x1_56px_64to64", 56 * 56, 64, 64},
	{"x1_28px_128to128", 28 * 28, 128, 128},
	{"x1_14px_256to256", 14 * 14, 256, 256},
	{"x1_7px_512to512", 7 * 7, 512, 512},
	{"x1_last_512to1280_b1", 1, 512, 1280},
	{"x1_fc_1280to1000_b1", 1, 1280, 1000},
	{"x2.5_7px_1280to1280", 7 * 7, 1280, 1280},
}

func BenchmarkGemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, im := range impls() {
		for _, s := range gemmShapes {
			for _, half := range []bool{false, true} {
				for _, threads := range []int{1, 2} {
					b.Run(fmt.Sprintf("%s/%s/fp%d/t%d", im.name, s.name, map[bool]int{false: 32, true: 16}[half], threads), func(b *testing.B) {
						w := Pack(randSlice(r, s.m*s.k), s.m, s.k, half)
						in := randSlice(r, s.rows*s.k)
						bias := randSlice(r, Stride(s.m))
						out := make([]float32, s.rows*Stride(s.m))
						pool := NewPool(threads)
						defer pool.Close()
						ws := workspaces(threads)
						cpu0 := cpuTime()
						for b.Loop() {
							gemmWith(im, pool, ws, in, s.rows, s.k, w, bias, ActHardSwish, out, Stride(s.m))
						}
						report(b, 2*float64(s.m*s.k*s.rows), cpu0)
					})
				}
			}
		}
	}
}

// Depthwise layers of PP-LCNet x1.0 at 224x224 (channels, input size, k, stride).
var dwShapes = []struct {
	name       string
	c, h, k, s int
}{
	{"x1_16c_112px_k3", 16, 112, 3, 1},
	{"x1_32c_112px_k3_s2", 32, 112, 3, 2},
	{"x1_64c_56px_k3", 64, 56, 3, 1},
	{"x1_256c_14px_k5", 256, 14, 5, 1},
	{"x1_512c_7px_k5", 512, 7, 5, 1},
}

func BenchmarkDepthwise(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, im := range impls() {
		for _, s := range dwShapes {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/%s/t%d", im.name, s.name, threads), func(b *testing.B) {
					in := randSlice(r, s.c*s.h*s.h)
					wt := PackTaps(randSlice(r, s.c*s.k*s.k), s.c, s.k*s.k)
					bias := randSlice(r, s.c)
					o := outSize(s.h, s.k, s.s)
					out := make([]float32, s.c*o*o)
					pool := NewPool(threads)
					defer pool.Close()
					ws := workspaces(threads)
					cpu0 := cpuTime()
					for b.Loop() {
						dwWith(im, pool, ws, in, s.h, s.h, s.c, wt, s.k, s.s, s.s, bias, ActHardSwish, out)
					}
					report(b, 2*float64(s.c*o*o*s.k*s.k), cpu0)
				})
			}
		}
	}
}

func BenchmarkStem(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, im := range impls() {
		for _, cout := range []int{16, 40} {
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/3to%d_224px_s2/t%d", im.name, cout, threads), func(b *testing.B) {
					in := randSlice(r, 3*224*224)
					wt := PackTaps(randSlice(r, cout*27), cout, 27)
					cs := Stride(cout)
					bias := make([]float32, cs)
					out := make([]float32, cs*112*112)
					pool := NewPool(threads)
					defer pool.Close()
					ws := workspaces(threads)
					cpu0 := cpuTime()
					for b.Loop() {
						stemWith(im, pool, ws, in, 3, 224, 224, wt, cs, 3, 2, 2, bias, ActHardSwish, out)
					}
					report(b, 2*float64(cout*27*112*112), cpu0)
				})
			}
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

// BenchmarkMicroKernel is the ceiling: one tile on L1-resident operands
// (k = 64).
func BenchmarkMicroKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	const k = 64
	for _, im := range impls() {
		for np, kern := range map[int]func(int, []float32, int, []float32, []float32, Act, []float32, int, prefetch){1: im.tile16, 2: im.tile32} {
			if kern == nil {
				continue
			}
			b.Run(fmt.Sprintf("%s/%dx%d", im.name, im.mr, np*lanes), func(b *testing.B) {
				a, p, c := randSlice(r, im.mr*k), randSlice(r, np*k*lanes), make([]float32, im.mr*np*lanes)
				bias := make([]float32, np*lanes)
				cpu0 := cpuTime()
				for b.Loop() {
					kern(k, a, k, p, bias, ActHardSwish, c, np*lanes, prefetch{})
				}
				report(b, 2*float64(im.mr*np*lanes*k), cpu0)
			})
		}
	}
}

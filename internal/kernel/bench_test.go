package kernel

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is this process's user+system CPU time. The machine is shared
// (load ~20 on 2 cores while these numbers were taken), so wall-clock
// GFLOP/s mostly measures the scheduler; flops per CPU-second is closer to
// what the kernel does when it has a core.
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
						cpu0 := cpuTime()
						for b.Loop() {
							gemmWith(im, pool, ws, a, in, s.n, bias, ActHardSwish, out)
						}
						report(b, 2*float64(s.m*s.k*s.n), cpu0)
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
					cpu0 := cpuTime()
					for b.Loop() {
						dwWith(im, pool, in, s.c, s.h, s.h, wt, s.k, s.s, s.s, bias, ActHardSwish, out)
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
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/3to16_224px_s2/t%d", im.name, threads), func(b *testing.B) {
				in := randSlice(r, 3*224*224)
				a := Pack(randSlice(r, 16*27), 16, 27, false)
				out := make([]float32, 16*112*112)
				pool := NewPool(threads)
				defer pool.Close()
				ws := workspaces(threads)
				cpu0 := cpuTime()
				for b.Loop() {
					convWith(im, pool, ws, in, 3, 224, 224, a, 3, 2, 2, nil, ActHardSwish, out)
				}
				report(b, 2*float64(16*27*112*112), cpu0)
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

// BenchmarkMicroKernel is the ceiling: one micro-kernel on L1-resident
// operands (k = 64).
func BenchmarkMicroKernel(b *testing.B) {
	r := rand.New(rand.NewPCG(4, 4))
	const k = 64
	for _, im := range impls() {
		for _, nr := range []int{8, im.nr} {
			b.Run(fmt.Sprintf("%s/8x%d", im.name, nr), func(b *testing.B) {
				a, bb, c := randSlice(r, mr*k), randSlice(r, k*nr), make([]float32, mr*nr)
				kern := im.kern
				if nr == 8 {
					kern = im.kern8
				}
				cpu0 := cpuTime()
				for b.Loop() {
					kern(k, a, bb, nr, c, nr, false)
				}
				report(b, 2*float64(mr*nr*k), cpu0)
			})
		}
	}
}

package nn

import (
	"context"
	"fmt"
	"testing"

	"github.com/lcnet/lcnet/arch"
)

// BenchmarkInfer reports ms/image, allocations per inference call and the
// resident weight bytes for each scale at 224x224, batch 1 and 8, fp32 and
// fp16. Random weights: speed does not depend on the values.
func BenchmarkInfer(b *testing.B) {
	for _, scale := range []float64{0.25, 0.35, 0.5, 0.75, 1, 1.5, 2, 2.5} {
		a := arch.DefaultArch(scale, 1000)
		tensors := randomTensors(a, 1)
		for _, half := range []bool{false, true} {
			m, err := Load(a, tensors, Options{Half: half})
			if err != nil {
				b.Fatal(err)
			}
			for _, n := range []int{1, 8} {
				dtype := "fp32"
				if half {
					dtype = "fp16"
				}
				b.Run(fmt.Sprintf("x%s/%s/batch%d", a.ScaleName(), dtype, n), func(b *testing.B) {
					x := randomInput(n, 224, 224, 1)
					var out Output
					ctx := context.Background()
					// Every worker sizes its buffers on first use: warm them all.
					warm := randomInput(8, 224, 224, 2)
					if _, err := m.Infer(ctx, warm, 8, 224, 224); err != nil {
						b.Fatal(err)
					}
					if err := m.InferInto(ctx, x, n, 224, 224, &out); err != nil {
						b.Fatal(err)
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if err := m.InferInto(ctx, x, n, 224, 224, &out); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*n), "ms/image")
					b.ReportMetric(float64(m.WeightBytes()), "weight-bytes")
				})
			}
			m.Close()
		}
	}
}

// BenchmarkParallelism compares the two ways of using the threads on 8
// images: one batch-8 call (images across workers, serial kernels) against
// 8 batch-1 calls in sequence (each layer split over kernel.Pool when
// useKernelPool is on; one thread while it is off). Reports ms/image.
func BenchmarkParallelism(b *testing.B) {
	a := arch.DefaultArch(1, 1000)
	m, err := Load(a, randomTensors(a, 1), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const n, h, w = 8, 224, 224
	x := randomInput(n, h, w, 1)
	ctx := context.Background()
	var out Output
	if err := m.InferInto(ctx, x, n, h, w, &out); err != nil {
		b.Fatal(err)
	}
	b.Run("batch8", func(b *testing.B) {
		for b.Loop() {
			if err := m.InferInto(ctx, x, n, h, w, &out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*n), "ms/image")
	})
	b.Run("8x_batch1_split", func(b *testing.B) {
		chw := 3 * h * w
		for b.Loop() {
			for i := range n {
				if err := m.InferInto(ctx, x[i*chw:(i+1)*chw], 1, h, w, &out); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*n), "ms/image")
	})
}

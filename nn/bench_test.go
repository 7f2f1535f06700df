package nn

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkInfer reports ms/image, allocations per inference call and the
// resident weight bytes for each scale at 224x224, batch 1 and 8, fp32 and
// fp16. Random weights: speed does not depend on the values.
func BenchmarkInfer(b *testing.B) {
	for _, scale := range []float64{0.25, 0.35, 0.5, 0.75, 1, 1.5, 2, 2.5} {
		a := DefaultArch(scale, 1000)
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

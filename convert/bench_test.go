package convert

import (
	"context"
	"os"
	"runtime"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
)

// BenchmarkReadPdparamsX25 reads the largest checkpoint (36 MB). The target
// is under 2 s and under 3x the file size in allocations; B/op against
// the file size is reported as x_file.
func BenchmarkReadPdparamsX25(b *testing.B) {
	path := fixtures.Path(b, "golden", "PPLCNet_x2_5.pdparams")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	for b.Loop() {
		n++
		ck, err := Read(context.Background(), path, ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(ck.Tensors) != 146 {
			b.Fatalf("%d tensors", len(ck.Tensors))
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n)/float64(st.Size()), "x_file")
}

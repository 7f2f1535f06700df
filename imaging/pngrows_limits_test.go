package imaging

import (
	"context"
	"runtime"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestFastPNGHostileMemory feeds the PNG fast path alone an inflate bomb
// (6000x6000 RGB, 108 MB of rows in a few hundred KB) and the same file
// cut short, and measures what it allocates: it streams the rows the
// resize reads, so it stays in the hundreds of KB where a whole decode
// takes the 144 MB RGBA image.
func TestFastPNGHostileMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 108 MB")
	}
	pp, err := NewPreprocessor(arch.DefaultPreprocess())
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 3*224*224)
	for _, c := range []struct {
		name string
		keep int
		ok   bool
	}{{"bomb", 0, true}, {"cut", 4096, false}} {
		data := testimage.PNG8Bomb(6000, 6000, c.keep)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, _, _, ok := pp.fastPNG(context.Background(), data, 0, dst)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d-byte file, fast path ok=%v, allocated %d bytes", c.name, len(data), ok, alloc)
		if ok != c.ok {
			t.Errorf("%s: fast path ok=%v, want %v", c.name, ok, c.ok)
		}
		if alloc > 1<<20 {
			t.Errorf("%s: the fast path allocated %d bytes, want under 1 MiB", c.name, alloc)
		}
	}
}

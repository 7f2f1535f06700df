package features

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"testing"
)

func row(dim, seed int) []float32 {
	r := make([]float32, dim)
	for i := range r {
		r[i] = float32(seed*dim+i) * 0.5
	}
	return r
}

func TestSpill(t *testing.T) {
	const dim, images, augs = 1280, 400, 5 // 10 MB of rows
	const limit = 1 << 20
	dir := t.TempDir()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := New(dim, limit, dir)
	if err != nil {
		t.Fatal(err)
	}
	src := make([]float32, dim)
	for i := 0; i < images; i++ {
		for a := 0; a < augs; a++ {
			copy(src, row(dim, i*augs+a))
			if err := c.Put(Key{i, a}, src); err != nil {
				t.Fatal(err)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	memRows, diskRows, memBytes, diskBytes := c.Stats()
	if memBytes > limit || memRows+diskRows != images*augs || diskBytes != int64(diskRows)*dim*4 {
		t.Errorf("stats: %d rows (%d bytes) in memory, %d rows (%d bytes) on disk", memRows, memBytes, diskRows, diskBytes)
	}
	// Heap growth: the in-memory rows plus maps and a row buffer, far below
	// the 10 MB put.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > limit+512<<10 {
		t.Errorf("heap grew by %d bytes with a %d byte limit", grew, limit)
	}
	if err := c.Put(Key{images - 1, augs - 1}, row(dim, -1)); err != nil { // overwrite a spilled row
		t.Fatal(err)
	}
	var dst []float32
	for i := 0; i < images; i++ {
		for a := 0; a < augs; a++ {
			want := row(dim, i*augs+a)
			if i == images-1 && a == augs-1 {
				want = row(dim, -1)
			}
			var ok bool
			if dst, ok, err = c.Get(Key{i, a}, dst); err != nil || !ok || !slices.Equal(dst, want) {
				t.Fatalf("row %d/%d: ok %v err %v, values differ: %v", i, a, ok, err, !slices.Equal(dst, want))
			}
		}
	}
	if _, ok, _ := c.Get(Key{images, 0}, dst); ok {
		t.Error("found a row never put")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("spill file left behind: %v", left)
	}
}

func TestDim(t *testing.T) {
	c, err := New(3, 0, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Put(Key{}, []float32{1, 2}); !errors.Is(err, ErrDim) {
		t.Fatalf("error %v, want ErrDim", err)
	}
	if _, err := New(0, 0, ""); !errors.Is(err, ErrDim) {
		t.Fatalf("error %v, want ErrDim", err)
	}
}

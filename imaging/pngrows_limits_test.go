package imaging

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"testing"

	"github.com/lcnet/lcnet/arch"
)

// hostilePNG is an 8-bit RGB PNG of w x h pixels whose rows are all zero,
// deflated into a few hundred KB: an inflate bomb. Cut to keep bytes of
// its IDAT, it also declares far more pixels than it holds.
func hostilePNG(t *testing.T, w, h, keep int) []byte {
	t.Helper()
	var z bytes.Buffer
	zw, err := zlib.NewWriterLevel(&z, zlib.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, 1+3*w) // filter byte 0, then the pixels
	for range h {
		if _, err := zw.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	idat := z.Bytes()
	if keep > 0 && keep < len(idat) {
		idat = idat[:keep]
	}
	var out bytes.Buffer
	out.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, body []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(body)))
		out.Write(n[:])
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(body)
		out.WriteString(typ)
		out.Write(body)
		binary.BigEndian.PutUint32(n[:], c.Sum32())
		out.Write(n[:])
	}
	hdr := make([]byte, 13)
	binary.BigEndian.PutUint32(hdr[0:], uint32(w))
	binary.BigEndian.PutUint32(hdr[4:], uint32(h))
	hdr[8], hdr[9] = 8, 2 // 8-bit RGB, no interlace
	chunk("IHDR", hdr)
	chunk("IDAT", idat)
	chunk("IEND", nil)
	return out.Bytes()
}

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
		data := hostilePNG(t, 6000, 6000, c.keep)
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

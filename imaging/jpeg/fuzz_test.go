package jpeg

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"runtime"
	"testing"
	"time"
)

// The fuzz limits keep every decode small and fast: a header may claim
// any size, and the fuzzer should spend its time on many inputs.
const (
	fuzzMaxBytes  = 1 << 20
	fuzzMaxPixels = 1 << 18
)

// FuzzDecode checks that no input panics or allocates past the budget, at
// every scale, and that a refusal is one of the typed errors.
func FuzzDecode(f *testing.F) {
	f.Add(encoded(f, synthetic(40, 24, 1), 80))
	img := synthetic(23, 9, 2)
	gray := image.NewGray(img.Bounds())
	copy(gray.Pix, img.Pix)
	f.Add(encoded(f, gray, 60))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang would otherwise show only as a stalled exec count.
		wd := time.AfterFunc(10*time.Second, func() { panic("decode hangs") })
		defer wd.Stop()
		cfg, cfgErr := DecodeConfig(data)
		for _, s := range []int{1, 2, 4, 8} {
			img, err := Decode(data, Options{Scale: s, MaxBytes: fuzzMaxBytes, MaxPixels: fuzzMaxPixels})
			// The pipelined decode fails and succeeds as the serial one,
			// with the same planes.
			pimg, perr := Decode(data, pipelineOpts(Options{Scale: s, MaxBytes: fuzzMaxBytes, MaxPixels: fuzzMaxPixels}, 3))
			if fmt.Sprint(err) != fmt.Sprint(perr) {
				t.Fatalf("scale %d: serial error %v, pipelined %v", s, err, perr)
			}
			// So does the split decode, its second reader starting a
			// quarter of the way into each baseline scan (below scale 8,
			// at scale 2 waiting half way for the hand-over).
			simg, serr := Decode(data, splitOpts(Options{Scale: s, MaxBytes: fuzzMaxBytes, MaxPixels: fuzzMaxPixels}, 16, s == 2))
			if fmt.Sprint(err) != fmt.Sprint(serr) {
				t.Fatalf("scale %d: serial error %v, split %v", s, err, serr)
			}
			if err == nil {
				for i, p := range rawPlanes(img) {
					if !bytes.Equal(p, rawPlanes(pimg)[i]) {
						t.Fatalf("scale %d: pipelined plane %d differs", s, i)
					}
					if !bytes.Equal(p, rawPlanes(simg)[i]) {
						t.Fatalf("scale %d: split plane %d differs", s, i)
					}
				}
			}
			if err != nil {
				var fe FormatError
				var ue UnsupportedError
				if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.Is(err, ErrTooLarge) {
					t.Fatalf("scale %d: untyped error %v", s, err)
				}
				continue
			}
			if cfgErr != nil {
				t.Fatalf("Decode succeeded where DecodeConfig failed: %v", cfgErr)
			}
			b := img.Bounds()
			if b.Dx() != (cfg.Width+s-1)/s || b.Dy() != (cfg.Height+s-1)/s {
				t.Fatalf("scale %d: bounds %v for %dx%d", s, b, cfg.Width, cfg.Height)
			}
			// A decode limited to some rows and columns checks the same
			// things and gives the same pixels there.
			rows, cols := every(b.Dy(), 5), every(b.Dx(), 3)
			part, err := Decode(data, Options{Scale: s, MaxBytes: fuzzMaxBytes, MaxPixels: fuzzMaxPixels, Rows: rows, Cols: cols})
			if err != nil {
				t.Fatalf("scale %d: whole decode succeeded, decode of some rows and columns failed: %v", s, err)
			}
			checkRegion(t, part, img, rows, cols)
		}
		// image/jpeg's verdict is informational only: the two may differ on
		// corrupt files (it rejects progressive files with restarts, we
		// accept a missing EOI after the last scan), but neither may panic.
		if c, err := stdjpeg.DecodeConfig(bytes.NewReader(data)); err == nil && int64(c.Width)*int64(c.Height) <= fuzzMaxPixels/4 {
			_, _ = stdjpeg.Decode(bytes.NewReader(data))
		}
	})
}

// TestPixelBomb checks that a header claiming 60000x60000 is refused before
// the planes are allocated, with and without a pixel limit.
func TestPixelBomb(t *testing.T) {
	base := encoded(t, synthetic(16, 16, 3), 80)
	// Patch the SOF0 dimensions.
	i := bytes.Index(base, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0")
	}
	bomb := append([]byte(nil), base...)
	bomb[i+5], bomb[i+6] = 60000>>8, 60000&0xff
	bomb[i+7], bomb[i+8] = 60000>>8, 60000&0xff
	c, err := DecodeConfig(bomb)
	if err != nil || c.Width != 60000 || c.Height != 60000 {
		t.Fatalf("DecodeConfig: %+v %v", c, err)
	}
	for _, opt := range []Options{
		{MaxPixels: 50_000_000},
		{MaxBytes: 64 << 20},
		{Scale: 8, MaxBytes: 1 << 20},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Decode(bomb, opt)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%+v: error %v, want ErrTooLarge", opt, err)
		}
		// The decoder's own state (eight Huffman tables with their
		// lookahead tables) is about 100 KB whatever the image size.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
			t.Errorf("%+v: allocated %d bytes before refusing", opt, grew)
		}
	}
}

// every returns every k-th position of n, starting at 1, and one past the
// end.
func every(n, k int) []int {
	var out []int
	for p := 1; p < n; p += k {
		out = append(out, p)
	}
	return append(out, n)
}

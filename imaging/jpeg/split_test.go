package jpeg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"unsafe"
)

// splitOpts splits any baseline scan without restart markers, at any
// scale, its second reader starting at 64ths at of the scan's bytes.
// Below scale 8, the calling goroutine waits for the indexer to finish
// its walk, so that they share the runs after the hand-over, or with park
// the indexer waits half way for the hand-over and decodes the rest.
func splitOpts(o Options, at int, park bool) Options {
	o.Parallel, o.splitMin, o.splitAt, o.splitPark = true, 1, at, park
	return o
}

// decodeSplit decodes data and reports whether a split scan handed over
// to its second reader.
func decodeSplit(data []byte, opt Options) (image.Image, bool, error) {
	img, d, err := decodeWith(data, opt)
	return img, d != nil && d.adopted, err
}

// splitImages are images large enough for the second reader to
// resynchronise: every layout image/jpeg writes, at several qualities,
// plus the photos of plasma-workspace-wallpapers when installed and the
// test isn't short.
func splitImages(t *testing.T) []testImage {
	var out []testImage
	for _, c := range []struct {
		w, h, q int
		gray    bool
	}{{640, 480, 90, false}, {333, 517, 98, false}, {800, 600, 60, true}, {1024, 64, 75, false}} {
		var img image.Image = synthetic(c.w, c.h, uint64(c.w*c.q))
		name := "gen420"
		if c.gray {
			rgba := img.(*image.RGBA)
			g := image.NewGray(rgba.Bounds())
			for i := range g.Pix {
				g.Pix[i] = rgba.Pix[4*i+1]
			}
			img, name = g, "gengray"
		}
		e := encoded(t, img, c.q)
		out = append(out, testImage{fmt.Sprintf("%s_%dx%d_q%d", name, c.w, c.h, c.q), e, e, ""})
	}
	if testing.Short() {
		return out
	}
	for _, p := range []string{
		"/usr/share/wallpapers/SafeLanding/contents/images/1622x2880.jpg",
		"/usr/share/wallpapers/Honeywave/contents/images/1080x1920.jpg",
		"/usr/share/wallpapers/BytheWater/contents/images/2560x1600.jpg",
	} {
		if data, err := os.ReadFile(p); err == nil {
			out = append(out, testImage{p, data, data, ""})
		}
	}
	return out
}

func samePlanes(t *testing.T, what string, got, want image.Image) {
	t.Helper()
	gp, wp := rawPlanes(got), rawPlanes(want)
	for i := range wp {
		if !bytes.Equal(gp[i], wp[i]) {
			t.Fatalf("%s: plane %d differs", what, i)
		}
	}
}

// TestSplitMatchesSerial checks that a split decode writes every byte of
// every plane as the serial one does, for each scale and region and for
// second readers started early, half way and late, and that it did hand
// over to the second reader (otherwise it is the serial decode again).
func TestSplitMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 17))
	large := splitImages(t)
	for i, ti := range append(large, testImages(t)...) {
		cfg, err := DecodeConfig(ti.data)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range decodeCases(rng, cfg.Width, cfg.Height) {
			want, err := Decode(ti.data, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, park := range []bool{false, true} {
				if park && c.opt.Scale == 8 {
					continue
				}
				adopted := 0
				for _, at := range []int{4, 20, 32, 60} {
					what := fmt.Sprintf("%s %s at %d/64 park %v", ti.name, c.name, at, park)
					got, ok, err := decodeSplit(ti.data, splitOpts(c.opt, at, park))
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					samePlanes(t, what, got, want)
					if ok {
						adopted++
					}
				}
				if i < len(large) && adopted < 3 {
					t.Errorf("%s %s park %v: %d of 4 split decodes handed over", ti.name, c.name, park, adopted)
				}
			}
		}
	}
}

// TestSplitErrors checks that truncated and corrupted files fail the
// same way split as serially, with the same planes when they decode, and
// that no goroutine outlives a decode.
func TestSplitErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 18))
	before := runtime.NumGoroutine()
	handed, failedAfter := 0, 0
	for _, ti := range splitImages(t)[:4] {
		var variants [][]byte
		for _, frac := range []int{40, 55, 70, 85, 95, 99} {
			variants = append(variants, ti.data[:len(ti.data)*frac/100])
		}
		for range 24 {
			v := bytes.Clone(ti.data)
			// Mostly in the second reader's part.
			i := len(v)/3 + rng.IntN(len(v)*2/3)
			v[i] ^= byte(1 + rng.IntN(255))
			variants = append(variants, v)
		}
		for i, v := range variants {
			for _, s := range []int{1, 2, 8} {
				want, errS := Decode(v, Options{Scale: s})
				got, ok, errP := decodeSplit(v, splitOpts(Options{Scale: s}, 24, s == 2))
				if ok {
					handed++
					if errP != nil {
						failedAfter++
					}
				}
				if fmt.Sprint(errS) != fmt.Sprint(errP) {
					t.Errorf("%s variant %d scale %d: serial %v, split %v", ti.name, i, s, errS, errP)
					continue
				}
				if errS == nil {
					samePlanes(t, fmt.Sprintf("%s variant %d scale %d", ti.name, i, s), got, want)
				}
			}
		}
	}
	// Most variants are damaged in the second reader's part: the check
	// is of its errors, not of the calling goroutine's.
	t.Logf("%d split decodes handed over, %d of them then failed", handed, failedAfter)
	if failedAfter < 20 {
		t.Errorf("only %d decodes failed after handing over to the second reader", failedAfter)
	}
	waitGoroutines(t, before)
}

// TestSplitCancel checks that a split decode canceled at any point
// returns the context's error and leaves no goroutine behind.
func TestSplitCancel(t *testing.T) {
	data := encoded(t, synthetic(640, 480, 3), 90)
	before := runtime.NumGoroutine()
	for _, n := range []int64{0, 1, 5, 12, 20, 29} {
		for _, s := range []int{1, 8} {
			ctx := &countdown{Context: context.Background()}
			ctx.n.Store(n)
			opt := splitOpts(Options{Scale: s, Context: ctx}, 32, n%2 == 1)
			if _, err := Decode(data, opt); !errors.Is(err, context.Canceled) {
				t.Errorf("after %d checks, scale %d: err = %v, want context.Canceled", n, s, err)
			}
		}
	}
	waitGoroutines(t, before)
}

// TestSplitMemory checks that the second reader allocates in proportion
// to what it records (at scale 8 its blocks, below it its marks), and
// that under a MaxBytes that leaves it room for a few chunks or marks
// only it stops there and the decode goes on serially, with the same
// planes.
func TestSplitMemory(t *testing.T) {
	if s := unsafe.Sizeof(mark{}); s != markSize {
		t.Fatalf("a mark takes %d bytes, markSize says %d", s, markSize)
	}
	data := encoded(t, synthetic(2048, 1536, 4), 90)
	// 2048x1536 4:2:0: 73728 blocks in 12288 MCUs.
	const blocks, mcus = 73728, 12288
	for _, s := range []int{8, 1} {
		want, serial := allocated(t, data, Options{Scale: s})
		d := &decoder{scale: s, chunkBlocks: 64}
		var bound, room int64
		if s == 8 {
			// At most the image's blocks, in chunks of 64 (the tests'
			// size); each chunk's own struct and the list of chunks
			// cost a little more, the first specSearchBlocks blocks'
			// places 8 bytes each.
			bound = (blocks/64+1)*(d.specChunkBytes()+128) + specSearchBlocks*8
			room = 3 * (d.specChunkBytes() + 64*8) // with their places
		} else {
			// A mark every markMCUs MCUs, and the runs (16 bytes per
			// MCU row).
			bound = (mcus/markMCUs+2)*markSize + 96*16
			room = 40 * markSize
		}
		bound += 64 << 10
		got, split := allocated(t, data, Options{Scale: s, Parallel: true, splitMin: 1, splitAt: 32})
		samePlanes(t, fmt.Sprint("scale ", s), got, want)
		t.Logf("scale %d: serial decode allocated %d bytes, split %d, bound %d over serial", s, serial, split, bound)
		if split > serial+uint64(bound) {
			t.Errorf("scale %d: split decode allocated %d bytes, serial %d, more than %d over", s, split, serial, bound)
		}
		// Room for three chunks or 40 marks: the reader stops after
		// them, and the calling goroutine decodes on from there.
		planes := int64(2048*1536 + 2*1024*768)
		if s == 8 {
			planes = int64(256*192 + 2*128*96)
		}
		tight := Options{Scale: s, MaxBytes: planes + room, Parallel: true, splitMin: 1, splitAt: 32}
		img, adopted, err := decodeSplit(data, tight)
		if err != nil || !adopted {
			t.Fatalf("scale %d, tight budget: adopted %v, err %v", s, adopted, err)
		}
		samePlanes(t, fmt.Sprint("scale ", s, " tight budget"), img, want)
		if _, got := allocated(t, data, tight); got > serial+uint64(room)+64<<10 {
			t.Errorf("scale %d, tight budget: allocated %d bytes, serial %d", s, got, serial)
		}
	}
}

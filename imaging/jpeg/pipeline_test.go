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
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pipelineOpts pipelines any image, in bands of a few blocks so that a
// small test image crosses many band boundaries.
func pipelineOpts(o Options, band int) Options {
	o.Parallel, o.parallelMin, o.bandBlocks, o.splitMin = true, 1, band, noSplit
	return o
}

// noSplit as Options.splitMin keeps Parallel from splitting scans, so
// that they go through the pipeline.
const noSplit = 1 << 62

// decodeChecked decodes data and reports whether its baseline scans went
// through the pipeline.
func decodeChecked(data []byte, opt Options) (image.Image, bool, error) {
	img, d, err := decodeWith(data, opt)
	return img, d != nil && d.pipelined, err
}

// decodeWith decodes data and returns the decoder too, for its record of
// how it decoded.
func decodeWith(data []byte, opt Options) (image.Image, *decoder, error) {
	d, err := newDecoder(data, opt)
	if err != nil {
		return nil, nil, err
	}
	if err := d.parse(false); err != nil {
		return nil, d, err
	}
	img, err := d.output()
	return img, d, err
}

// rawPlanes are the planes as the decoder allocated them, padding and
// unread samples included.
func rawPlanes(img image.Image) [][]byte {
	switch m := img.(type) {
	case *image.YCbCr:
		return [][]byte{m.Y, m.Cb, m.Cr}
	case *image.Gray:
		return [][]byte{m.Pix}
	case *image.CMYK:
		return [][]byte{m.Pix}
	case *image.RGBA:
		return [][]byte{m.Pix}
	}
	return nil
}

// TestParallelMatchesSerial checks that a pipelined decode writes every
// byte of every plane as the serial one does, for each layout (4:4:4,
// 4:2:2, 4:2:0, 4:1:1, 4:4:0, gray, RGB, CMYK, restart intervals), scale
// and region, and that the baseline files did go through the pipeline.
func TestParallelMatchesSerial(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 15))
	for _, ti := range testImages(t) {
		for _, s := range []int{1, 2, 4, 8} {
			t.Run(fmt.Sprintf("%s/%d", ti.name, s), func(t *testing.T) {
				cfg, err := DecodeConfig(ti.data)
				if err != nil {
					t.Fatal(err)
				}
				w, h := (cfg.Width+s-1)/s, (cfg.Height+s-1)/s
				for _, region := range []struct {
					name       string
					rows, cols []int
				}{
					{"whole", nil, nil},
					{"sparse", sparse(rng, h, 5), sparse(rng, w, 3)},
					{"corners", []int{0, h - 1}, []int{0, w - 1}},
				} {
					base := Options{Scale: s, Rows: region.rows, Cols: region.cols}
					want, err := Decode(ti.data, base)
					if err != nil {
						t.Fatal(err)
					}
					for _, band := range []int{1, 7, 1024} {
						got, piped, err := decodeChecked(ti.data, pipelineOpts(base, band))
						if err != nil {
							t.Fatalf("%s band %d: %v", region.name, band, err)
						}
						if wantPiped := !cfg.Progressive && s < 8; piped != wantPiped {
							t.Fatalf("%s: pipelined %v, want %v", region.name, piped, wantPiped)
						}
						gp, wp := rawPlanes(got), rawPlanes(want)
						for i := range wp {
							if !bytes.Equal(gp[i], wp[i]) {
								t.Fatalf("%s band %d: plane %d differs", region.name, band, i)
							}
						}
					}
				}
			})
		}
	}
}

// TestParallelErrors checks that truncated and corrupted files fail the
// same way pipelined as serially, and that no goroutine outlives a failed
// decode.
func TestParallelErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	before := runtime.NumGoroutine()
	for _, ti := range testImages(t) {
		if len(ti.data) < 200 {
			continue
		}
		var variants [][]byte
		for _, frac := range []int{30, 60, 90, 99} {
			variants = append(variants, ti.data[:len(ti.data)*frac/100])
		}
		for range 8 {
			v := bytes.Clone(ti.data)
			i := len(v)/4 + rng.IntN(len(v)*3/4)
			v[i] ^= byte(1 + rng.IntN(255))
			variants = append(variants, v)
		}
		for i, v := range variants {
			_, errS := Decode(v, Options{})
			_, errP := Decode(v, pipelineOpts(Options{}, 5))
			if fmt.Sprint(errS) != fmt.Sprint(errP) {
				t.Errorf("%s variant %d: serial %v, pipelined %v", ti.name, i, errS, errP)
			}
		}
	}
	waitGoroutines(t, before)
}

// countdown is a context that is done after n checks of Err: a
// cancellation that lands in the middle of a scan, deterministically.
type countdown struct {
	context.Context
	n atomic.Int64
}

func (c *countdown) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestParallelCancel checks that a decode canceled mid-scan returns the
// context's error, pipelined as serially, and leaves no goroutine behind.
func TestParallelCancel(t *testing.T) {
	data := encoded(t, synthetic(640, 480, 3), 90)
	before := runtime.NumGoroutine()
	for _, n := range []int64{0, 1, 5, 20, 29} {
		for _, opt := range []Options{{}, pipelineOpts(Options{}, 16)} {
			ctx := &countdown{Context: context.Background()}
			ctx.n.Store(n)
			opt.Context = ctx
			if _, err := Decode(data, opt); !errors.Is(err, context.Canceled) {
				t.Errorf("after %d rows, parallel %v: err = %v, want context.Canceled", n, opt.Parallel, err)
			}
		}
	}
	waitGoroutines(t, before)
}

// waitGoroutines fails if the goroutine count does not come back to n: a
// finished IDCT goroutine may take a moment to exit after it signals.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the decodes", runtime.NumGoroutine(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestParallelMemory checks that the pipeline allocates its band buffers
// and nothing in proportion to the image, and that a MaxBytes budget too
// small for them decodes serially instead of failing.
func TestParallelMemory(t *testing.T) {
	data := encoded(t, synthetic(1600, 1200, 4), 90)
	_, serial := allocated(t, data, Options{})
	d := &decoder{bandBlocks: bandBlocks}
	budget := uint64(d.pipelineBytes()) + 64<<10 // plus the goroutine and channels
	if _, used, err := decodeChecked(data, Options{Parallel: true, splitMin: noSplit}); err != nil || !used {
		t.Fatalf("pipelined %v, err %v; want a pipelined decode", used, err)
	}
	_, piped := allocated(t, data, Options{Parallel: true, splitMin: noSplit})
	t.Logf("serial decode allocated %d bytes, pipelined %d, band buffers %d", serial, piped, d.pipelineBytes())
	if piped > serial+budget {
		t.Errorf("pipelined decode allocated %d bytes, serial %d, band buffers %d", piped, serial, d.pipelineBytes())
	}
	// 1600x1200 4:2:0 planes are 2.88 MB: a budget of 3 MB fits them but
	// not the band buffers too.
	opt := Options{Parallel: true, MaxBytes: 3_000_000, splitMin: noSplit}
	if _, used, err := decodeChecked(data, opt); err != nil || used {
		t.Fatalf("tight budget: pipelined %v, err %v; want a serial decode", used, err)
	}
	if _, got := allocated(t, data, opt); got > serial+serial/64 {
		t.Errorf("tight budget: allocated %d bytes, serial %d", got, serial)
	}
}

// BenchmarkPipelineThreshold times serial and pipelined exact decodes
// (Rows and Cols of a resize to 256 on the short side, as
// imaging.PreprocessEncoded asks) across sizes, to place
// parallelMinPixels.
func BenchmarkPipelineThreshold(b *testing.B) {
	for _, sz := range []image.Point{{640, 480}, {1024, 768}, {1280, 960}, {1600, 1200}, {2048, 1536}, {4032, 3024}} {
		data := encoded(b, synthetic(sz.X, sz.Y, 7), 90)
		short := min(sz.X, sz.Y)
		rows, cols := taps(sz.Y, 256*sz.Y/short), taps(sz.X, 256*sz.X/short)
		for _, par := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%d/parallel=%v", sz.X, sz.Y, par), func(b *testing.B) {
				opt := Options{Rows: rows, Cols: cols, Parallel: par, parallelMin: 1, splitMin: noSplit}
				defer startCPU().report(b)
				for b.Loop() {
					if _, err := Decode(data, opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// taps are the two source positions a bilinear resize from n to m reads
// for each output position.
func taps(n, m int) []int {
	var out []int
	for i := range m {
		p := (2*i + 1) * n / (2 * m)
		out = append(out, max(p-1, 0), p)
	}
	return out
}

// BenchmarkPipelineBand times serial and pipelined decodes of the
// 5120x2880 baseline photo of plasma-workspace-wallpapers, when installed,
// with the Rows and Cols of a resize to 256 on the short side, across band
// sizes, to place bandBlocks.
func BenchmarkPipelineBand(b *testing.B) {
	data, err := os.ReadFile("/usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg")
	if err != nil {
		b.Skip(err)
	}
	rows, cols := taps(2880, 256), taps(5120, 455)
	for _, band := range []int{0, 1024, 4096, 16384} {
		b.Run(fmt.Sprintf("band=%d", band), func(b *testing.B) {
			opt := Options{Rows: rows, Cols: cols, Parallel: band > 0, bandBlocks: band, splitMin: noSplit}
			defer startCPU().report(b)
			for b.Loop() {
				if _, err := Decode(data, opt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestPipelinePanic checks that a panic of the IDCT goroutine reaches the
// decoding goroutine, where a caller's recover sees it, and that the
// decoder can still hand over bands in the meantime.
func TestPipelinePanic(t *testing.T) {
	before := runtime.NumGoroutine()
	d := &decoder{scale: 1, ncomp: 1, bandBlocks: 1}
	d.comp[0].pix, d.comp[0].stride = make([]byte, 64), 8
	p := d.newPipeline()
	// A block whose samples lie outside the plane: the IDCT panics.
	p.cur.blocks = append(p.cur.blocks, pendingBlock{off: 1 << 20, rows: 0xff})
	for range 2 * bandBuffers {
		p.full <- p.cur
		p.cur = <-p.free
		p.cur.blocks = append(p.cur.blocks[:0], pendingBlock{off: 1 << 20, rows: 0xff})
	}
	var got any
	func() {
		defer func() { got = recover() }()
		p.stop(true)
	}()
	if err, ok := got.(runtime.Error); !ok || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("stop panicked with %v, want the IDCT's index out of range", got)
	}
	waitGoroutines(t, before)
}

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
)

// damaged returns copies of data cut at each of fracs percent of its
// length, and n copies with one byte changed at or after 1/from of it.
func damaged(rng *rand.Rand, data []byte, fracs []int, n, from int) [][]byte {
	var out [][]byte
	for _, frac := range fracs {
		out = append(out, data[:len(data)*frac/100])
	}
	for range n {
		v := bytes.Clone(data)
		i := len(v)/from + rng.IntN(len(v)-len(v)/from)
		v[i] ^= byte(1 + rng.IntN(255))
		out = append(out, v)
	}
	return out
}

// sameOutcome decodes v at scale s serially and with opt's parallel
// options, and checks they fail alike or give the same planes. It
// reports whether the serial decode failed.
func sameOutcome(t *testing.T, what string, v []byte, s int, opt func(Options) Options) bool {
	t.Helper()
	want, errS := Decode(v, Options{Scale: s})
	got, errP := Decode(v, opt(Options{Scale: s}))
	if fmt.Sprint(errS) != fmt.Sprint(errP) {
		t.Errorf("%s scale %d: serial %v, parallel %v", what, s, errS, errP)
		return errS != nil
	}
	if errS == nil {
		samePlanes(t, fmt.Sprintf("%s scale %d", what, s), got, want)
	}
	return errS != nil
}

// cancels checks that decoding data with opt's options and a context
// canceled after each of counts checks returns the context's error and
// leaves no goroutine behind.
func cancels(t *testing.T, data []byte, counts []int64, opt func(Options) Options) {
	t.Helper()
	before := runtime.NumGoroutine()
	for _, n := range counts {
		ctx := &countdown{Context: context.Background()}
		ctx.n.Store(n)
		if _, err := Decode(data, opt(Options{Context: ctx})); !errors.Is(err, context.Canceled) {
			t.Errorf("after %d checks: err = %v, want context.Canceled", n, err)
		}
	}
	waitGoroutines(t, before)
}

// allocated decodes data and returns the image and the bytes the decode
// allocated.
func allocated(t *testing.T, data []byte, opt Options) (image.Image, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	img, err := Decode(data, opt)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	return img, after.TotalAlloc - before.TotalAlloc
}

// photoCase is one wallpaper photo decoded at one scale for the rows and
// columns PaddleClas' preprocessing reads (the short side resized to
// 256, the center 224x224 cropped).
type photoCase struct {
	name       string
	data       []byte
	scale      int
	rows, cols []int
}

// photoCases are the photos of plasma-workspace-wallpapers among paths at
// full scale (exact) and at the scale ScaleFor picks (fast); the
// benchmark is skipped when the package is not installed.
func photoCases(b *testing.B, paths ...string) []photoCase {
	var out []photoCase
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Skip(err)
		}
		c, err := DecodeConfig(data)
		if err != nil {
			b.Fatal(err)
		}
		short := min(c.Width, c.Height)
		w, h := 256*c.Width/short, 256*c.Height/short
		for _, scale := range []int{1, ScaleFor(c.Width, c.Height, w, h)} {
			ow, oh := (c.Width+scale-1)/scale, (c.Height+scale-1)/scale
			out = append(out, photoCase{
				name:  fmt.Sprintf("%dx%d/scale%d", c.Width, c.Height, scale),
				data:  data,
				scale: scale,
				rows:  cropTaps(oh, h, (h-224)/2, (h+224)/2),
				cols:  cropTaps(ow, w, (w-224)/2, (w+224)/2),
			})
		}
	}
	return out
}

// benchDecodes runs one sub-benchmark per case and mode, in that order.
func benchDecodes(b *testing.B, cases []photoCase, modes []benchMode) {
	for _, c := range cases {
		for _, mode := range modes {
			b.Run(c.name+"/"+mode.name, func(b *testing.B) {
				opt := mode.opt
				opt.Scale, opt.Rows, opt.Cols = c.scale, c.rows, c.cols
				defer startCPU().report(b)
				for b.Loop() {
					if _, err := Decode(c.data, opt); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

type benchMode struct {
	name string
	opt  Options
}

// cropTaps is taps for the outputs lo to hi-1 only.
func cropTaps(n, m, lo, hi int) []int {
	return taps(n, m)[2*lo : 2*hi]
}

// decodeCase is one scale and region to decode a test image at.
type decodeCase struct {
	name string
	opt  Options // Scale, Rows and Cols
}

// decodeCases are, for an image of the given size, every scale with the
// whole image and with a sparse region (every 5th row, every 3rd column
// about).
func decodeCases(rng *rand.Rand, width, height int) []decodeCase {
	var out []decodeCase
	for _, s := range []int{1, 2, 4, 8} {
		w, h := (width+s-1)/s, (height+s-1)/s
		out = append(out,
			decodeCase{fmt.Sprintf("scale %d whole", s), Options{Scale: s}},
			decodeCase{fmt.Sprintf("scale %d sparse", s), Options{Scale: s, Rows: sparse(rng, h, 5), Cols: sparse(rng, w, 3)}})
	}
	return out
}

// damagedFail checks, for copies of each image cut or with a byte
// changed (see damaged), that decoding them at each scale with opt's
// options fails as the serial decode does or gives its planes, that at
// least 20 failed, and that no goroutine outlives a decode.
func damagedFail(t *testing.T, images []testImage, rng *rand.Rand, fracs []int, n, from int, scales []int, opt func(Options) Options) {
	t.Helper()
	before := runtime.NumGoroutine()
	failed := 0
	for _, ti := range images {
		for i, v := range damaged(rng, ti.data, fracs, n, from) {
			for _, s := range scales {
				if sameOutcome(t, fmt.Sprintf("%s variant %d", ti.name, i), v, s, opt) {
					failed++
				}
			}
		}
	}
	t.Logf("%d parallel decodes failed as the serial ones did", failed)
	if failed < 20 {
		t.Errorf("only %d damaged files failed to decode", failed)
	}
	waitGoroutines(t, before)
}

package jpeg

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// TestIDCT8RowsMatchesIDCT8 checks the row-selective IDCTs, scalar and
// AVX2, sample for sample against the whole scalar one, on blocks from
// sparse to dense, with coefficients up to what 16-bit quantization tables
// allow and beyond (the AVX2 one must then decline and write nothing),
// into a plane wider than the block.
func TestIDCT8RowsMatchesIDCT8(t *testing.T) {
	const stride = 13
	impls := []struct {
		name string
		run  func(blk *[64]int32, dst []byte, rows uint8) bool
	}{
		{"scalar", func(blk *[64]int32, dst []byte, rows uint8) bool {
			idct8Rows(blk, dst, stride, rows)
			return true
		}},
		{"wide", func(blk *[64]int32, dst []byte, rows uint8) bool {
			return idct8Wide(blk, dst, stride, rows)
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(15, 8))
			ran, declined := 0, 0
			for n := range 400 {
				var blk [64]int32
				nz := 1 + n%64
				amp := []int32{8, 200, 1100, 2000, 1 << 15, 1 << 24}[n%6]
				for range nz {
					blk[rng.IntN(64)] = rng.Int32N(2*amp+1) - amp
				}
				if n%50 == 49 {
					blk[rng.IntN(64)] = math.MinInt32
				}
				var want [8 * stride]byte
				idct8(&blk, want[:], stride)
				for rows := 1; rows < 256; rows++ {
					var got [8 * stride]byte
					for i := range got {
						got[i] = 0x5a
					}
					b := blk
					ok := impl.run(&b, got[:], uint8(rows))
					if b != blk {
						t.Fatalf("block %d rows %08b: the coefficients changed", n, rows)
					}
					if ok {
						ran++
					} else {
						declined++
					}
					for r := range 8 {
						for c := range stride {
							g, w := got[r*stride+c], want[r*stride+c]
							if !ok || rows>>r&1 == 0 || c >= 8 {
								w = 0x5a // not asked for, or declined: left alone
							}
							if g != w {
								t.Fatalf("block %d rows %08b (ran %v): sample (%d,%d) = %d, want %d", n, rows, ok, r, c, g, w)
							}
						}
					}
				}
			}
			t.Logf("%d blocks transformed, %d declined", ran, declined)
			if impl.name == "wide" && hasIDCT8Wide() && (ran == 0 || declined == 0) {
				t.Errorf("AVX2 IDCT transformed %d and declined %d blocks; the test should see both", ran, declined)
			}
		})
	}
}

// TestDecodeRowsCols checks that a decode limited to Options.Rows and Cols
// gives, at every listed pixel, the samples a full decode gives there,
// including the chroma neighbours an upsampling filter reads.
func TestDecodeRowsCols(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 9))
	for _, ti := range testImages(t) {
		for _, s := range []int{1, 2, 4, 8} {
			t.Run(fmt.Sprintf("%s/%d", ti.name, s), func(t *testing.T) {
				full, err := Decode(ti.data, Options{Scale: s})
				if err != nil {
					t.Fatal(err)
				}
				b := full.Bounds()
				for _, pick := range []func(n int) []int{
					func(n int) []int { return []int{0, n - 1} },
					func(n int) []int { return sparse(rng, n, 7) },
					func(n int) []int { return sparse(rng, n, 2) },
				} {
					rows, cols := pick(b.Dy()), pick(b.Dx())
					// Out-of-range positions are ignored.
					rows = append(rows, -1, b.Dy())
					got, err := Decode(ti.data, Options{Scale: s, Rows: rows, Cols: cols})
					if err != nil {
						t.Fatal(err)
					}
					checkRegion(t, got, full, rows, cols)
				}
			})
		}
	}
}

// sparse picks about one position in every k of n, in pairs of neighbours
// as a bilinear resize's taps come, in random order.
func sparse(rng *rand.Rand, n, k int) []int {
	var out []int
	for p := rng.IntN(k); p < n; p += 1 + rng.IntN(2*k) {
		out = append(out, p)
		if p+1 < n {
			out = append(out, p+1)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func checkRegion(t *testing.T, got, want image.Image, rows, cols []int) {
	t.Helper()
	b := want.Bounds()
	in := func(p, n int) bool { return p >= 0 && p < n }
	switch w := want.(type) {
	case *image.YCbCr:
		g := got.(*image.YCbCr)
		sh := map[image.YCbCrSubsampleRatio][2]int{
			image.YCbCrSubsampleRatio444: {0, 0}, image.YCbCrSubsampleRatio422: {1, 0},
			image.YCbCrSubsampleRatio420: {1, 1}, image.YCbCrSubsampleRatio440: {0, 1},
			image.YCbCrSubsampleRatio411: {2, 0}, image.YCbCrSubsampleRatio410: {2, 1},
		}[w.SubsampleRatio]
		hs, vs := sh[0], sh[1]
		cw, ch := (b.Dx()-1)>>hs+1, (b.Dy()-1)>>vs+1
		for _, y := range rows {
			for _, x := range cols {
				if !in(x, b.Dx()) || !in(y, b.Dy()) {
					continue
				}
				if i := w.YOffset(x, y); g.Y[i] != w.Y[i] {
					t.Fatalf("Y(%d,%d) = %d, want %d", x, y, g.Y[i], w.Y[i])
				}
				for dy := -min(vs, 1); dy <= min(vs, 1); dy++ {
					for dx := -min(hs, 1); dx <= min(hs, 1); dx++ {
						cx, cy := x>>hs+dx, y>>vs+dy
						if !in(cx, cw) || !in(cy, ch) {
							continue
						}
						i := cy*w.CStride + cx
						if g.Cb[i] != w.Cb[i] || g.Cr[i] != w.Cr[i] {
							t.Fatalf("chroma (%d,%d) for pixel (%d,%d) = %d,%d, want %d,%d", cx, cy, x, y, g.Cb[i], g.Cr[i], w.Cb[i], w.Cr[i])
						}
					}
				}
			}
		}
	default:
		for _, y := range rows {
			for _, x := range cols {
				if !in(x, b.Dx()) || !in(y, b.Dy()) {
					continue
				}
				if gc, wc := got.At(x, y), want.At(x, y); gc != wc {
					t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, gc, wc)
				}
			}
		}
	}
}

// TestProgressiveNonzeroMask checks the invariant EOB-run refinement relies
// on: after every scan, a block's mask marks exactly its nonzero AC
// coefficients.
func TestProgressiveNonzeroMask(t *testing.T) {
	for _, ti := range testImages(t) {
		d := &decoder{data: ti.data, scale: 1}
		if err := d.parse(false); err != nil {
			t.Fatal(err)
		}
		if !d.progressive {
			continue
		}
		for ci := 0; ci < d.ncomp; ci++ {
			c := &d.comp[ci]
			for i := range c.nz {
				var want uint64
				for k, v := range c.coef[i*64+1 : i*64+64] {
					if v != 0 {
						want |= 1 << uint(k+1)
					}
				}
				if got := c.nz[i] &^ 1; got != want {
					t.Fatalf("%s component %d block %d: mask %064b, want %064b", ti.name, ci, i, got, want)
				}
			}
		}
	}
}

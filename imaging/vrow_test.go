package imaging

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lcnet/lcnet/arch"
)

// TestVrowWide checks that vrow gives the same bits with vrowWide as with
// the scalar loop alone, over lengths around the vector width, output
// rows and planes that start off any alignment, RGB and BGR, the weights
// a resize gives and any weights, and packed rows up to full 21-bit lanes
// (which reach the clamp at 255).
func TestVrowWide(t *testing.T) {
	if !hasWide() {
		t.Skip("no AVX2: vrow runs the scalar loop only")
	}
	params := []arch.Preprocess{
		{Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}},
		{Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}, ChannelOrder: "BGR", Scale: 1},
		{Mean: [3]float64{123.675, 116.28, 103.53}, Std: [3]float64{58.395, 57.12, 57.375}, Scale: 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lane := func(full bool) uint64 {
		if full {
			return rng.Uint64N(1 << laneBits)
		}
		return rng.Uint64N(256) * rng.Uint64N(coefScale+1) // a horizontal pass's range
	}
	for pi, p := range params {
		pp, err := NewPreprocessor(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{1, 7, 8, 9, 15, 16, 17, 23, 31, 33, 160, 333} {
			for _, off := range []int{0, 1, 3} {
				for _, full := range []bool{false, true} {
					h := 3
					rows := make([][]uint64, 2)
					for i := range rows {
						rows[i] = make([]uint64, off+w)
						for x := range rows[i] {
							rows[i][x] = lane(full) | lane(full)<<laneBits | lane(full)<<(2*laneBits)
						}
						rows[i] = rows[i][off:]
					}
					b0 := int32(rng.IntN(coefScale + 1))
					b1 := int32(coefScale) - b0
					if full {
						b1 = int32(rng.IntN(coefScale + 1))
					}
					want := make([]float32, off+3*h*w)
					got := make([]float32, off+3*h*w)
					pp.wide = false
					pp.vrow(want[off:], 1, w, h, rows[0], rows[1], b0, b1)
					pp.wide = true
					pp.vrow(got[off:], 1, w, h, rows[0], rows[1], b0, b1)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("params %d, w %d, offset %d, full lanes %v, weights %d %d: element %d is %v, want %v",
								pi, w, off, full, b0, b1, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

// BenchmarkVrow times one output row of the text-line model's 160-pixel
// width, with and without vrowWide.
func BenchmarkVrow(b *testing.B) {
	pp, err := NewPreprocessor(arch.Preprocess{Mean: [3]float64{0.485, 0.456, 0.406}, Std: [3]float64{0.229, 0.224, 0.225}})
	if err != nil {
		b.Fatal(err)
	}
	const w, h = 160, 80
	r0, r1 := make([]uint64, w), make([]uint64, w)
	for x := range w {
		r0[x] = pack(uint8(x), uint8(2*x), uint8(3*x)) * 1024
		r1[x] = pack(uint8(3*x), uint8(x), uint8(2*x)) * 1024
	}
	tensor := make([]float32, 3*w*h)
	for _, wide := range []bool{false, true} {
		if wide && !hasWide() {
			continue
		}
		b.Run(fmt.Sprintf("wide=%v", wide), func(b *testing.B) {
			pp.wide = wide
			for i := 0; b.Loop(); i++ {
				pp.vrow(tensor, i%h, w, h, r0, r1, 1024, 1024)
			}
		})
	}
}

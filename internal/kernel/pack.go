package kernel

import (
	"fmt"

	"github.com/x448/float16"
)

// Packed is a weight matrix M (output channels) x K (inputs), packed once
// at load: Stride(M)/16 panels of 16 output channels, each stored k-major
// (panel[k*16+j] = w[16*p+j][k]), zero beyond M. It is stored as fp32 or,
// with half, as IEEE fp16 and widened per panel or inside the kernel.
// A Packed is immutable and safe to share between goroutines.
type Packed struct {
	m, k int
	f32  []float32 // panels, when !half
	f16  []uint16  // panels, when half
}

// Pack packs w (m x k, row-major) for Gemm. With half the values are
// rounded to fp16 (round to nearest even; beyond ±65504 to ±Inf).
func Pack(w []float32, m, k int, half bool) *Packed {
	if m <= 0 || k <= 0 || len(w) != m*k {
		panic(fmt.Sprintf("kernel.Pack: %d weights for a %d x %d matrix", len(w), m, k))
	}
	p := &Packed{m: m, k: k}
	n := Stride(m) * k
	if half {
		p.f16 = make([]uint16, n)
	} else {
		p.f32 = make([]float32, n)
	}
	for i := 0; i < m; i++ {
		base := (i/lanes)*lanes*k + i%lanes
		for kk, v := range w[i*k : (i+1)*k] {
			if half {
				p.f16[base+kk*lanes] = toHalf(v)
			} else {
				p.f32[base+kk*lanes] = v
			}
		}
	}
	return p
}

// PackTaps lays out m filters of taps values each (w is m x taps, as a
// depthwise [C][1][k][k] or stem [M][cin][k][k] weight stores them) tap-major
// for Depthwise and Stem: out[t*Stride(m)+j] = w[j*taps+t], zero for
// j >= m.
func PackTaps(w []float32, m, taps int) []float32 {
	if m <= 0 || taps <= 0 || len(w) != m*taps {
		panic(fmt.Sprintf("kernel.PackTaps: %d weights for %d filters of %d taps", len(w), m, taps))
	}
	cs := Stride(m)
	out := make([]float32, taps*cs)
	for j := 0; j < m; j++ {
		for t := 0; t < taps; t++ {
			out[t*cs+j] = w[j*taps+t]
		}
	}
	return out
}

// PadBias returns b zero-padded to Stride(len(b)) values, as every kernel
// reads bias for the padding channels too.
func PadBias(b []float32) []float32 {
	out := make([]float32, Stride(len(b)))
	copy(out, b)
	return out
}

// M is the number of rows (output channels).
func (p *Packed) M() int { return p.m }

// K is the number of columns (inputs).
func (p *Packed) K() int { return p.k }

// Half reports whether the weights are stored as fp16.
func (p *Packed) Half() bool { return p.f16 != nil }

// SizeBytes is the resident size of the packed weights.
func (p *Packed) SizeBytes() int { return len(p.f32)*4 + len(p.f16)*2 }

func (p *Packed) panels() int { return Stride(p.m) / lanes }

// toHalf rounds f to the nearest IEEE 754 binary16 (ties to even).
func toHalf(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// fromHalf widens an IEEE 754 binary16 to float32 exactly; the F16C and
// AVX-512 paths in this package do the same in bulk.
func fromHalf(h uint16) float32 { return float16.Frombits(h).Float32() }

package imaging

import (
	"bytes"
	"fmt"
	"hash/adler32"
	"math/rand/v2"
	"testing"
)

// TestAdlerUpdate compares adlerUpdate, with and without AVX2, with
// hash/adler32 over lengths around the chunk and block sizes, from
// unaligned starts, on random bytes and on all 0xff (the largest sums),
// in one call and in uneven pieces.
func TestAdlerUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	data := make([]byte, 3*adlerBlock+100)
	for i := range data {
		data[i] = byte(rng.IntN(256))
	}
	ones := bytes.Repeat([]byte{0xff}, len(data))
	var lengths []int
	for n := range 70 {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 961, adlerBlock-1, adlerBlock, adlerBlock+1, adlerBlock+31, adlerBlock+32, 2*adlerBlock+5, 3*adlerBlock)
	for _, wide := range []bool{false, true} {
		if wide && !hasWide() {
			continue
		}
		for _, src := range [][]byte{data, ones} {
			for _, n := range lengths {
				for _, off := range []int{0, 1, 7} {
					p := src[off : off+n]
					want := adler32.Checksum(p)
					if got := adlerUpdate(1, p, wide); got != want {
						t.Fatalf("wide %v, %d bytes at %d: %08x, want %08x", wide, n, off, got, want)
					}
					a := uint32(1)
					for rest := p; len(rest) > 0; {
						k := min(len(rest), 1+rng.IntN(100))
						a, rest = adlerUpdate(a, rest[:k], wide), rest[k:]
					}
					if a != want {
						t.Fatalf("wide %v, %d bytes at %d in pieces: %08x, want %08x", wide, n, off, a, want)
					}
				}
			}
		}
	}
}

// BenchmarkAdler sums the text line's 46128 inflated bytes.
func BenchmarkAdler(b *testing.B) {
	p := make([]byte, 46128)
	for i := range p {
		p[i] = byte(i * 7)
	}
	b.Run("hash/adler32", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			adler32.Checksum(p)
		}
	})
	for _, wide := range []bool{false, true} {
		if wide && !hasWide() {
			continue
		}
		b.Run(fmt.Sprintf("wide=%v", wide), func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			for b.Loop() {
				adlerUpdate(1, p, wide)
			}
		})
	}
}

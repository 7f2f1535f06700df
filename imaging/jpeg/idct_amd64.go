//go:build amd64 && !purego

package jpeg

import (
	"math/bits"

	"golang.org/x/sys/cpu"
)

// idct8AVX2 is idct8 on the sample rows set in rows (its low 8 bits). It
// returns false, having written nothing, for a block whose coefficients
// or first-pass values exceed 32767 in magnitude: there its int32 lanes
// could overflow where idct8's int does not, so the caller runs idct8.
//
//go:noescape
func idct8AVX2(blk *[64]int32, dst *byte, stride int, rows uint64) bool

// idct8Wide runs idct8AVX2 where the CPU has AVX2 and reports whether it
// did. The slicing makes a dst too short for the last row a panic, as in
// idct8.
func idct8Wide(blk *[64]int32, dst []byte, stride int, rows uint8) bool {
	if !hasIDCT8Wide() {
		return false
	}
	last := bits.Len8(rows) - 1
	_ = dst[last*stride+7]
	return idct8AVX2(blk, &dst[0], stride, uint64(rows))
}

// hasIDCT8Wide reports whether idct8Wide can run here.
func hasIDCT8Wide() bool { return cpu.X86.HasAVX2 }

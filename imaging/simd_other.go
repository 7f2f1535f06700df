//go:build !amd64 || purego

package imaging

// hasWide reports whether the AVX2 routines run here: only on amd64.
func hasWide() bool { return false }

// vrowWide is never called where hasWide is false; it does no pixels.
func vrowWide(_, _, _ []float32, _, _ []uint64, _, _ uint64, _ *wideNorm) int { return 0 }

// spanWide is never called where hasWide is false; it does no pixels.
func spanWide(_ []byte, _ int, _ []uint64) int { return 0 }

// adlerWide is never called where hasWide is false; it takes no bytes.
func adlerWide(s1, s2 uint32, _ []byte) (uint32, uint32, int) { return s1, s2, 0 }

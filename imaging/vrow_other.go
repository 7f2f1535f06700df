//go:build !amd64 || purego

package imaging

// hasWide reports whether vrowWide runs here: only on amd64.
func hasWide() bool { return false }

// vrowWide is never called where hasWide is false; it does no pixels.
func vrowWide(_, _, _ []float32, _, _ []uint64, _, _ uint64, _ *wideNorm) int { return 0 }

// spanWide is never called where hasWide is false; it does no pixels.
func spanWide(_ []byte, _ int, _ []uint64) int { return 0 }

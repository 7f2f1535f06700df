//go:build amd64 && !purego

package kernel

// Placeholders until the assembly GEMM kernels land: the generic tiles.
const (
	mrAVX2   = 4
	mrAVX512 = 4
)

var (
	tile16AVX2   = tileGeneric(1)
	tile16AVX512 = tileGeneric(1)
	tile32AVX512 = tileGeneric(2)
	gemvAVX2     = gemvGeneric
	gemv16AVX2   = gemv16Generic
	gemvAVX512   = gemvGeneric
	gemv16AVX512 = gemv16Generic
)

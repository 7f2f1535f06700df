//go:build amd64 && !purego

package kernel

// Placeholders until the assembly row kernels land: the generic rows.
var (
	dwRowAVX2     = dwRowGeneric
	stemRowAVX2   = stemRowGeneric
	dwRowAVX512   = dwRowGeneric
	stemRowAVX512 = stemRowGeneric
)

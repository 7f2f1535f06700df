// Package vecs holds the small vector measures the numerical tests compare
// outputs with: cosine similarity, argmax and the largest magnitude. It
// exists so the nn, cmd/lcnet and e2e tests share one definition of each.
package vecs

import "math"

// Float is the element types the measures accept.
type Float interface{ ~float32 | ~float64 }

// Cosine is the cosine similarity of a and b (len(b) values), accumulated
// in float64.
func Cosine[A, B Float](a []A, b []B) float64 {
	var ab, aa, bb float64
	for i := range b {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	return ab / math.Sqrt(aa*bb)
}

// Argmax is the index of the first largest value of x (0 for an empty x).
func Argmax[T Float](x []T) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// MaxAbs is the largest |x[i]| (0 for an empty x).
func MaxAbs[T Float](x []T) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

package vecs

import (
	"math"
	"testing"
)

func TestMeasures(t *testing.T) {
	tests := []struct {
		a       []float32
		b       []float64
		cos     float64
		arg     int
		maxAbsA float64
	}{
		{[]float32{1, 0}, []float64{1, 0}, 1, 0, 1},
		{[]float32{1, 0}, []float64{0, 2}, 0, 0, 1},
		{[]float32{-3, 2, 2}, []float64{3, -2, -2}, -1, 1, 3},
	}
	for _, tc := range tests {
		if got := Cosine(tc.a, tc.b); math.Abs(got-tc.cos) > 1e-12 {
			t.Errorf("Cosine(%v, %v) = %g, want %g", tc.a, tc.b, got, tc.cos)
		}
		if got := Argmax(tc.a); got != tc.arg {
			t.Errorf("Argmax(%v) = %d, want %d", tc.a, got, tc.arg)
		}
		if got := MaxAbs(tc.a); got != tc.maxAbsA {
			t.Errorf("MaxAbs(%v) = %g, want %g", tc.a, got, tc.maxAbsA)
		}
	}
}

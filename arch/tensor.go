package arch

import "fmt"

// Tensor is a dense float32 tensor in row-major order, as the converters
// read it from Paddle files (fp16 and fp64 are widened or narrowed on read).
// It is the exchange type between convert, zoo and nn.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NumElements is the product of the shape (1 for a scalar).
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Check reports whether Data holds exactly as many values as Shape says.
func (t Tensor) Check() error {
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
	}
	if n := t.NumElements(); n != len(t.Data) {
		return fmt.Errorf("shape %v needs %d values, have %d", t.Shape, n, len(t.Data))
	}
	return nil
}

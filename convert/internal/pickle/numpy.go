package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/x448/float16"
)

// Floats converts a numpy array to float32 values in C order, with its
// shape; float16 and float64 are widened or narrowed.
func (a *Array) Floats() (shape []int, data []float32, err error) {
	n, err := a.NumElements()
	if err != nil {
		return nil, nil, err
	}
	kind, size, order, err := a.dtype.parse()
	if err != nil {
		return nil, nil, err
	}
	data, err = decodeFloats(a.raw, kind, size, order, n)
	if err != nil {
		return nil, nil, fmt.Errorf("dtype %s: %w", a.dtype.str, err)
	}
	shape = append([]int{}, a.shape...)
	if a.fortran && len(shape) > 1 {
		data = fortranToC(data, shape)
	}
	return shape, data, nil
}

// NumElements is the number of values the array holds, after checking
// that its data fills its shape: what Floats will allocate, known before
// anything is decoded.
func (a *Array) NumElements() (int, error) {
	if !a.filled || a.dtype == nil {
		return 0, errors.New("array was never given its data")
	}
	_, size, _, err := a.dtype.parse()
	if err != nil {
		return 0, err
	}
	n := 1
	for _, d := range a.shape {
		if d != 0 && n > math.MaxInt32/d {
			return 0, fmt.Errorf("shape %v is too large", a.shape)
		}
		n *= d
	}
	if len(a.raw) != n*size {
		return 0, fmt.Errorf("shape %v of %s needs %d bytes, the data has %d", a.shape, Short(a.dtype.str), n*size, len(a.raw))
	}
	return n, nil
}

// Shape is the array's shape; callers must not change it.
func (a *Array) Shape() []int { return a.shape }

// parse splits a numpy dtype string such as "<f4" into kind, size and byte
// order.
func (d *npDtype) parse() (kind byte, size int, order binary.ByteOrder, err error) {
	s := d.str
	bo := d.byteOrder
	if len(s) > 0 && strings.IndexByte("<>|=", s[0]) >= 0 {
		bo = s[0]
		s = s[1:]
	}
	switch s {
	case "f2", "float16", "e":
		kind, size = 'f', 2
	case "f4", "float32", "f":
		kind, size = 'f', 4
	case "f8", "float64", "d":
		kind, size = 'f', 8
	default:
		return 0, 0, nil, fmt.Errorf("unsupported dtype %s: want float16, float32 or float64", Short(d.str))
	}
	order = binary.LittleEndian
	if bo == '>' {
		order = binary.BigEndian
	}
	return kind, size, order, nil
}

// decodeFloats decodes n IEEE floats of size bytes (2, 4 or 8) in order;
// kind must be 'f', as numpy's dtype strings spell floats.
func decodeFloats(raw []byte, kind byte, size int, order binary.ByteOrder, n int) ([]float32, error) {
	if kind != 'f' {
		return nil, fmt.Errorf("unsupported kind %q", kind)
	}
	out := make([]float32, n)
	switch size {
	case 2:
		for i := range out {
			out[i] = float16.Frombits(order.Uint16(raw[2*i:])).Float32()
		}
	case 4:
		for i := range out {
			out[i] = math.Float32frombits(order.Uint32(raw[4*i:]))
		}
	case 8:
		for i := range out {
			out[i] = float32(math.Float64frombits(order.Uint64(raw[8*i:])))
		}
	default:
		return nil, fmt.Errorf("unsupported float size %d", size)
	}
	return out, nil
}

// fortranToC reorders column-major data to row-major.
func fortranToC(src []float32, shape []int) []float32 {
	dst := make([]float32, len(src))
	nd := len(shape)
	idx := make([]int, nd)
	// Fortran strides: first axis varies fastest.
	fstride := make([]int, nd)
	s := 1
	for i := 0; i < nd; i++ {
		fstride[i] = s
		s *= shape[i]
	}
	for c := range dst {
		off := 0
		for i := 0; i < nd; i++ {
			off += idx[i] * fstride[i]
		}
		dst[c] = src[off]
		for i := nd - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < shape[i] {
				break
			}
			idx[i] = 0
		}
	}
	return dst
}

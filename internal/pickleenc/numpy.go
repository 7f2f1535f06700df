package pickleenc

import (
	"encoding/binary"
	"fmt"
	"math"
)

// numpyModule is where _reconstruct lives for numpy 1.x. numpy 2.x writes
// numpy._core.multiarray, which numpy 1.x cannot import, while numpy 2.x
// still imports the 1.x name: this one loads under both.
const numpyModule = "numpy.core.multiarray"

// numpyRefs are the memo entries every array after the first reuses, as
// CPython's pickler reuses the same objects: the ndarray class, the b"b"
// of _reconstruct's arguments and the float32 dtype.
type numpyRefs struct {
	typeCode, float32Type         Ref // b"b"; numpy.dtype("f4") after __setstate__
	haveTypeCode, haveFloat32Type bool
}

// maxDims bounds an array's rank; numpy's own limit is 64.
const maxDims = 64

// chunkFloats is how many values go through the scratch buffer at a time.
const chunkFloats = 16 << 10

// Float32Array pushes a little-endian float32 numpy.ndarray of the given
// shape in C order, exactly as numpy's __reduce__ pickles one under
// protocol 4: _reconstruct(ndarray, (0,), b"b") followed by __setstate__
// with (1, shape, dtype("<f4"), False, data). data is read, never kept.
func (e *Encoder) Float32Array(shape []int, data []float32) {
	if len(shape) > maxDims {
		e.fail(fmt.Errorf("pickle: array of %d dimensions, numpy allows %d", len(shape), maxDims))
		return
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt/4/d) {
			e.fail(fmt.Errorf("pickle: invalid array shape %v", shape))
			return
		}
		n *= d
	}
	if n != len(data) {
		e.fail(fmt.Errorf("pickle: shape %v needs %d values, have %d", shape, n, len(data)))
		return
	}

	e.Global(numpyModule, "_reconstruct")
	e.Global("numpy", "ndarray")
	e.Int(0)
	e.Tuple(1)
	if e.numpy.haveTypeCode {
		e.Get(e.numpy.typeCode)
	} else {
		e.numpy.typeCode, e.numpy.haveTypeCode = e.Bytes([]byte("b")), true
	}
	e.Tuple(3)
	e.Reduce()

	e.Mark()
	e.Int(1) // the state's version
	if len(shape) > 3 {
		e.Mark()
	}
	for _, d := range shape {
		e.Int(int64(d))
	}
	e.Tuple(len(shape))
	e.float32Dtype()
	e.Bool(false) // C order, not Fortran
	e.float32Bytes(data)
	e.Tuple(5)
	e.Build()
}

// float32Dtype pushes numpy.dtype("f4") in little-endian order: the
// first time built as dtype("f4", False, True) with the state
// (3, "<", None, None, None, -1, -1, 0), after that from the memo.
func (e *Encoder) float32Dtype() {
	if e.numpy.haveFloat32Type {
		e.Get(e.numpy.float32Type)
		return
	}
	e.Global("numpy", "dtype")
	e.String("f4")
	e.Bool(false)
	e.Bool(true)
	e.Tuple(3)
	e.numpy.float32Type = e.Reduce()
	e.Mark()
	e.Int(3)
	e.String("<")
	e.None()
	e.None()
	e.None()
	e.Int(-1)
	e.Int(-1)
	e.Int(0)
	e.Tuple(8)
	e.Build()
	e.numpy.haveFloat32Type = true
}

// float32Bytes pushes data as a bytes object of its little-endian values,
// converting through a small scratch buffer.
func (e *Encoder) float32Bytes(data []float32) {
	e.bytesHeader(4 * len(data))
	if e.scratch == nil {
		e.scratch = make([]byte, 4*chunkFloats)
	}
	for len(data) > 0 && e.err == nil {
		k := min(len(data), chunkFloats)
		buf := e.scratch[:4*k]
		for i, v := range data[:k] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		e.bytesBody(buf)
		data = data[k:]
	}
	e.Memoize()
}

package convert

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/x448/float16"
)

// structuredKey is the entry paddle.save adds to a state dict: a dict from
// structured name to static name, not a tensor.
const structuredKey = "StructuredToParameterName@@"

// namePrefixes are the wrappers some exports put around the backbone
// (PaddleClas' RecModel, distillation students).
var namePrefixes = []string{"base_model.", "backbone.", "student."}

// StripPrefix removes one known wrapper prefix from a structured name.
func StripPrefix(name string) string {
	for _, p := range namePrefixes {
		if s, ok := strings.CutPrefix(name, p); ok {
			return s
		}
	}
	return name
}

// ReadPdparams reads a dygraph checkpoint (paddle.save of a state dict) and
// returns its tensors by structured name, with wrapper prefixes stripped and
// every value converted to float32. Entries that are not arrays (such as
// StructuredToParameterName@@) are skipped.
func ReadPdparams(r io.Reader) (map[string]arch.Tensor, error) {
	data, err := readAllSized(r)
	if err != nil {
		return nil, fmt.Errorf("pdparams: %w", err)
	}
	return decodePdparams(data)
}

func decodePdparams(data []byte) (map[string]arch.Tensor, error) {
	obj, err := unpickle(data)
	if err != nil {
		return nil, fmt.Errorf("pdparams: %w", err)
	}
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("pdparams: the pickle holds a %s, want a dict of arrays", typeName(obj))
	}
	out := make(map[string]arch.Tensor, len(d.keys))
	from := make(map[string]string, len(d.keys))
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("pdparams: key %v is a %s, want a tensor name", k, typeName(k))
		}
		v := d.vals[i]
		if t, ok := v.(pyTuple); ok && len(t) == 2 {
			// Paddle 2.0 pickles a Tensor as (static name, ndarray).
			if _, named := t[0].(string); named {
				v = t[1]
			}
		}
		arr, ok := v.(*npArray)
		if !ok {
			// StructuredToParameterName@@ and any other bookkeeping.
			continue
		}
		t, err := arr.tensor()
		if err != nil {
			return nil, fmt.Errorf("pdparams: tensor %q: %w", name, err)
		}
		short := StripPrefix(name)
		if prev, dup := from[short]; dup {
			return nil, fmt.Errorf("pdparams: tensors %q and %q both map to %q", prev, name, short)
		}
		from[short] = name
		out[short] = t
	}
	if len(out) == 0 {
		return nil, errors.New("pdparams: the checkpoint holds no arrays")
	}
	return out, nil
}

// readAllSized reads r completely, allocating once when the size is known
// (files), so a 36 MB checkpoint costs 36 MB and not the doubling of
// io.ReadAll.
func readAllSized(r io.Reader) ([]byte, error) {
	var size int64 = -1
	switch f := r.(type) {
	case *os.File:
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil {
				size = st.Size() - off
			}
		}
	case interface{ Len() int }:
		size = int64(f.Len())
	case interface{ Size() int64 }:
		size = f.Size()
	}
	if size < 0 {
		return io.ReadAll(r)
	}
	var buf bytes.Buffer
	// One byte more than the size, so ReadFrom sees EOF without growing.
	buf.Grow(int(size) + 1)
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tensor converts a numpy array to a float32 tensor in C order.
func (a *npArray) tensor() (arch.Tensor, error) {
	if !a.filled || a.dtype == nil {
		return arch.Tensor{}, errors.New("array was never given its data")
	}
	kind, size, order, err := a.dtype.parse()
	if err != nil {
		return arch.Tensor{}, err
	}
	n := 1
	for _, d := range a.shape {
		if d != 0 && n > math.MaxInt32/d {
			return arch.Tensor{}, fmt.Errorf("shape %v is too large", a.shape)
		}
		n *= d
	}
	if len(a.raw) != n*size {
		return arch.Tensor{}, fmt.Errorf("shape %v of %s needs %d bytes, the data has %d", a.shape, a.dtype.str, n*size, len(a.raw))
	}
	data, err := decodeFloats(a.raw, kind, size, order, n)
	if err != nil {
		return arch.Tensor{}, fmt.Errorf("dtype %s: %w", a.dtype.str, err)
	}
	shape := append([]int{}, a.shape...)
	if a.fortran && len(shape) > 1 {
		data = fortranToC(data, shape)
	}
	return arch.Tensor{Shape: shape, Data: data}, nil
}

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
		return 0, 0, nil, fmt.Errorf("unsupported dtype %q: want float16, float32 or float64", d.str)
	}
	order = binary.LittleEndian
	if bo == '>' {
		order = binary.BigEndian
	}
	return kind, size, order, nil
}

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

// sortedNames returns the keys of m in byte-wise order.
func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

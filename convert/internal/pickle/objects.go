package pickle

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

func setItems(d *Dict, items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// decodeLong decodes a little-endian two's-complement integer; it returns
// an int64 when it fits and a *big.Int otherwise.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

// call applies an allowlisted global to its arguments.
func (u *unpickler) call(fn any, args Tuple) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", TypeName(fn))
	}
	switch g.String() {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, errors.New("OrderedDict with arguments is not supported")
		}
		return newDict(), nil
	case "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct":
		// _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills.
		if len(args) < 1 || args[0] != (pyGlobal{"numpy", "ndarray"}) {
			return nil, fmt.Errorf("%s of something other than numpy.ndarray", g)
		}
		return &Array{}, nil
	case "numpy.dtype":
		if len(args) < 1 {
			return nil, errors.New("numpy.dtype without arguments")
		}
		s, ok := asString(args[0])
		if !ok {
			return nil, fmt.Errorf("numpy.dtype of a %s", TypeName(args[0]))
		}
		if err := u.copyBytes(len(s)); err != nil {
			return nil, err
		}
		return &npDtype{str: s, byteOrder: '='}, nil
	case "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer":
		// _frombuffer(buffer, dtype, shape, order), protocol 5's form.
		if len(args) != 4 {
			return nil, fmt.Errorf("%s with %d arguments, want 4", g, len(args))
		}
		buf, ok := args[0].([]byte)
		dt, ok2 := args[1].(*npDtype)
		if !ok || !ok2 {
			return nil, fmt.Errorf("%s(%s, %s, ...): want bytes and a dtype", g, TypeName(args[0]), TypeName(args[1]))
		}
		shape, err := asShape(args[2])
		if err != nil {
			return nil, err
		}
		order, _ := asString(args[3])
		return &Array{shape: shape, dtype: dt, fortran: order == "F", raw: buf, filled: true}, nil
	case "_codecs.encode":
		// codecs.encode(str, "latin1"): how protocol 2 spells bytes.
		if len(args) != 2 {
			return nil, fmt.Errorf("_codecs.encode with %d arguments, want 2", len(args))
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
			return nil, fmt.Errorf("_codecs.encode(%s, %s) is not bytes in latin1", TypeName(args[0]), Short(args[1]))
		}
		if err := u.copyBytes(len(s)); err != nil {
			return nil, err
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("_codecs.encode: rune %U is not latin1", r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "builtins.tuple", "__builtin__.tuple":
		if len(args) == 0 {
			return Tuple{}, nil
		}
		switch it := args[0].(type) {
		case Tuple:
			return it, nil
		case *List:
			return Tuple(it.items), nil
		}
		return nil, fmt.Errorf("%s(%s) is not supported", g, TypeName(args[0]))
	case "builtins.bytes", "__builtin__.bytes", "builtins.bytearray", "__builtin__.bytearray":
		if len(args) == 0 {
			return []byte{}, nil
		}
		if b, ok := args[0].([]byte); ok && len(args) == 1 {
			return b, nil
		}
		return nil, fmt.Errorf("%s(%s) is not supported", g, TypeName(args[0]))
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

// build applies BUILD's state to obj (numpy's __setstate__, or a dict update).
func (u *unpickler) build(obj, state any) error {
	switch o := obj.(type) {
	case *npDtype:
		// (version, byteorder, subarray, names, fields, elsize, alignment, flags)
		t, ok := state.(Tuple)
		if !ok || len(t) < 2 {
			return fmt.Errorf("dtype state is a %s, want a tuple", TypeName(state))
		}
		bo, ok := t[1].(string)
		if !ok || len(bo) != 1 {
			return fmt.Errorf("dtype byte order %s", Short(t[1]))
		}
		if len(t) > 3 && t[3] != nil {
			return errors.New("structured dtypes are not supported")
		}
		o.byteOrder = bo[0]
		return nil
	case *Array:
		// (version, shape, dtype, is_fortran, rawdata), version optional.
		t, ok := state.(Tuple)
		if !ok {
			return fmt.Errorf("ndarray state is a %s, want a tuple", TypeName(state))
		}
		if len(t) == 5 {
			t = t[1:]
		}
		if len(t) != 4 {
			return fmt.Errorf("ndarray state has %d fields, want 4 or 5", len(t))
		}
		shape, err := asShape(t[0])
		if err != nil {
			return err
		}
		dt, ok := t[1].(*npDtype)
		if !ok {
			return fmt.Errorf("ndarray dtype is a %s", TypeName(t[1]))
		}
		fortran, _ := t[2].(bool)
		raw, ok := t[3].([]byte)
		if !ok {
			return fmt.Errorf("ndarray data is a %s, not raw bytes (object arrays are not supported)", TypeName(t[3]))
		}
		o.shape, o.dtype, o.fortran, o.raw, o.filled = shape, dt, fortran, raw, true
		return nil
	case *Dict:
		d, ok := state.(*Dict)
		if !ok {
			return fmt.Errorf("dict state is a %s", TypeName(state))
		}
		if err := u.addItems(len(d.Keys)); err != nil {
			return err
		}
		for i, k := range d.Keys {
			if err := o.set(k, d.Vals[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("BUILD on a %s", TypeName(obj))
}

func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

func asShape(v any) ([]int, error) {
	var items []any
	switch t := v.(type) {
	case Tuple:
		items = t
	case *List:
		items = t.items
	default:
		return nil, fmt.Errorf("shape is a %s, want a tuple", TypeName(v))
	}
	// numpy allows 64 dimensions; weights have at most 4.
	const maxRank = 8
	if len(items) > maxRank {
		return nil, fmt.Errorf("shape has %d dimensions, at most %d are supported", len(items), maxRank)
	}
	shape := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("bad dimension %s in shape", Short(it))
		}
		shape[i] = int(n)
	}
	return shape, nil
}

// Short renders a value from a pickle for an error message: numbers in
// full, strings and bytes cut to their first 64 bytes, anything else by
// its type, since a hostile pickle can make any of them gigabytes long.
func Short(v any) string {
	const keep = 64
	clip := func(s string) string {
		if len(s) <= keep {
			return fmt.Sprintf("%q", s)
		}
		return fmt.Sprintf("%q... (%d bytes)", s[:keep], len(s))
	}
	switch vv := v.(type) {
	case string:
		return clip(vv)
	case []byte:
		return clip(string(vv[:min(len(vv), keep+1)]))
	case int64, float64, bool, nil:
		return fmt.Sprint(vv)
	}
	return TypeName(v)
}

func TypeName(v any) string {
	switch vv := v.(type) {
	case nil:
		return "None"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case pyGlobal:
		return "global " + vv.String()
	case *Array:
		return "numpy.ndarray"
	case *npDtype:
		return "numpy.dtype"
	case pyMark:
		return "MARK"
	}
	return fmt.Sprintf("%T", v)
}

package convert

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The pickle reader is a small virtual machine for the opcodes that
// paddle.save and Paddle's .pdiparams.info files use (protocols 0-5). It
// never calls Python: the only globals it knows are an allowlist of numpy
// and collections names, each replaced by a Go function, so a pickle naming
// os.system or builtins.eval fails with that name in the error.
//
// Every length read from the input is checked against the bytes left before
// anything is allocated, so a forged header cannot make it allocate more
// than the input's size.

// pyTuple is a Python tuple; pyList a (mutable) list.
type pyTuple []any

type pyList struct{ items []any }

// pyDict keeps insertion order, like Python's dict, so that callers see
// tensors in the order the checkpoint wrote them.
type pyDict struct {
	keys []any
	vals []any
	idx  map[any]int // hashable keys only (string, int64, bool, float64)
}

func newDict() *pyDict { return &pyDict{idx: map[any]int{}} }

func (d *pyDict) set(k, v any) error {
	switch kk := k.(type) {
	case string, int64, bool, float64, nil:
	case []byte:
		// Python 2 str keys arrive as bytes; paddle names are ASCII.
		k = string(kk)
	default:
		return fmt.Errorf("unhashable dict key of type %s", typeName(k))
	}
	if i, ok := d.idx[k]; ok {
		d.vals[i] = v
		return nil
	}
	d.idx[k] = len(d.keys)
	d.keys = append(d.keys, k)
	d.vals = append(d.vals, v)
	return nil
}

func (d *pyDict) get(k string) (any, bool) {
	i, ok := d.idx[k]
	if !ok {
		return nil, false
	}
	return d.vals[i], true
}

// pyGlobal is an allowlisted callable named by GLOBAL/STACK_GLOBAL.
type pyGlobal struct{ module, name string }

func (g pyGlobal) String() string { return g.module + "." + g.name }

// npDtype is a numpy.dtype: kind letter and item size from the dtype
// string ("f4"), byte order from __setstate__.
type npDtype struct {
	str       string // "f4", "<f2", ...
	byteOrder byte   // '<', '>', '|', '='
}

// npArray is a numpy.ndarray under construction: _reconstruct creates it
// empty and BUILD (__setstate__) fills it.
type npArray struct {
	shape   []int
	dtype   *npDtype
	fortran bool
	raw     []byte
	filled  bool
}

type pyMark struct{}

// allowedGlobals maps "module.name" to what REDUCE/NEWOBJ do with it.
var allowedGlobals = map[string]bool{
	"numpy.core.multiarray._reconstruct":  true,
	"numpy._core.multiarray._reconstruct": true,
	"numpy.core.numeric._frombuffer":      true, // protocol 5 arrays
	"numpy._core.numeric._frombuffer":     true,
	"numpy.ndarray":                       true,
	"numpy.dtype":                         true,
	"collections.OrderedDict":             true,
	"_codecs.encode":                      true, // bytes under protocol 2
	"__builtin__.bytes":                   true, // empty bytes under protocol 2
	"builtins.bytes":                      true,
	"builtins.bytearray":                  true,
	"__builtin__.bytearray":               true,
	// Paddle 2.0's reducer for a Tensor outside a state dict conversion:
	// tuple((name, ndarray)).
	"builtins.tuple":    true,
	"__builtin__.tuple": true,
}

// PickleError is a pickle that cannot be read, with the byte offset of the
// opcode that failed.
type PickleError struct {
	Offset int
	Op     byte
	Err    error
}

func (e *PickleError) Error() string {
	return fmt.Sprintf("pickle: at offset %d (opcode 0x%02x): %v", e.Offset, e.Op, e.Err)
}

func (e *PickleError) Unwrap() error { return e.Err }

// ErrForbiddenGlobal is wrapped by the error for a pickle that names a
// callable outside the allowlist.
var ErrForbiddenGlobal = errors.New("forbidden global")

var errTruncated = errors.New("unexpected end of data")

type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
}

// unpickle runs the pickle in data and returns the object STOP leaves.
// Byte strings in the result alias data.
func unpickle(data []byte) (any, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}}
	for {
		if u.pos >= len(u.data) {
			return nil, &PickleError{Offset: u.pos, Err: fmt.Errorf("%w: no STOP opcode", errTruncated)}
		}
		start := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, &PickleError{Offset: start, Op: op, Err: err}
		}
		if done {
			if len(u.stack) != 1 {
				return nil, &PickleError{Offset: start, Op: op, Err: fmt.Errorf("STOP with %d objects on the stack, want 1", len(u.stack))}
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("%w: need %d bytes, %d left", errTruncated, n, len(u.data)-u.pos)
	}
	b := u.data[u.pos : u.pos+n : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) u8() (int, error) {
	b, err := u.take(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

func (u *unpickler) u16() (int, error) {
	b, err := u.take(2)
	if err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(b)), nil
}

func (u *unpickler) u32() (uint32, error) {
	b, err := u.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// length reads a 4- or 8-byte length and checks it against what is left.
func (u *unpickler) length(size int) (int, error) {
	b, err := u.take(size)
	if err != nil {
		return 0, err
	}
	var n uint64
	if size == 4 {
		n = uint64(binary.LittleEndian.Uint32(b))
	} else {
		n = binary.LittleEndian.Uint64(b)
	}
	if n > uint64(len(u.data)-u.pos) {
		return 0, fmt.Errorf("%w: length %d exceeds the %d bytes left", errTruncated, n, len(u.data)-u.pos)
	}
	return int(n), nil
}

func (u *unpickler) line() (string, error) {
	rest := u.data[u.pos:]
	i := strings.IndexByte(string(rest[:min(len(rest), 4096)]), '\n')
	if i < 0 {
		return "", fmt.Errorf("%w: no newline", errTruncated)
	}
	u.pos += i + 1
	return string(rest[:i]), nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || u.top() == (pyMark{}) {
		return nil, errors.New("stack underflow")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() any {
	if len(u.stack) == 0 {
		return nil
	}
	return u.stack[len(u.stack)-1]
}

func (u *unpickler) mark() { u.marks = append(u.marks, len(u.stack)); u.push(pyMark{}) }

// popMark returns the objects above the last MARK and removes them and it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m+1:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// popN pops n objects (for TUPLE1..3), keeping order.
func (u *unpickler) popN(n int) ([]any, error) {
	if len(u.stack)-n < 0 {
		return nil, errors.New("stack underflow")
	}
	items := append([]any(nil), u.stack[len(u.stack)-n:]...)
	for _, it := range items {
		if it == (pyMark{}) {
			return nil, errors.New("stack underflow (MARK in the way)")
		}
	}
	u.stack = u.stack[:len(u.stack)-n]
	return items, nil
}

func (u *unpickler) memoPut(i uint32) error {
	if len(u.stack) == 0 {
		return errors.New("memo put with an empty stack")
	}
	u.memo[i] = u.top()
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not defined", i)
	}
	u.push(v)
	return nil
}

func (u *unpickler) global(module, name string) error {
	g := pyGlobal{module, name}
	if !allowedGlobals[g.String()] {
		return fmt.Errorf("%w %s: only numpy arrays and dicts are loaded, nothing is executed", ErrForbiddenGlobal, g)
	}
	u.push(g)
	return nil
}

// Opcodes, named as in CPython's pickle.py.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opFloat          = 'F'
	opInt            = 'I'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opLong           = 'L'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinUnicode     = 'X'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opGet            = 'g'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opEmptyList      = ']'
	opPut            = 'p'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinFloat       = 'G'
	opReduce         = 'R'
	opBinString      = 'T'
	opShortBinString = 'U'
	opUnicode        = 'V'
	opProto          = 0x80
	opNewObj         = 0x81
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opLong4          = 0x8b
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opEmptySet       = 0x8f
	opAddItems       = 0x90
	opFrozenSet      = 0x91
	opNewObjEx       = 0x92
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	opByteArray8     = 0x96
)

func (u *unpickler) step(op byte) (stop bool, err error) {
	switch op {
	case opProto:
		v, err := u.u8()
		if err != nil {
			return false, err
		}
		if v > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d", v)
		}
	case opFrame:
		// Frames only group opcodes for buffered reading; the whole input
		// is in memory, so the length is checked and otherwise ignored.
		if _, err := u.length(8); err != nil {
			return false, err
		}
	case opStop:
		return true, nil
	case opMark:
		u.mark()
	case opPop:
		if len(u.stack) > 0 && u.top() == (pyMark{}) {
			_, err = u.popMark()
			return false, err
		}
		_, err = u.pop()
	case opPopMark:
		_, err = u.popMark()
	case opDup:
		if len(u.stack) == 0 {
			return false, errors.New("DUP with an empty stack")
		}
		u.push(u.top())
	case opNone:
		u.push(nil)
	case opNewTrue:
		u.push(true)
	case opNewFalse:
		u.push(false)
	case opBinInt:
		b, err := u.take(4)
		if err != nil {
			return false, err
		}
		u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		v, err := u.u8()
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case opBinInt2:
		v, err := u.u16()
		if err != nil {
			return false, err
		}
		u.push(int64(v))
	case opLong1, opLong4:
		var n int
		if op == opLong1 {
			n, err = u.u8()
		} else {
			n, err = u.length(4)
		}
		if err != nil {
			return false, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, err
		}
		u.push(decodeLong(b))
	case opInt, opLong:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		s = strings.TrimSuffix(s, "L")
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return false, fmt.Errorf("bad integer %q", s)
			}
			u.push(v)
		}
	case opFloat:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false, fmt.Errorf("bad float %q", s)
		}
		u.push(v)
	case opBinFloat:
		b, err := u.take(8)
		if err != nil {
			return false, err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opShortBinUni, opBinUnicode, opBinUnicode8:
		var n int
		switch op {
		case opShortBinUni:
			n, err = u.u8()
		case opBinUnicode:
			n, err = u.length(4)
		default:
			n, err = u.length(8)
		}
		if err != nil {
			return false, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, err
		}
		if !utf8.Valid(b) {
			return false, errors.New("string is not valid UTF-8")
		}
		u.push(string(b))
	case opUnicode:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		u.push(s) // raw-unicode-escape; paddle names are ASCII
	case opShortBinBytes, opBinBytes, opBinBytes8, opShortBinString, opBinString, opByteArray8:
		var n int
		switch op {
		case opShortBinBytes, opShortBinString:
			n, err = u.u8()
		case opBinBytes, opBinString:
			n, err = u.length(4)
		default:
			n, err = u.length(8)
		}
		if err != nil {
			return false, err
		}
		b, err := u.take(n)
		if err != nil {
			return false, err
		}
		u.push(b)
	case opEmptyDict:
		u.push(newDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, err
		}
		u.push(d)
	case opEmptyList:
		u.push(&pyList{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case opEmptyTuple:
		u.push(pyTuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(pyTuple(items))
	case opTuple1, opTuple2, opTuple3:
		items, err := u.popN(int(op-opTuple1) + 1)
		if err != nil {
			return false, err
		}
		u.push(pyTuple(items))
	case opEmptySet:
		u.push(&pyList{}) // sets only matter as containers here
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		u.push(&pyList{items: items})
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		l, ok := u.top().(*pyList)
		if !ok {
			return false, fmt.Errorf("APPEND to a %s", typeName(u.top()))
		}
		l.items = append(l.items, v)
	case opAppends, opAddItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, ok := u.top().(*pyList)
		if !ok {
			return false, fmt.Errorf("APPENDS to a %s", typeName(u.top()))
		}
		l.items = append(l.items, items...)
	case opSetItem:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		d, ok := u.top().(*pyDict)
		if !ok {
			return false, fmt.Errorf("SETITEM on a %s", typeName(u.top()))
		}
		if err := d.set(items[0], items[1]); err != nil {
			return false, err
		}
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d, ok := u.top().(*pyDict)
		if !ok {
			return false, fmt.Errorf("SETITEMS on a %s", typeName(u.top()))
		}
		if err := setItems(d, items); err != nil {
			return false, err
		}
	case opBinPut:
		i, err := u.u8()
		if err != nil {
			return false, err
		}
		return false, u.memoPut(uint32(i))
	case opLongBinPut:
		i, err := u.u32()
		if err != nil {
			return false, err
		}
		return false, u.memoPut(i)
	case opPut:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		i, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return false, fmt.Errorf("bad memo key %q", s)
		}
		return false, u.memoPut(uint32(i))
	case opMemoize:
		return false, u.memoPut(uint32(len(u.memo)))
	case opBinGet:
		i, err := u.u8()
		if err != nil {
			return false, err
		}
		return false, u.memoGet(uint32(i))
	case opLongBinGet:
		i, err := u.u32()
		if err != nil {
			return false, err
		}
		return false, u.memoGet(i)
	case opGet:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		i, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return false, fmt.Errorf("bad memo key %q", s)
		}
		return false, u.memoGet(uint32(i))
	case opGlobal:
		module, err := u.line()
		if err != nil {
			return false, err
		}
		name, err := u.line()
		if err != nil {
			return false, err
		}
		return false, u.global(module, name)
	case opStackGlobal:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		module, ok1 := items[0].(string)
		name, ok2 := items[1].(string)
		if !ok1 || !ok2 {
			return false, errors.New("STACK_GLOBAL needs two strings")
		}
		return false, u.global(module, name)
	case opReduce, opNewObj:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		args, ok := items[1].(pyTuple)
		if !ok {
			return false, fmt.Errorf("call arguments are a %s, not a tuple", typeName(items[1]))
		}
		v, err := call(items[0], args)
		if err != nil {
			return false, err
		}
		u.push(v)
	case opNewObjEx:
		items, err := u.popN(3)
		if err != nil {
			return false, err
		}
		args, ok := items[1].(pyTuple)
		if !ok {
			return false, fmt.Errorf("call arguments are a %s, not a tuple", typeName(items[1]))
		}
		if kw, ok := items[2].(*pyDict); !ok || len(kw.keys) > 0 {
			return false, errors.New("NEWOBJ_EX with keyword arguments is not supported")
		}
		v, err := call(items[0], args)
		if err != nil {
			return false, err
		}
		u.push(v)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, build(u.top(), state)
	default:
		// PERSID, BINPERSID, INST, OBJ, EXT*, NEXT_BUFFER, READONLY_BUFFER:
		// none is written by paddle.save, and the first four can call code.
		return false, fmt.Errorf("unsupported opcode %q", rune(op))
	}
	return false, err
}

func setItems(d *pyDict, items []any) error {
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
func call(fn any, args pyTuple) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("cannot call a %s", typeName(fn))
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
		return &npArray{}, nil
	case "numpy.dtype":
		if len(args) < 1 {
			return nil, errors.New("numpy.dtype without arguments")
		}
		s, ok := asString(args[0])
		if !ok {
			return nil, fmt.Errorf("numpy.dtype of a %s", typeName(args[0]))
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
			return nil, fmt.Errorf("%s(%s, %s, ...): want bytes and a dtype", g, typeName(args[0]), typeName(args[1]))
		}
		shape, err := asShape(args[2])
		if err != nil {
			return nil, err
		}
		order, _ := asString(args[3])
		return &npArray{shape: shape, dtype: dt, fortran: order == "F", raw: buf, filled: true}, nil
	case "_codecs.encode":
		// codecs.encode(str, "latin1"): how protocol 2 spells bytes.
		if len(args) != 2 {
			return nil, fmt.Errorf("_codecs.encode with %d arguments, want 2", len(args))
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
			return nil, fmt.Errorf("_codecs.encode(%s, %v) is not bytes in latin1", typeName(args[0]), args[1])
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
			return pyTuple{}, nil
		}
		switch it := args[0].(type) {
		case pyTuple:
			return it, nil
		case *pyList:
			return pyTuple(it.items), nil
		}
		return nil, fmt.Errorf("%s(%s) is not supported", g, typeName(args[0]))
	case "builtins.bytes", "__builtin__.bytes", "builtins.bytearray", "__builtin__.bytearray":
		if len(args) == 0 {
			return []byte{}, nil
		}
		if b, ok := args[0].([]byte); ok && len(args) == 1 {
			return b, nil
		}
		return nil, fmt.Errorf("%s(%s) is not supported", g, typeName(args[0]))
	}
	return nil, fmt.Errorf("%s cannot be called", g)
}

// build applies BUILD's state to obj (numpy's __setstate__, or a dict update).
func build(obj, state any) error {
	switch o := obj.(type) {
	case *npDtype:
		// (version, byteorder, subarray, names, fields, elsize, alignment, flags)
		t, ok := state.(pyTuple)
		if !ok || len(t) < 2 {
			return fmt.Errorf("dtype state is a %s, want a tuple", typeName(state))
		}
		bo, ok := t[1].(string)
		if !ok || len(bo) != 1 {
			return fmt.Errorf("dtype byte order %v", t[1])
		}
		if len(t) > 3 && t[3] != nil {
			return errors.New("structured dtypes are not supported")
		}
		o.byteOrder = bo[0]
		return nil
	case *npArray:
		// (version, shape, dtype, is_fortran, rawdata), version optional.
		t, ok := state.(pyTuple)
		if !ok {
			return fmt.Errorf("ndarray state is a %s, want a tuple", typeName(state))
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
			return fmt.Errorf("ndarray dtype is a %s", typeName(t[1]))
		}
		fortran, _ := t[2].(bool)
		raw, ok := t[3].([]byte)
		if !ok {
			return fmt.Errorf("ndarray data is a %s, not raw bytes (object arrays are not supported)", typeName(t[3]))
		}
		o.shape, o.dtype, o.fortran, o.raw, o.filled = shape, dt, fortran, raw, true
		return nil
	case *pyDict:
		d, ok := state.(*pyDict)
		if !ok {
			return fmt.Errorf("dict state is a %s", typeName(state))
		}
		for i, k := range d.keys {
			if err := o.set(k, d.vals[i]); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("BUILD on a %s", typeName(obj))
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
	case pyTuple:
		items = t
	case *pyList:
		items = t.items
	default:
		return nil, fmt.Errorf("shape is a %s, want a tuple", typeName(v))
	}
	shape := make([]int, len(items))
	for i, it := range items {
		n, ok := it.(int64)
		if !ok || n < 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("bad dimension %v in shape", it)
		}
		shape[i] = int(n)
	}
	return shape, nil
}

func typeName(v any) string {
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
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return "global " + vv.String()
	case *npArray:
		return "numpy.ndarray"
	case *npDtype:
		return "numpy.dtype"
	case pyMark:
		return "MARK"
	}
	return fmt.Sprintf("%T", v)
}

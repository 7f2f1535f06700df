// Package pickle reads the subset of Python pickles that paddle.save and
// Paddle's .pdiparams.info files write, without executing anything.
package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
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

// Tuple is a Python tuple; List a (mutable) list.
type Tuple []any

type List struct{ items []any }

// Dict keeps insertion order, like Python's dict, so that callers see
// tensors in the order the checkpoint wrote them.
type Dict struct {
	Keys []any
	Vals []any
	idx  map[any]int // hashable keys only (string, int64, bool, float64)
}

func newDict() *Dict { return &Dict{idx: map[any]int{}} }

func (d *Dict) set(k, v any) error {
	switch kk := k.(type) {
	case string, int64, bool, float64, nil:
	case []byte:
		// Python 2 str keys arrive as bytes; paddle names are ASCII.
		k = string(kk)
	default:
		return fmt.Errorf("unhashable dict key of type %s", TypeName(k))
	}
	if i, ok := d.idx[k]; ok {
		d.Vals[i] = v
		return nil
	}
	d.idx[k] = len(d.Keys)
	d.Keys = append(d.Keys, k)
	d.Vals = append(d.Vals, v)
	return nil
}

func (d *Dict) Get(k string) (any, bool) {
	i, ok := d.idx[k]
	if !ok {
		return nil, false
	}
	return d.Vals[i], true
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

// Array is a numpy.ndarray under construction: _reconstruct creates it
// empty and BUILD (__setstate__) fills it.
type Array struct {
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

// Error is a pickle that cannot be read, with the byte offset of the
// opcode that failed.
type Error struct {
	Offset int
	Op     byte
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("pickle: at offset %d (opcode %s): %v", e.Offset, opName(e.Op), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrForbiddenGlobal is wrapped by the error for a pickle that names a
// callable outside the allowlist.
var ErrForbiddenGlobal = errors.New("forbidden global")

// ErrTruncated is wrapped by the error for input that ends too early.
var ErrTruncated = errors.New("unexpected end of data")

// ErrLimit is wrapped by the error for a pickle that builds more objects,
// memo entries or bytes than any checkpoint needs.
var ErrLimit = errors.New("pickle exceeds a limit")

// Limits on what one pickle may build. paddle.save batches SETITEMS by
// 1000 pairs, so a real checkpoint keeps about 2000 objects on the stack
// and memoizes a handful per tensor: a few thousand at most for PP-LCNet.
// Without these, 50 MB of DUP or MARK opcodes grow the stack to 3 GB, and
// a memoized string re-encoded by _codecs.encode allocates its length on
// every call.
const (
	maxStack = 1 << 16 // objects and marks on the stack
	maxMemo  = 1 << 16 // memo entries
	maxItems = 1 << 20 // elements put into tuples, lists and dicts, in all
	// maxCopied is the slack beyond the input's size for bytes the
	// unpickler copies rather than slices from the input (re-encoded
	// strings): a pickle cannot honestly hold more than its own size.
	maxCopied = 1 << 20
)

type unpickler struct {
	data   []byte
	pos    int
	stack  []any
	marks  []int
	memo   map[uint32]any
	items  int // elements put into containers so far
	copied int // bytes copied so far
}

// Load runs the pickle in data and returns the object STOP leaves.
// Byte strings in the result alias data.
func Load(data []byte) (any, error) {
	u := &unpickler{data: data, memo: map[uint32]any{}}
	for {
		if u.pos >= len(u.data) {
			return nil, &Error{Offset: u.pos, Err: fmt.Errorf("%w: no STOP opcode", ErrTruncated)}
		}
		start := u.pos
		op := u.data[u.pos]
		u.pos++
		done, err := u.step(op)
		if err != nil {
			return nil, &Error{Offset: start, Op: op, Err: err}
		}
		if done {
			if len(u.stack) != 1 {
				return nil, &Error{Offset: start, Op: op, Err: fmt.Errorf("STOP with %d objects on the stack, want 1", len(u.stack))}
			}
			return u.stack[0], nil
		}
	}
}

func (u *unpickler) take(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, fmt.Errorf("%w: need %d bytes, %d left", ErrTruncated, n, len(u.data)-u.pos)
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
		return 0, fmt.Errorf("%w: length %d exceeds the %d bytes left", ErrTruncated, n, len(u.data)-u.pos)
	}
	return int(n), nil
}

func (u *unpickler) line() (string, error) {
	rest := u.data[u.pos:]
	i := strings.IndexByte(string(rest[:min(len(rest), 4096)]), '\n')
	if i < 0 {
		return "", fmt.Errorf("%w: no newline", ErrTruncated)
	}
	u.pos += i + 1
	return string(rest[:i]), nil
}

func (u *unpickler) push(v any) error {
	if len(u.stack) >= maxStack {
		return fmt.Errorf("%w: more than %d objects on the stack", ErrLimit, maxStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

// addItems counts n elements put into a container against maxItems.
func (u *unpickler) addItems(n int) error {
	u.items += n
	if u.items > maxItems {
		return fmt.Errorf("%w: more than %d elements in containers", ErrLimit, maxItems)
	}
	return nil
}

// copyBytes counts n bytes the unpickler allocates for a copy.
func (u *unpickler) copyBytes(n int) error {
	u.copied += n
	if u.copied > len(u.data)+maxCopied {
		return fmt.Errorf("%w: copies %d bytes, more than the %d-byte input", ErrLimit, u.copied, len(u.data))
	}
	return nil
}

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

func (u *unpickler) mark() error {
	if err := u.push(pyMark{}); err != nil {
		return err
	}
	u.marks = append(u.marks, len(u.stack)-1)
	return nil
}

// popMark returns the objects above the last MARK and removes them and it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("no MARK on the stack")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	if err := u.addItems(len(u.stack) - m - 1); err != nil {
		return nil, err
	}
	items := append([]any(nil), u.stack[m+1:]...)
	u.stack = u.stack[:m]
	return items, nil
}

// popN pops n objects (for TUPLE1..3), keeping order.
func (u *unpickler) popN(n int) ([]any, error) {
	if len(u.stack)-n < 0 {
		return nil, errors.New("stack underflow")
	}
	if err := u.addItems(n); err != nil {
		return nil, err
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
	if _, ok := u.memo[i]; !ok && len(u.memo) >= maxMemo {
		return fmt.Errorf("%w: more than %d memo entries", ErrLimit, maxMemo)
	}
	u.memo[i] = u.top()
	return nil
}

func (u *unpickler) memoGet(i uint32) error {
	v, ok := u.memo[i]
	if !ok {
		return fmt.Errorf("memo key %d not defined", i)
	}
	return u.push(v)
}

func (u *unpickler) global(module, name string) error {
	g := pyGlobal{module, name}
	if !allowedGlobals[g.String()] {
		return fmt.Errorf("%w %s: only numpy arrays and dicts are loaded, nothing is executed", ErrForbiddenGlobal, Short(g.String()))
	}
	return u.push(g)
}

// Looks reports whether data starts like a pickle of a dict: a protocol
// header, an empty dict or a mark.
func Looks(data []byte) bool {
	return len(data) > 0 && (data[0] == opProto || data[0] == opEmptyDict || data[0] == opMark)
}

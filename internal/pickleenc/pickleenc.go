// Package pickleenc writes Python pickles of protocol 4, opcode by opcode:
// the subset that paddle.save produces for a state dict of numpy arrays.
// It is the writing half of convert/internal/pickle, kept apart so that the
// reader's allowlist never grows for the writer's sake, and it streams:
// array data goes from float32 slices to the output without a second copy
// of the model in memory.
package pickleenc

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// Opcodes, named as in CPython's pickle.py.
const (
	opMark           = '('
	opStop           = '.'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinUnicode     = 'X'
	opBuild          = 'b'
	opEmptyDict      = '}'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opReduce         = 'R'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opProto          = 0x80
	opTuple1         = 0x85
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opShortBinUni    = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
	protocol         = 4
	frameHeaderBytes = 9
)

// FrameTarget is CPython's _FRAME_SIZE_TARGET: a frame is closed once it
// holds this many bytes, and a bytes object at least this long is written
// outside any frame, so that a reader can copy it straight from the file.
const FrameTarget = 64 << 10

// frameMin is CPython's FRAME_SIZE_MIN: a shorter frame is written without
// its 9-byte header.
const frameMin = 4

// Ref is a memo index: what Get writes to refer to an object again.
type Ref uint32

// Encoder writes one pickle. Its methods push values on the unpickler's
// stack in the order they are called; the first error sticks and is
// returned by every later call and by Close.
type Encoder struct {
	w       io.Writer
	frame   []byte
	memo    uint32
	written int64
	err     error
	// globals memoizes STACK_GLOBAL results and the module and attribute
	// names they are built from, as CPython's memo does for the interned
	// strings and the class objects it sees again.
	globals map[string]Ref
	names   map[string]Ref
	numpy   numpyRefs
	scratch []byte
}

// NewEncoder starts a protocol-4 pickle on w.
func NewEncoder(w io.Writer) *Encoder {
	e := &Encoder{w: w, globals: map[string]Ref{}, names: map[string]Ref{}}
	e.writeRaw([]byte{opProto, protocol})
	return e
}

// Written is the number of bytes handed to the writer so far.
func (e *Encoder) Written() int64 { return e.written }

// Err is the first error seen.
func (e *Encoder) Err() error { return e.err }

func (e *Encoder) writeRaw(b []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.Write(b)
	e.written += int64(n)
	if err != nil {
		e.err = fmt.Errorf("pickle: writing at byte %d: %w", e.written, err)
	}
}

// commit writes the open frame. Unforced, it does so only once the frame
// has reached FrameTarget; it is called before each opcode, so no opcode's
// argument is ever split across frames.
func (e *Encoder) commit(force bool) {
	if len(e.frame) == 0 || (!force && len(e.frame) < FrameTarget) {
		return
	}
	if len(e.frame) >= frameMin {
		var h [frameHeaderBytes]byte
		h[0] = opFrame
		binary.LittleEndian.PutUint64(h[1:], uint64(len(e.frame)))
		e.writeRaw(h[:])
	}
	e.writeRaw(e.frame)
	e.frame = e.frame[:0]
}

// op appends one opcode and its argument to the open frame.
func (e *Encoder) op(b ...byte) {
	e.commit(false)
	e.frame = append(e.frame, b...)
}

// Memoize stores the object on top of the stack in the memo.
func (e *Encoder) Memoize() Ref {
	e.op(opMemoize)
	r := Ref(e.memo)
	e.memo++
	return r
}

// Get pushes a memoized object again.
func (e *Encoder) Get(r Ref) {
	if r < 256 {
		e.op(opBinGet, byte(r))
		return
	}
	var b [5]byte
	b[0] = opLongBinGet
	binary.LittleEndian.PutUint32(b[1:], uint32(r))
	e.op(b[:]...)
}

// Mark pushes the mark that SetItems and a long Tuple end at.
func (e *Encoder) Mark() { e.op(opMark) }

// None pushes Python's None.
func (e *Encoder) None() { e.op(opNone) }

// Bool pushes True or False.
func (e *Encoder) Bool(v bool) {
	if v {
		e.op(opNewTrue)
	} else {
		e.op(opNewFalse)
	}
}

// Int pushes an int in the shortest form CPython's save_long uses.
func (e *Encoder) Int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		e.op(opBinInt1, byte(v))
	case v >= 0 && v < 1<<16:
		e.op(opBinInt2, byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		var b [5]byte
		b[0] = opBinInt
		binary.LittleEndian.PutUint32(b[1:], uint32(int32(v)))
		e.op(b[:]...)
	default:
		// LONG1: the shortest little-endian two's complement.
		var le [8]byte
		binary.LittleEndian.PutUint64(le[:], uint64(v))
		n := 8
		for n > 1 {
			top, next := le[n-1], le[n-2]
			if (top == 0 && next&0x80 == 0) || (top == 0xff && next&0x80 != 0) {
				n--
				continue
			}
			break
		}
		e.op(append([]byte{opLong1, byte(n)}, le[:n]...)...)
	}
}

// String pushes a str and memoizes it, as CPython does. Python strings
// are text, so s must be valid UTF-8.
func (e *Encoder) String(s string) Ref {
	if !utf8.ValidString(s) {
		e.fail(fmt.Errorf("pickle: string %.40q is not valid UTF-8", s))
		return 0
	}
	switch n := len(s); {
	case n < 1<<8:
		e.op(append([]byte{opShortBinUni, byte(n)}, s...)...)
	case uint64(n) < 1<<32:
		var h [5]byte
		h[0] = opBinUnicode
		binary.LittleEndian.PutUint32(h[1:], uint32(n))
		e.op(append(h[:], s...)...)
	default:
		var h [9]byte
		h[0] = opBinUnicode8
		binary.LittleEndian.PutUint64(h[1:], uint64(n))
		e.op(append(h[:], s...)...)
	}
	return e.Memoize()
}

// Bytes pushes a bytes object and memoizes it.
func (e *Encoder) Bytes(b []byte) Ref {
	e.bytesHeader(len(b))
	e.bytesBody(b)
	return e.Memoize()
}

// bytesHeader starts a bytes object of n bytes, whose n bytes must follow
// through bytesBody. From FrameTarget on, the object goes outside frames:
// the open frame is closed first.
func (e *Encoder) bytesHeader(n int) {
	var h []byte
	switch {
	case n < 1<<8:
		h = []byte{opShortBinBytes, byte(n)}
	case uint64(n) < 1<<32:
		h = binary.LittleEndian.AppendUint32([]byte{opBinBytes}, uint32(n))
	default:
		h = binary.LittleEndian.AppendUint64([]byte{opBinBytes8}, uint64(n))
	}
	if n >= FrameTarget {
		e.commit(true)
		e.writeRaw(h)
		return
	}
	e.op(h...)
}

// bytesBody writes data of a bytes object started by bytesHeader, in one
// or more calls.
func (e *Encoder) bytesBody(b []byte) {
	if len(e.frame) > 0 {
		e.frame = append(e.frame, b...)
		return
	}
	e.writeRaw(b)
}

// Tuple packs the last n objects pushed into a tuple and memoizes it
// (except the empty tuple, which CPython never memoizes). A tuple of more
// than three objects needs a Mark before them.
func (e *Encoder) Tuple(n int) {
	switch {
	case n == 0:
		e.op(opEmptyTuple)
		return
	case n <= 3:
		e.op(byte(opTuple1 + n - 1))
	default:
		e.op(opTuple)
	}
	e.Memoize()
}

// EmptyDict pushes a new dict and memoizes it.
func (e *Encoder) EmptyDict() Ref {
	e.op(opEmptyDict)
	return e.Memoize()
}

// SetItem adds the last key and value pushed to the dict below them.
func (e *Encoder) SetItem() { e.op(opSetItem) }

// SetItems adds the key-value pairs pushed since the last Mark to the dict
// below the mark.
func (e *Encoder) SetItems() { e.op(opSetItems) }

// Global pushes module.name (a class or function), memoized so that the
// second use is a Get.
func (e *Encoder) Global(module, name string) {
	key := module + "\x00" + name
	if r, ok := e.globals[key]; ok {
		e.Get(r)
		return
	}
	for _, s := range []string{module, name} {
		if r, ok := e.names[s]; ok {
			e.Get(r)
		} else {
			e.names[s] = e.String(s)
		}
	}
	e.op(opStackGlobal)
	e.globals[key] = e.Memoize()
}

// Reduce calls the callable below the top with the top tuple as its
// arguments, and memoizes the result.
func (e *Encoder) Reduce() Ref {
	e.op(opReduce)
	return e.Memoize()
}

// Build calls __setstate__ of the object below the top with the top.
func (e *Encoder) Build() { e.op(opBuild) }

func (e *Encoder) fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Close writes STOP and the last frame; the pickle's value is the one
// object the calls left on the stack. It does not close the writer.
func (e *Encoder) Close() error {
	e.op(opStop)
	e.commit(true)
	return e.err
}

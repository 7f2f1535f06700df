package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

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

// opNames spells the opcodes in errors as pickletools does.
var opNames = map[byte]string{
	opMark: "MARK", opStop: "STOP", opPop: "POP", opPopMark: "POP_MARK", opDup: "DUP",
	opFloat: "FLOAT", opInt: "INT", opBinInt: "BININT", opBinInt1: "BININT1", opLong: "LONG",
	opBinInt2: "BININT2", opNone: "NONE", opBinUnicode: "BINUNICODE", opAppend: "APPEND",
	opBuild: "BUILD", opGlobal: "GLOBAL", opDict: "DICT", opEmptyDict: "EMPTY_DICT",
	opAppends: "APPENDS", opGet: "GET", opBinGet: "BINGET", opLongBinGet: "LONG_BINGET",
	opList: "LIST", opEmptyList: "EMPTY_LIST", opPut: "PUT", opBinPut: "BINPUT",
	opLongBinPut: "LONG_BINPUT", opSetItem: "SETITEM", opTuple: "TUPLE", opEmptyTuple: "EMPTY_TUPLE",
	opSetItems: "SETITEMS", opBinFloat: "BINFLOAT", opReduce: "REDUCE", opBinString: "BINSTRING",
	opShortBinString: "SHORT_BINSTRING", opUnicode: "UNICODE", opProto: "PROTO", opNewObj: "NEWOBJ",
	opTuple1: "TUPLE1", opTuple2: "TUPLE2", opTuple3: "TUPLE3", opNewTrue: "NEWTRUE",
	opNewFalse: "NEWFALSE", opLong1: "LONG1", opLong4: "LONG4", opBinBytes: "BINBYTES",
	opShortBinBytes: "SHORT_BINBYTES", opShortBinUni: "SHORT_BINUNICODE", opBinUnicode8: "BINUNICODE8",
	opBinBytes8: "BINBYTES8", opEmptySet: "EMPTY_SET", opAddItems: "ADDITEMS", opFrozenSet: "FROZENSET",
	opNewObjEx: "NEWOBJ_EX", opStackGlobal: "STACK_GLOBAL", opMemoize: "MEMOIZE", opFrame: "FRAME",
	opByteArray8: "BYTEARRAY8",
}

// opName is an opcode's name with its byte, for errors.
func opName(op byte) string {
	if n, ok := opNames[op]; ok {
		return fmt.Sprintf("%s 0x%02x", n, op)
	}
	return fmt.Sprintf("0x%02x", op)
}

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
		return false, u.mark()
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
		return false, u.push(u.top())
	case opNone:
		return false, u.push(nil)
	case opNewTrue:
		return false, u.push(true)
	case opNewFalse:
		return false, u.push(false)
	case opBinInt:
		b, err := u.take(4)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(int32(binary.LittleEndian.Uint32(b))))
	case opBinInt1:
		v, err := u.u8()
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case opBinInt2:
		v, err := u.u16()
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
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
		return false, u.push(decodeLong(b))
	case opInt, opLong:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		s = strings.TrimSuffix(s, "L")
		switch s {
		case "00":
			return false, u.push(false)
		case "01":
			return false, u.push(true)
		default:
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return false, fmt.Errorf("bad integer %q", s)
			}
			return false, u.push(v)
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
		return false, u.push(v)
	case opBinFloat:
		b, err := u.take(8)
		if err != nil {
			return false, err
		}
		return false, u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
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
		return false, u.push(string(b))
	case opUnicode:
		s, err := u.line()
		if err != nil {
			return false, err
		}
		return false, u.push(s) // raw-unicode-escape; paddle names are ASCII
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
		return false, u.push(b)
	case opEmptyDict:
		return false, u.push(newDict())
	case opDict:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newDict()
		if err := setItems(d, items); err != nil {
			return false, err
		}
		return false, u.push(d)
	case opEmptyList:
		return false, u.push(&List{})
	case opList:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&List{items: items})
	case opEmptyTuple:
		return false, u.push(Tuple{})
	case opTuple:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(Tuple(items))
	case opTuple1, opTuple2, opTuple3:
		items, err := u.popN(int(op-opTuple1) + 1)
		if err != nil {
			return false, err
		}
		return false, u.push(Tuple(items))
	case opEmptySet:
		return false, u.push(&List{}) // sets only matter as containers here
	case opFrozenSet:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&List{items: items})
	case opAppend:
		v, err := u.pop()
		if err != nil {
			return false, err
		}
		l, ok := u.top().(*List)
		if !ok {
			return false, fmt.Errorf("APPEND to a %s", TypeName(u.top()))
		}
		if err := u.addItems(1); err != nil {
			return false, err
		}
		l.items = append(l.items, v)
	case opAppends, opAddItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		l, ok := u.top().(*List)
		if !ok {
			return false, fmt.Errorf("APPENDS to a %s", TypeName(u.top()))
		}
		l.items = append(l.items, items...)
	case opSetItem:
		items, err := u.popN(2)
		if err != nil {
			return false, err
		}
		d, ok := u.top().(*Dict)
		if !ok {
			return false, fmt.Errorf("SETITEM on a %s", TypeName(u.top()))
		}
		if err := d.set(items[0], items[1]); err != nil {
			return false, err
		}
	case opSetItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d, ok := u.top().(*Dict)
		if !ok {
			return false, fmt.Errorf("SETITEMS on a %s", TypeName(u.top()))
		}
		if err := setItems(d, items); err != nil {
			return false, err
		}
	case opBinPut, opLongBinPut, opPut:
		i, err := u.memoKey(op)
		if err != nil {
			return false, err
		}
		return false, u.memoPut(i)
	case opMemoize:
		return false, u.memoPut(uint32(len(u.memo)))
	case opBinGet, opLongBinGet, opGet:
		i, err := u.memoKey(op)
		if err != nil {
			return false, err
		}
		return false, u.memoGet(i)
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
		args, ok := items[1].(Tuple)
		if !ok {
			return false, fmt.Errorf("call arguments are a %s, not a tuple", TypeName(items[1]))
		}
		v, err := u.call(items[0], args)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case opNewObjEx:
		items, err := u.popN(3)
		if err != nil {
			return false, err
		}
		args, ok := items[1].(Tuple)
		if !ok {
			return false, fmt.Errorf("call arguments are a %s, not a tuple", TypeName(items[1]))
		}
		if kw, ok := items[2].(*Dict); !ok || len(kw.Keys) > 0 {
			return false, errors.New("NEWOBJ_EX with keyword arguments is not supported")
		}
		v, err := u.call(items[0], args)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case opBuild:
		state, err := u.pop()
		if err != nil {
			return false, err
		}
		return false, u.build(u.top(), state)
	default:
		// PERSID, BINPERSID, INST, OBJ, EXT*, NEXT_BUFFER, READONLY_BUFFER:
		// none is written by paddle.save, and the first four can call code.
		return false, fmt.Errorf("unsupported opcode %q", rune(op))
	}
	return false, err
}

// memoKey reads the memo index of a PUT or GET in its three spellings: one
// byte (BINPUT, BINGET), four (LONG_BINPUT, LONG_BINGET) or a decimal line
// (PUT, GET).
func (u *unpickler) memoKey(op byte) (uint32, error) {
	switch op {
	case opBinPut, opBinGet:
		i, err := u.u8()
		return uint32(i), err
	case opLongBinPut, opLongBinGet:
		return u.u32()
	}
	s, err := u.line()
	if err != nil {
		return 0, err
	}
	i, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("bad memo key %q", s)
	}
	return uint32(i), nil
}

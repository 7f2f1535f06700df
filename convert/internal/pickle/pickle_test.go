package pickle

import (
	"encoding/binary"
	"testing"
)

// FuzzPickle runs the unpickler on arbitrary bytes: it must return an
// error or an object, and every numpy array it builds must convert to as
// many values as its shape says, or fail.
func FuzzPickle(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Load(data)
		if err != nil {
			return
		}
		checkArrays(t, obj, 0)
	})
}

func checkArrays(t *testing.T, obj any, depth int) {
	if depth > 64 {
		return
	}
	switch v := obj.(type) {
	case *Array:
		shape, data, err := v.Floats()
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v with %d values", shape, len(data))
		}
	case *Dict:
		for _, x := range v.Vals {
			checkArrays(t, x, depth+1)
		}
	case Tuple:
		for _, x := range v {
			checkArrays(t, x, depth+1)
		}
	case *List:
		for _, x := range v.items {
			checkArrays(t, x, depth+1)
		}
	}
}

func TestHalfToFloat(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.9604645e-08}, {0x8000, 0}, {0x3555, 0.33325195},
	}
	for _, tc := range tests {
		raw := binary.LittleEndian.AppendUint16(nil, tc.h)
		got, err := decodeFloats(raw, 'f', 2, binary.LittleEndian, 1)
		if err != nil || got[0] != tc.want {
			t.Errorf("fp16 %#04x = %v (%v), want %g", tc.h, got, err, tc.want)
		}
	}
}

package zoo

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/x448/float16"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	inf := float32(math.Inf(1))
	tensors := map[string]arch.Tensor{
		"scalar":            {Shape: []int{}, Data: []float32{42}},
		"empty":             {Shape: []int{0, 3}, Data: []float32{}},
		"conv1.conv.weight": {Shape: []int{2, 1, 2, 2}, Data: []float32{1, -2, 3.5, 0.25, 1e-3, -7, 65504, float32(math.Copysign(0, -1))}},
		"specials":          {Shape: []int{3}, Data: []float32{inf, -inf, 6e-8}},
	}
	for _, tc := range []struct {
		dtype DType
		st    string
		// tol is the relative error fp16 rounding may add.
		tol float64
	}{{FP32, "F32", 0}, {FP16, "F16", 1.0 / 2048}} {
		t.Run(string(tc.dtype), func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeSafetensors(&buf, tensors, tc.dtype); err != nil {
				t.Fatal(err)
			}
			b := buf.Bytes()
			// The layout other safetensors readers expect: u64 LE header
			// length, a JSON header, data aligned to 8 bytes.
			hlen := binary.LittleEndian.Uint64(b)
			if (8+hlen)%8 != 0 {
				t.Errorf("data starts at %d, not 8-byte aligned", 8+hlen)
			}
			var header map[string]json.RawMessage
			if err := json.Unmarshal(b[8:8+hlen], &header); err != nil {
				t.Fatal(err)
			}
			var e stEntry
			if err := json.Unmarshal(header["conv1.conv.weight"], &e); err != nil {
				t.Fatal(err)
			}
			if e.DType != tc.st || fmt.Sprint(e.Shape) != "[2 1 2 2]" {
				t.Errorf("header entry %+v", e)
			}
			if _, ok := header["__metadata__"]; !ok {
				t.Error("no __metadata__")
			}
			got, err := readSafetensors(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tensors) {
				t.Fatalf("read %d tensors, wrote %d", len(got), len(tensors))
			}
			for name, want := range tensors {
				have := got[name]
				if fmt.Sprint(have.Shape) != fmt.Sprint(want.Shape) || len(have.Data) != len(want.Data) {
					t.Fatalf("%s: shape %v (%d values), want %v", name, have.Shape, len(have.Data), want.Shape)
				}
				for i, w := range want.Data {
					h := have.Data[i]
					if math.IsInf(float64(w), 0) {
						if h != w {
							t.Errorf("%s[%d] = %v, want %v", name, i, h, w)
						}
						continue
					}
					tol := tc.tol * math.Abs(float64(w))
					if w == 6e-8 && tc.dtype == FP16 {
						tol = 6e-8 // a subnormal: absolute, not relative, precision
					}
					if d := math.Abs(float64(h - w)); d > tol {
						t.Errorf("%s[%d] = %v, want %v (tolerance %g)", name, i, h, w, tol)
					}
				}
			}
		})
	}
}

// TestSafetensorsReadsForeignFile reads bytes laid out by hand as the
// format's specification describes, not by our writer.
func TestSafetensorsReadsForeignFile(t *testing.T) {
	header := `{"__metadata__":{"format":"pt"},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(header)))
	b = append(b, header...)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(1.5))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(-2))
	b = binary.LittleEndian.AppendUint16(b, float16.Fromfloat32(0.5).Bits())
	b = binary.LittleEndian.AppendUint16(b, float16.Fromfloat32(-3).Bits())
	got, err := readSafetensors(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got["a"].Data, got["b"].Data) != "[1.5 -2] [0.5 -3]" {
		t.Fatalf("read %v", got)
	}
}

func TestSafetensorsRejectsMalformed(t *testing.T) {
	file := func(header string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
		return append(append(b, header...), make([]byte, data)...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 100), "exceeds the file"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds the file"},
		{"not json", file("{nope", 0), "header"},
		{"bad dtype", file(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, 8), `"I64"`},
		{"offsets past data", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "data_offsets"},
		{"shape mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), "data_offsets"},
		{"negative dim", file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "shape"},
		{"overflowing shape", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), "shape"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "overlap or hole"},
		{"hole", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlap or hole"},
		{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "cover 4 of 8"},
		{"bad metadata", file(`{"__metadata__":{"n":1}}`, 0), "__metadata__"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readSafetensors(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestSafetensorsRefusesFP16Overflow(t *testing.T) {
	ts := map[string]arch.Tensor{"fc.weight": {Shape: []int{2}, Data: []float32{1, 70000}}}
	var buf bytes.Buffer
	err := writeSafetensors(&buf, ts, FP16)
	if err == nil || !strings.Contains(err.Error(), "fc.weight[1]") {
		t.Fatalf("error %v, want one naming fc.weight[1]", err)
	}
	if err := writeSafetensors(&buf, ts, FP32); err != nil {
		t.Fatalf("fp32 refused a value it can hold: %v", err)
	}
}

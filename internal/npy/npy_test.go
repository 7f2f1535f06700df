package npy

import (
	"bytes"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shape []int
	}{
		{"vector", []int{5}},
		{"matrix", []int{2, 3}},
		{"nchw", []int{1, 3, 4, 4}},
		{"empty", []int{0, 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 1
			for _, d := range tc.shape {
				n *= d
			}
			in := &Array{Shape: tc.shape, Data: make([]float32, n)}
			for i := range in.Data {
				in.Data[i] = float32(i) * 0.5
			}
			var buf bytes.Buffer
			if err := Write(&buf, in); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%16 != 0 && n == 0 {
				t.Fatalf("header not aligned")
			}
			out, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Shape) != len(tc.shape) || len(out.Data) != n {
				t.Fatalf("got shape %v len %d", out.Shape, len(out.Data))
			}
			for i := range in.Data {
				if in.Data[i] != out.Data[i] {
					t.Fatalf("value %d: %v != %v", i, out.Data[i], in.Data[i])
				}
			}
		})
	}
}

func TestReadFixture(t *testing.T) {
	a, err := ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Shape) != 2 || a.Shape[0] != 2 || a.Shape[1] != 1000 {
		t.Fatalf("shape %v, want [2 1000]", a.Shape)
	}
}

func TestReadErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"magic", "NOTNUMPY........"},
		{"dtype", "\x93NUMPY\x01\x00\x40\x00{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }           \n"},
		{"truncated", "\x93NUMPY\x01\x00\x40\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }           \n\x00\x00"},
		{"huge", "\x93NUMPY\x01\x00\x40\x00{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999,9), }\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Read(bytes.NewReader([]byte(tc.in))); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, &Array{Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'shape': ()}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range a.Shape {
			n *= d
		}
		if n != len(a.Data) {
			t.Fatalf("shape %v but %d values", a.Shape, len(a.Data))
		}
	})
}

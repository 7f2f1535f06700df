package convert

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/convert/internal/pickle"
)

// The testdata pickles come from gen_pickles.py: CPython's pickler with
// numpy's module paths, for each protocol paddle.save may use.
func TestReadPdparamsProtocols(t *testing.T) {
	tests := []struct {
		file string
		tol  float32 // float16 rounds 65504 exactly, but keep room
	}{
		{"np1_p2_f4.pdparams", 0},
		{"np1_p3_f4.pdparams", 0},
		{"np1_p4_f4.pdparams", 0}, // base_model. prefix
		{"np2_p4_f2.pdparams", 0}, // backbone. prefix, float16
		{"np2_p5_f8.pdparams", 0}, // student. prefix, float64, _frombuffer
		{"np1_p5_f4.pdparams", 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ts, err := ReadPdparams(f)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]struct {
				shape []int
				data  []float32
			}{
				"fc.weight": {[]int{2, 3}, []float32{1.5, -2.25, 3.0, 0.125, 65504.0, 0}},
				"fc.bias":   {[]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}}, // Fortran order made C
				"scalar":    {[]int{}, []float32{7}},
				"big":       {[]int{2}, []float32{1, 2}}, // big-endian
			}
			if len(ts) != len(want) {
				t.Errorf("got %d tensors (%v), want %d", len(ts), sortedNames(ts), len(want))
			}
			for name, w := range want {
				got, ok := ts[name]
				if !ok {
					t.Errorf("missing %s (have %v)", name, sortedNames(ts))
					continue
				}
				if !slices.Equal(got.Shape, w.shape) || !slices.Equal(got.Data, w.data) {
					t.Errorf("%s = %v %v, want %v %v", name, got.Shape, got.Data, w.shape, w.data)
				}
			}
		})
	}
}

// Paddle 2.0 reduced a Tensor to tuple((name, ndarray)).
func TestReadPdparamsTensorTuple(t *testing.T) {
	arr := "cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01K\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x80?tb"
	data := "\x80\x02}X\x07\x00\x00\x00fc.biasc__builtin__\ntuple\nX\x08\x00\x00\x00linear_0" + arr + "\x86\x85Rs."
	ts, err := ReadPdparams(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts["fc.bias"]; !slices.Equal(got.Shape, []int{1}) || !slices.Equal(got.Data, []float32{1}) {
		t.Fatalf("fc.bias = %+v", got)
	}
}

func TestPickleRefusesGlobals(t *testing.T) {
	tests := []struct {
		file, name string
	}{
		{"evil_os_system.pdparams", "os.system"},
		{"evil_eval.pdparams", "builtins.eval"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			_, err = ReadPdparams(bytes.NewReader(b))
			if err == nil || !errors.Is(err, pickle.ErrForbiddenGlobal) || !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want a forbidden-global error naming %s", err, tc.name)
			}
		})
	}
}

func TestPickleMalformed(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty", "", "no STOP"},
		{"no stop", "\x80\x02}", "no STOP"},
		{"huge binbytes", "\x80\x03B\xff\xff\xff\x7f", "exceeds"},
		{"huge binbytes8", "\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f", "exceeds"},
		{"huge frame", "\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f", "exceeds"},
		{"memo miss", "\x80\x02h\x05.", "memo key 5"},
		{"pop empty", "\x80\x020.", "underflow"},
		{"setitems odd", "\x80\x02}(K\x01u.", "odd number"},
		{"persid", "\x80\x02Q.", "unsupported opcode"},
		{"inst", "\x80\x02(ios\nsystem\n.", "unsupported opcode"},
		{"two objects", "\x80\x02K\x01K\x02.", "2 objects"},
		{"not a dict", "\x80\x02K\x01.", "want a dict"},
		{"protocol 6", "\x80\x06}.", "protocol 6"},
		{"reduce non-global", "\x80\x02K\x01)R.", "cannot call"},
		{"shape mismatch", "\x80\x02}X\x01\x00\x00\x00acnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01K\x04\x85cnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x00\x00tbs.", "needs 16 bytes"},
		{"int dtype", "\x80\x02}X\x01\x00\x00\x00acnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01K\x01\x85cnumpy\ndtype\nX\x02\x00\x00\x00i4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89C\x04\x00\x00\x00\x00tbs.", "unsupported dtype \"i4\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadPdparams(strings.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// Every prefix of a real checkpoint must fail cleanly, never panic.
func TestReadPdparamsTruncated(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "np1_p4_f4.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(b)-1; n++ {
		if _, err := ReadPdparams(bytes.NewReader(b[:n])); err == nil {
			t.Fatalf("%d of %d bytes: no error", n, len(b))
		}
	}
}

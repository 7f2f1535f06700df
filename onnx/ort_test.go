package onnx

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/ortrun"
)

// runORT runs model on x under ONNX Runtime and returns the named outputs.
func runORT(t *testing.T, model string, x *npy.Array, names ...string) map[string]*npy.Array {
	t.Helper()
	all := ortrun.Run(t, model, x)
	res := map[string]*npy.Array{}
	for _, n := range names {
		a, ok := all[n]
		if !ok {
			t.Fatalf("ONNX Runtime gave no output %s", n)
		}
		res[n] = a
	}
	return res
}

func exportFile(t *testing.T, a arch.Arch, ts map[string]arch.Tensor, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, a, ts, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// compare checks got [N, dim] against want within tol*max(1, max|want|).
func compare(t *testing.T, what string, got *npy.Array, want [][]float64, tol float64) {
	t.Helper()
	if len(got.Shape) != 2 || got.Shape[0] != len(want) || got.Shape[1] != len(want[0]) {
		t.Fatalf("%s: shape %v, want [%d %d]", what, got.Shape, len(want), len(want[0]))
	}
	scale := 1.0
	for _, row := range want {
		for _, v := range row {
			scale = math.Max(scale, math.Abs(v))
		}
	}
	worst, at := 0.0, 0
	for i, row := range want {
		for j, v := range row {
			if d := math.Abs(float64(got.Data[i*len(row)+j]) - v); d > worst {
				worst, at = d, i*len(row)+j
			}
		}
	}
	t.Logf("%s: max |diff| %.3g (scale %.3g)", what, worst, scale)
	if worst > tol*scale {
		t.Errorf("%s: max |diff| %.3g at flat index %d exceeds %.3g", what, worst, at, tol*scale)
	}
}

func rows(a *npy.Array) [][]float64 {
	n, d := a.Shape[0], a.Shape[1]
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = float64(a.Data[i*d+j])
		}
	}
	return out
}

var onnxOutputs = []string{Logits, Probabilities, Features, Pooled}

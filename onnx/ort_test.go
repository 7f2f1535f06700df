package onnx

import (
	"bytes"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/npy"
)

// ortScript finds e2e/bench/ort_infer.mjs and checks that node and
// onnxruntime-node are installed; outside CI their absence skips the test.
func ortScript(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
	bench := filepath.Join(dir, "e2e", "bench")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join(bench, "node_modules", "onnxruntime-node")); err != nil {
		missing = "onnxruntime-node is not installed (cd e2e/bench && npm ci --ignore-scripts)"
	}
	if missing != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s, and CI must run the ONNX Runtime checks", missing)
		}
		t.Skipf("%s; skipping the ONNX Runtime check", missing)
	}
	return filepath.Join(bench, "ort_infer.mjs")
}

// runORT runs model on x under ONNX Runtime and returns its outputs by name.
func runORT(t *testing.T, model string, x *npy.Array, names ...string) map[string]*npy.Array {
	t.Helper()
	script := ortScript(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "input.npy")
	if err := npy.WriteFile(in, x); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	cmd := exec.CommandContext(t.Context(), "node", script, model, in, outDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ort_infer.mjs %s: %v\n%s", model, err, out)
	}
	res := map[string]*npy.Array{}
	for _, n := range names {
		a, err := npy.ReadFile(filepath.Join(outDir, n+".npy"))
		if err != nil {
			t.Fatalf("output %s: %v", n, err)
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

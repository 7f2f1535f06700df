// Package ortrun runs an ONNX model under ONNX Runtime (onnxruntime-node,
// through e2e/bench/ort_infer.mjs) for tests that compare lcnet with it.
package ortrun

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/npy"
)

// Script finds e2e/bench/ort_infer.mjs and checks that node and
// onnxruntime-node are installed. Outside CI their absence skips the test;
// in CI (CI set) it fails it, since CI installs both.
func Script(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("ortrun: cannot locate its own source to find e2e/bench")
	}
	bench := filepath.Join(filepath.Dir(file), "..", "..", "e2e", "bench")
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

// Run runs model on x and returns every output by its name.
func Run(t testing.TB, model string, x *npy.Array) map[string]*npy.Array {
	t.Helper()
	script := Script(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "input.npy")
	if err := npy.WriteFile(in, x); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "out")
	cmd := exec.Command("node", script, model, in, outDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ort_infer.mjs %s: %v\n%s", model, err, out)
	}
	files, err := filepath.Glob(filepath.Join(outDir, "*.npy"))
	if err != nil || len(files) == 0 {
		t.Fatalf("ort_infer.mjs %s wrote no outputs (%v)", model, err)
	}
	res := map[string]*npy.Array{}
	for _, f := range files {
		a, err := npy.ReadFile(f)
		if err != nil {
			t.Fatalf("output %s: %v", f, err)
		}
		res[strings.TrimSuffix(filepath.Base(f), ".npy")] = a
	}
	return res
}

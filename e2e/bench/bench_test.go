// Package bench holds the ONNX Runtime side of lcnet's end-to-end checks:
// the tests here drive the real lcnet binary (convert, export, infer) and
// the scripts beside them (ort_infer.mjs, side_by_side.sh).
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/testbin"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/testimage"
)

// lcnetBin is $LCNET, or the binary TestMain builds from ../../cmd/lcnet.
var lcnetBin string

func TestMain(m *testing.M) { testbin.Main(m, &lcnetBin) }

// requireORT skips (fails in CI) when node or onnxruntime-node is missing.
func requireORT(t *testing.T) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not on PATH"
	} else if _, err := os.Stat(filepath.Join("node_modules", "onnxruntime-node")); err != nil {
		missing = "onnxruntime-node is not installed (cd e2e/bench && npm ci --ignore-scripts)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s, and CI must run the ONNX Runtime checks", missing)
	}
	t.Skipf("%s; skipping", missing)
}

// run executes a program to completion and fails the test on error.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

func readNpy(t *testing.T, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// agree checks that got matches want within tol*max(1, max|want|).
func agree(t *testing.T, what string, got, want *npy.Array, tol float64) {
	t.Helper()
	if fmt.Sprint(got.Shape) != fmt.Sprint(want.Shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, want.Shape)
	}
	scale, worst := 1.0, 0.0
	for i, w := range want.Data {
		scale = math.Max(scale, math.Abs(float64(w)))
		worst = math.Max(worst, math.Abs(float64(got.Data[i])-float64(w)))
	}
	t.Logf("%s: max |diff| %.3g (scale %.3g)", what, worst, scale)
	if worst > tol*scale {
		t.Errorf("%s: max |diff| %.3g exceeds %.3g", what, worst, tol*scale)
	}
}

// TestExportAgreesWithInfer is issue 3's check through the CLI: a model
// converted by `lcnet convert` and exported by `lcnet export`, run by ONNX
// Runtime, gives what `lcnet infer` gives, and both give the golden outputs.
// An fp16-stored model exports as fp32 with the weights the zoo widens, so
// it must still agree with lcnet infer tightly, and with the golden
// outputs within fp16's rounding of the weights.
func TestExportAgreesWithInfer(t *testing.T) {
	requireORT(t)
	store := t.TempDir()
	dir := t.TempDir()
	cases := []struct {
		scale, dtype string
		goldenTol    float64 // relative to max(1, max|golden|)
	}{
		{"0_25", "fp32", 1e-4},
		{"1_0", "fp32", 1e-4},
		{"0_25", "fp16", 2e-3}, // measured 1.3e-4
	}
	for _, c := range cases {
		t.Run("x"+c.scale+" "+c.dtype, func(t *testing.T) {
			golden := "PPLCNet_x" + c.scale
			name := golden + "-" + c.dtype
			run(t, nil, lcnetBin, "convert", fixtures.Path(t, "golden", golden+".pdparams"), "--name", name, "--dtype", c.dtype, "--store", store)
			model := filepath.Join(dir, name+".onnx")
			run(t, nil, lcnetBin, "export", "--model", name, "--format", "onnx", "--out", model, "--store", store)
			input := fixtures.Path(t, "golden", golden+".input.npy")
			ortOut := filepath.Join(dir, name+".ort")
			run(t, nil, "node", "ort_infer.mjs", model, input, ortOut)
			lcnetOut := filepath.Join(dir, name+".lcnet")
			run(t, nil, lcnetBin, "infer", "--model", name, "--input", input, "--out", lcnetOut, "--store", store)
			for _, o := range []struct {
				output, golden string
				tol            float64
			}{
				{"logits", "logits", 1e-4},
				{"probabilities", "probs", 1e-5},
				{"features", "embedding", 1e-4},
				{"pooled", "gap", 1e-4},
			} {
				ort := readNpy(t, filepath.Join(ortOut, o.output+".npy"))
				agree(t, o.output+" ORT vs lcnet infer", ort, readNpy(t, filepath.Join(lcnetOut, o.output+".npy")), o.tol)
				agree(t, o.output+" ORT vs golden", ort, readNpy(t, fixtures.Path(t, "golden", golden+"."+o.golden+".npy")), max(o.tol, c.goldenTol))
			}
		})
	}
}

// TestSideBySide runs side_by_side.sh briefly and checks its table: one
// row per (scale, batch), every number parsed, and positive ratios, plain
// and paired.
func TestSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("times real runs; skipped under -short")
	}
	requireORT(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	raw := filepath.Join(t.TempDir(), "raw.jsonl")
	out := run(t, []string{"LCNET=" + lcnetBin, fixtures.EnvDir + "=" + fixtures.Dir(t)},
		"bash", "side_by_side.sh", "--duration", "0.3", "--warmup", "0", "--scales", "0_25", "--batches", "1 2", "--json", raw)
	num := `[0-9]+\.[0-9]+`
	row := regexp.MustCompile(`(?m)^\| x0_25 \| ([12]) \| ` + num + ` / ` + num + ` / ` + num + ` \| ` + num +
		` \| ` + num + ` / ` + num + ` / ` + num + ` \| ` + num + ` \| (` + num + `) \| (` + num + `) \| (` + num + `) \| (` + num + `) \|$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 || rows[0][1] != "1" || rows[1][1] != "2" {
		t.Fatalf("want rows for batch 1 and 2 in:\n%s", out)
	}
	for _, r := range rows {
		if r[2] == "0.00" || r[3] == "0.00" || r[4] == "0.00" || r[5] == "0.00" {
			t.Errorf("batch %s: a ratio is zero: %v", r[1], r[0])
		}
	}
	lines := strings.Split(strings.TrimSpace(string(readFile(t, raw))), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines of raw results, got:\n%s", strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		var r struct {
			Scale      string
			Batch      int
			LCNet, ORT map[string]any
			Paired     map[string]float64
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("raw line %d is not JSON: %v\n%s", i+1, err, l)
		}
		if r.Scale != "0_25" || r.Batch != i+1 || r.LCNet["p50_ms"] == nil || r.ORT["images_per_sec"] == nil ||
			r.Paired["p50_ratio"] <= 0 || r.Paired["images_per_sec_ratio"] <= 0 {
			t.Errorf("raw line %d: %s", i+1, l)
		}
	}
	t.Logf("\n%s", out)
}

// TestPhotoSideBySide runs photo_side_by_side.sh briefly on two generated
// photos (never the wallpapers, which the test must not download) and
// checks its table and raw results: a row per photo with its size, kind
// and Mpx, every time parsed and positive ratios.
func TestPhotoSideBySide(t *testing.T) {
	if testing.Short() {
		t.Skip("times real runs; skipped under -short")
	}
	requireORT(t)
	if _, err := os.Stat(filepath.Join("node_modules", "sharp")); err != nil {
		t.Skip("sharp is not installed (cd e2e/bench && npm ci --ignore-scripts); skipping")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	var photos []string
	for _, sz := range [][2]int{{640, 400}, {1203, 901}} {
		b, err := testimage.JPEG(testimage.Photo(sz[0], sz[1]), 90, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("photo_%dx%d.jpg", sz[0], sz[1]))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		photos = append(photos, p)
	}
	raw := filepath.Join(dir, "raw.jsonl")
	out := run(t, []string{"LCNET=" + lcnetBin, fixtures.EnvDir + "=" + fixtures.Dir(t)},
		"bash", append([]string{"photo_side_by_side.sh", "--rounds", "1", "--duration", "0.3", "--warmup", "0", "--json", raw}, photos...)...)
	num := `[0-9]+\.[0-9]+`
	row := regexp.MustCompile(`(?m)^\| (photo_[0-9x]+\.jpg) \| ([0-9]+x[0-9]+) \| baseline 4:2:0 \| (` + num + `) \| ` + num + ` \| ` + num +
		` \| ` + num + ` \| (` + num + `) \| (` + num + `) \| [0-9]+ / [0-9]+ / [0-9]+ \|$`)
	rows := row.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 || rows[0][2] != "640x400" || rows[0][3] != "0.26" || rows[1][2] != "1203x901" {
		t.Fatalf("want rows for the two photos in:\n%s", out)
	}
	for _, r := range rows {
		if r[4] == "0.00" || r[5] == "0.00" {
			t.Errorf("%s: a ratio is zero: %v", r[1], r[0])
		}
	}
	lines := strings.Split(strings.TrimSpace(string(readFile(t, raw))), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines of raw results, got:\n%s", strings.Join(lines, "\n"))
	}
	for i, l := range lines {
		var r struct {
			Size             string
			Exact, Fast, ORT map[string]any
			Paired           map[string]float64
			Rounds           []any
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("raw line %d is not JSON: %v\n%s", i+1, err, l)
		}
		if r.Exact["p50_ms"] == nil || r.Fast["p50_ms"] == nil || r.ORT["p50_ms"] == nil ||
			r.Paired["exact_ratio"] <= 0 || r.Paired["fast_ratio"] <= 0 || len(r.Rounds) != 1 {
			t.Errorf("raw line %d: %s", i+1, l)
		}
	}
	t.Logf("\n%s", out)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/testimage"
	"github.com/lcnet/lcnet/zoo"
)

// TestExportPaddleRoundTrip: a zoo model exported with --format paddle and
// converted back with the command export prints is the same model. The
// new version's outputs on the same input equal the original's exactly
// (tolerance 0: the weights come back bit for bit, the zoo stores the same
// weights file, and it runs through the same code), and its manifest has
// the same architecture, preprocessing, labels, multi-label head and
// threshold, dtype and parameter count.
func TestExportPaddleRoundTrip(t *testing.T) {
	textline := func(t *testing.T, store string, extra ...string) {
		t.Helper()
		mustLcnet(t, append([]string{"convert", fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), "--name", "m", "--store", store}, extra...)...)
	}
	lineInput := func(t *testing.T) string { return randomInput(t, 2, 80, 160) }
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, store string)
		input func(t *testing.T) string
	}{
		{"golden x0_25", func(t *testing.T, store string) {
			mustLcnet(t, "convert", fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"), "--name", "m", "--store", store)
		}, func(t *testing.T) string { return fixtures.Path(t, "golden", "PPLCNet_x0_25.input.npy") }},
		{"golden x1_0", func(t *testing.T, store string) {
			mustLcnet(t, "convert", fixtures.Path(t, "golden", "PPLCNet_x1_0.pdparams"), "--name", "m", "--store", store)
		}, func(t *testing.T) string { return fixtures.Path(t, "golden", "PPLCNet_x1_0.input.npy") }},
		{"text-line", func(t *testing.T, store string) { textline(t, store) }, lineInput},
		{"text-line fp16 fast decode", func(t *testing.T, store string) { textline(t, store, "--dtype", "fp16", "--decode", "fast") }, lineInput},
		{"text-line without last conv", func(t *testing.T, store string) {
			mustLcnet(t, "convert", fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori_nolastconv"), "--name", "m", "--store", store)
		}, lineInput},
		{"multi-label", func(t *testing.T, store string) {
			src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
			pir := fixtures.ReadPIR(t, src)
			pir.SigmoidHead(t)
			mustLcnet(t, "convert", pir.Dir(t, src), "--name", "m", "--store", store)
		}, lineInput},
		{"fine-tuned pooled", func(t *testing.T, store string) { fineTune(t, store, "pooled") }, lineInput},
		{"fine-tuned features", func(t *testing.T, store string) { fineTune(t, store, "features") }, lineInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, dir := t.TempDir(), filepath.Join(t.TempDir(), "paddle")
			tc.setup(t, store)
			out := mustLcnet(t, "export", "--model", "m", "--format", "paddle", "--out", dir, "--store", store)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			cmdLine, ok := strings.CutPrefix(lines[len(lines)-1], "convert back with: lcnet ")
			if !ok || strings.Contains(cmdLine, "'") {
				t.Fatalf("export printed no plain convert command:\n%s", out)
			}
			if !strings.HasPrefix(lines[0], filepath.Join(dir, "m.pdparams")+"  m:1, ") {
				t.Errorf("first line %q, want the weights file and the model", lines[0])
			}
			pickletoolsDis(t, filepath.Join(dir, "m.pdparams"))
			if got := mustLcnet(t, append(strings.Fields(cmdLine), "--store", store)...); !strings.HasPrefix(got, "m:2\n") {
				t.Fatalf("convert back made %q, want m:2", got)
			}

			orig, back := manifest(t, store, "m:1"), manifest(t, store, "m:2")
			if !reflect.DeepEqual(orig.Arch, back.Arch) {
				t.Errorf("architecture\n%+v\nback as\n%+v", orig.Arch, back.Arch)
			}
			if orig.Preprocess != back.Preprocess {
				t.Errorf("preprocessing %+v back as %+v", orig.Preprocess, back.Preprocess)
			}
			if !reflect.DeepEqual(orig.Labels, back.Labels) || len(orig.Labels) == 0 {
				t.Errorf("labels %q back as %q", orig.Labels, back.Labels)
			}
			if orig.Arch.MultiLabel != back.Arch.MultiLabel || orig.DecisionThreshold() != back.DecisionThreshold() {
				t.Errorf("multi-label %v at %g back as %v at %g", orig.Arch.MultiLabel, orig.DecisionThreshold(), back.Arch.MultiLabel, back.DecisionThreshold())
			}
			if orig.DType != back.DType || orig.Params != back.Params {
				t.Errorf("dtype %s, %d params back as %s, %d", orig.DType, orig.Params, back.DType, back.Params)
			}
			// The zoo stores the very same weights file.
			if orig.WeightsSHA256 != back.WeightsSHA256 {
				t.Errorf("weights sha256 %s back as %s", orig.WeightsSHA256, back.WeightsSHA256)
			}
			if back.Source.Format != "pdparams" || back.Source.Arch != zoo.ArchConfig {
				t.Errorf("source %+v, want a pdparams with its config", back.Source)
			}

			in := tc.input(t)
			o1, o2 := t.TempDir(), t.TempDir()
			mustLcnet(t, "infer", "--model", "m:1", "--input", in, "--out", o1, "--store", store)
			mustLcnet(t, "infer", "--model", "m:2", "--input", in, "--out", o2, "--store", store)
			for _, f := range []string{"logits.npy", "probabilities.npy", "features.npy", "pooled.npy"} {
				a, b := readNpy(t, filepath.Join(o1, f)), readNpy(t, filepath.Join(o2, f))
				if !reflect.DeepEqual(a.Shape, b.Shape) {
					t.Fatalf("%s: shape %v back as %v", f, a.Shape, b.Shape)
				}
				var worst float64
				for i := range a.Data {
					worst = math.Max(worst, math.Abs(float64(a.Data[i]-b.Data[i])))
				}
				if worst != 0 {
					t.Errorf("%s: the converted-back model differs by up to %g", f, worst)
				}
			}
		})
	}
}

// fineTune trains a head on the real text-line model's backbone, as
// lcnet train does, into model m.
func fineTune(t *testing.T, store, layer string) {
	t.Helper()
	mustLcnet(t, "convert", fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), "--name", "base", "--store", store)
	data, err := testimage.TextFolder(t.TempDir(), 4, 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	mustLcnet(t, "train", "--from", "base", "--data", data, "--name", "m", "--layer", layer, "--epochs", "3", "--val-split", "0", "--store", store)
	if m := manifest(t, store, "m:1"); m.Lineage == nil || len(m.Labels) != len(testimage.TextClasses) {
		t.Fatalf("train made no fine-tuned model: %+v", m)
	}
}

func manifest(t *testing.T, store, ref string) zoo.Manifest {
	t.Helper()
	var m zoo.Manifest
	if err := json.Unmarshal([]byte(mustLcnet(t, "zoo", "show", ref, "--json", "--store", store)), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func readNpy(t *testing.T, path string) *npy.Array {
	t.Helper()
	a, err := npy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// randomInput writes a deterministic normalized-looking [n,3,h,w] input.
func randomInput(t *testing.T, n, h, w int) string {
	t.Helper()
	data := make([]float32, n*3*h*w)
	for i := range data {
		data[i] = float32(2 * math.Sin(float64(i)*0.7311))
	}
	path := filepath.Join(t.TempDir(), "x.npy")
	if err := npy.WriteFile(path, &npy.Array{Shape: []int{n, 3, h, w}, Data: data}); err != nil {
		t.Fatal(err)
	}
	return path
}

// pickletoolsDis checks a .pdparams with CPython's pickle disassembler.
func pickletoolsDis(t *testing.T, path string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed to check the pickle")
		}
		return
	}
	if out, err := exec.Command(py, "-c", "import pickletools,sys,io; pickletools.dis(open(sys.argv[1],'rb'), out=io.StringIO())", path).CombinedOutput(); err != nil {
		t.Errorf("pickletools.dis %s: %v\n%s", path, err, out)
	}
}

// TestExportPaddleRefuses: a model whose labels a PaddleClas label list
// cannot carry is refused with one line and nothing is written.
func TestExportPaddleRefuses(t *testing.T) {
	store, tmp := t.TempDir(), t.TempDir()
	labels := filepath.Join(tmp, "labels.txt")
	if err := os.WriteFile(labels, []byte("upright\nflipped\ttwice\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustLcnet(t, "convert", fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), "--name", "m", "--labels", labels, "--store", store)
	dir := filepath.Join(tmp, "out")
	_, stderr, code := lcnet(t, nil, "export", "--model", "m", "--format", "paddle", "--out", dir, "--store", store)
	wantFailure(t, code, stderr, exitFail, "lcnet export: ", "labels[1]", "line break or tab")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s exists after a refused export", dir)
	}
	_, stderr, code = lcnet(t, nil, "export", "--model", "m", "--format", "paddle", "--opset", "13", "--out", dir, "--store", store)
	wantFailure(t, code, stderr, exitUsage, "lcnet export: ", "--opset")
}

package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/npy"
	"github.com/lcnet/lcnet/internal/vecs"
)

// zooRefs lists NAME:VERSION of every version in the store, via the CLI.
func zooRefs(t *testing.T, store string) []string {
	t.Helper()
	var rows []modelRow
	if err := json.Unmarshal([]byte(mustLcnet(t, "zoo", "list", "--json", "--store", store)), &rows); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, r := range rows {
		for _, v := range r.Versions {
			refs = append(refs, r.Name+":"+v)
		}
	}
	return refs
}

func TestConvertAndZoo(t *testing.T) {
	src := fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")
	store := t.TempDir()
	// Flags after the positional argument, then before it.
	out := mustLcnet(t, "convert", src, "--name", "m", "--store", store)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || lines[0] != "m:1" || !strings.Contains(lines[1], "1000 classes") || !strings.Contains(lines[1], "224x224") {
		t.Fatalf("convert printed %q, want m:1 and a summary", out)
	}
	out = mustLcnet(t, "convert", "--store", store, "--name=m", "--dtype", "fp16", src)
	if !strings.HasPrefix(out, "m:2\n") || !strings.Contains(out, "fp16") {
		t.Fatalf("second convert printed %q, want m:2 in fp16", out)
	}
	// LCNET_STORE stands in for --store.
	envOut, errOut, code := lcnet(t, []string{"LCNET_STORE=" + store}, "zoo", "list")
	if code != 0 {
		t.Fatalf("zoo list with LCNET_STORE: %d %s", code, errOut)
	}
	if !strings.Contains(envOut, "NAME") || !strings.Contains(envOut, "1,2") {
		t.Fatalf("zoo list:\n%s", envOut)
	}
	if refs := zooRefs(t, store); strings.Join(refs, " ") != "m:1 m:2" {
		t.Fatalf("zoo holds %v, want m:1 m:2", refs)
	}
	show := mustLcnet(t, "zoo", "show", "m", "--store", store)
	for _, want := range []string{"m:2", "fp16", "1000", "224x224", "tench", "Arch from:     ImageNet defaults"} {
		if !strings.Contains(show, want) {
			t.Errorf("zoo show m does not mention %q:\n%s", want, show)
		}
	}
	var man struct {
		Name, Version string
		Labels        []string
	}
	if err := json.Unmarshal([]byte(mustLcnet(t, "zoo", "show", "--json", "m:1", "--store", store)), &man); err != nil || man.Version != "1" {
		t.Fatalf("zoo show --json m:1: %+v, %v", man, err)
	}
	mustLcnet(t, "zoo", "rm", "m:1", "--store", store)
	if refs := zooRefs(t, store); strings.Join(refs, " ") != "m:2" {
		t.Fatalf("after rm the zoo holds %v, want m:2", refs)
	}
	_, errOut, code = lcnet(t, nil, "zoo", "show", "m:1", "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet zoo show: ", "m")
	_, errOut, code = lcnet(t, nil, "zoo", "rm", "m:1", "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet zoo rm: ")
}

func TestConvertLabelsFile(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	store := t.TempDir()
	labels := filepath.Join(t.TempDir(), "labels.txt")
	if err := os.WriteFile(labels, []byte("0 upright\n1 upside down\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustLcnet(t, "convert", src, "--name", "tl", "--labels", labels, "--store", store)
	if !strings.HasPrefix(out, "tl:1\n") || !strings.Contains(out, "2 classes") || !strings.Contains(out, "80x160") {
		t.Fatalf("convert printed %q", out)
	}
	if show := mustLcnet(t, "zoo", "show", "tl", "--store", store); !strings.Contains(show, `"upright", "upside down"`) {
		t.Fatalf("--labels did not replace the labels:\n%s", show)
	}
}

// TestConvertBadInputs: each broken source fails with exit 1, one line
// naming the file, and no change to the zoo.
func TestConvertBadInputs(t *testing.T) {
	good, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	payload := []byte("pwned")
	if err := tw.WriteHeader(&tar.Header{Name: "../../../tmp/lcnet-evil", Mode: 0o644, Size: int64(len(payload)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(payload); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	for _, tc := range []struct{ name, path string }{
		{"truncated", write("truncated.pdparams", good[:len(good)/2])},
		{"text", write("notes.pdparams", []byte("these are not the weights you are looking for\n"))},
		{"missing", filepath.Join(dir, "missing.pdparams")},
		{"evil tar", write("evil.tar", evil.Bytes())},
		{"empty", write("empty.pdparams", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			_, errOut, code := lcnet(t, nil, "convert", tc.path, "--name", "m", "--store", store)
			wantFailure(t, code, errOut, exitFail, "lcnet convert: ", filepath.Base(tc.path))
			if refs := zooRefs(t, store); len(refs) != 0 {
				t.Fatalf("a failed convert left %v in the zoo", refs)
			}
		})
	}
	if _, err := os.Stat("/tmp/lcnet-evil"); err == nil {
		t.Fatal("the evil tar wrote outside its directory")
	}
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestInferGolden: lcnet convert then lcnet infer reproduce the fixtures'
// expected outputs for all eight scales, with the nn issue's tolerances:
// fp32 within 1e-4*max(1, max|want|) on every output; fp16 weights with the
// same top-1 and cosine similarity >= 0.9999 on logits and features.
func TestInferGolden(t *testing.T) {
	scales := []string{"0_25", "0_35", "0_5", "0_75", "1_0", "1_5", "2_0", "2_5"}
	if testing.Short() {
		scales = []string{"0_25", "1_0"}
	}
	for _, scale := range scales {
		for _, dtype := range []string{"fp32", "fp16"} {
			t.Run(scale+"/"+dtype, func(t *testing.T) { inferGolden(t, "PPLCNet_x"+scale, dtype) })
		}
	}
}

func inferGolden(t *testing.T, name, dtype string) {
	store := t.TempDir()
	mustLcnet(t, "convert", fixtures.Path(t, "golden", name+".pdparams"), "--name", "g", "--dtype", dtype, "--store", store)
	out := t.TempDir()
	mustLcnet(t, "infer", "--model", "g:1", "--input", fixtures.Path(t, "golden", name+".input.npy"), "--out", out, "--store", store)
	for _, tc := range []struct {
		got, want string
		fp16Check bool
	}{
		{"logits.npy", name + ".logits.npy", true},
		{"probabilities.npy", name + ".probs.npy", false},
		{"features.npy", name + ".embedding.npy", true},
		{"pooled.npy", name + ".gap.npy", false},
	} {
		got, err := npy.ReadFile(filepath.Join(out, tc.got))
		if err != nil {
			t.Fatal(err)
		}
		want, err := npy.ReadFile(fixtures.Path(t, "golden", tc.want))
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Shape) != len(want.Shape) || got.Shape[0] != want.Shape[0] || got.Shape[1] != want.Shape[1] {
			t.Fatalf("%s: shape %v, want %v", tc.got, got.Shape, want.Shape)
		}
		if dtype == "fp32" {
			tol := 1e-4 * math.Max(1, vecs.MaxAbs(want.Data))
			if d := maxDiff(got.Data, want.Data); d > tol {
				t.Errorf("%s: max abs difference %.3g, want <= %.3g", tc.got, d, tol)
			}
			continue
		}
		if !tc.fp16Check {
			continue
		}
		rows, cols := want.Shape[0], want.Shape[1]
		for r := 0; r < rows; r++ {
			g, w := got.Data[r*cols:(r+1)*cols], want.Data[r*cols:(r+1)*cols]
			if c := vecs.Cosine(g, w); c < 0.9999 {
				t.Errorf("%s row %d: cosine %.6f < 0.9999", tc.got, r, c)
			}
			if tc.got == "logits.npy" && vecs.Argmax(g) != vecs.Argmax(w) {
				t.Errorf("row %d: fp16 top-1 %d, fp32 reference %d", r, vecs.Argmax(g), vecs.Argmax(w))
			}
		}
	}
	// A tensor that is not NCHW with 3 channels is refused, one line.
	bad := filepath.Join(t.TempDir(), "bad.npy")
	if err := npy.WriteFile(bad, &npy.Array{Shape: []int{2, 4}, Data: make([]float32, 8)}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := lcnet(t, nil, "infer", "--model", "g", "--input", bad, "--out", out, "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet infer: ", "bad.npy", "[N 3 H W]")
}

func writeTestPNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 300, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 300; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x ^ y), 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestClassifyExportBench(t *testing.T) {
	store := t.TempDir()
	mustLcnet(t, "convert", fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"), "--name", "g", "--store", store)
	img := filepath.Join(t.TempDir(), "a.png")
	writeTestPNG(t, img)

	var res classifyOutput
	if err := json.Unmarshal([]byte(mustLcnet(t, "classify", img, img, "--model", "g", "-k", "3", "--json", "--store", store)), &res); err != nil {
		t.Fatal(err)
	}
	if res.Model != "g" || res.Version != "1" || len(res.Results) != 2 || len(res.Results[0].Predictions) != 3 {
		t.Fatalf("classify --json: %+v", res)
	}
	p := res.Results[0].Predictions
	if !(p[0].Score >= p[1].Score && p[1].Score >= p[2].Score && p[0].Score <= 1 && p[2].Score > 0) || p[0].Label == "" {
		t.Fatalf("predictions not ranked probabilities: %+v", p)
	}
	if table := mustLcnet(t, "classify", img, "--model", "g", "--store", store); !strings.Contains(table, p[0].Label) {
		t.Fatalf("classify table does not show the top label %q:\n%s", p[0].Label, table)
	}
	_, errOut, code := lcnet(t, nil, "classify", filepath.Join(t.TempDir(), "nope.png"), "--model", "g", "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet classify: ", "nope.png")
	_, errOut, code = lcnet(t, nil, "classify", img, "--model", "nosuchmodel", "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet classify: ", "nosuchmodel")

	onnx := filepath.Join(t.TempDir(), "g.onnx")
	mustLcnet(t, "export", "--model", "g", "--format", "onnx", "--out", onnx, "--store", store)
	if st, err := os.Stat(onnx); err != nil || st.Size() < 100_000 {
		t.Fatalf("export wrote %v (%v), want an ONNX file with the weights", st, err)
	}

	var b benchResult
	if err := json.Unmarshal([]byte(mustLcnet(t, "bench", "--model", "g", "--duration", "300ms", "--warmup", "0s", "--size", "64x64", "--json", "--store", store)), &b); err != nil {
		t.Fatal(err)
	}
	if b.Model != "g" || b.Iterations < 5 || b.P50ms <= 0 || b.P99ms < b.P50ms || b.ImagesPerSec <= 0 || b.RSSBytes <= 0 || b.WeightBytes <= 0 || b.Impl == "" {
		t.Fatalf("bench --json: %+v", b)
	}
}

// TestPullMirror pulls through a local server standing in for the
// official site.
func TestPullMirror(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/PPLCNet_x0_25_pretrained.pdparams" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(data))
	}))
	defer srv.Close()
	store := t.TempDir()
	out := mustLcnet(t, "pull", "PP-LCNet_x0_25", "--mirror", srv.URL, "--store", store)
	if !strings.HasPrefix(out, "PPLCNet_x0_25:1\n") {
		t.Fatalf("pull printed %q", out)
	}
	if show := mustLcnet(t, "zoo", "show", "PPLCNet_x0_25", "--store", store); !strings.Contains(show, "tench") {
		t.Fatalf("pulled ImageNet model has no ImageNet labels:\n%s", show)
	}
	_, errOut, code := lcnet(t, nil, "pull", "PPLCNet_x1_0", "--mirror", srv.URL, "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet pull: ", "404")
}

// A dygraph checkpoint converted without a config says on stderr what it
// assumed; with its config it does not, and a config of another network is
// refused naming the first tensor that differs.
func TestConvertConfig(t *testing.T) {
	src := fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")
	store := t.TempDir()
	_, errOut, code := lcnet(t, nil, "convert", src, "--name", "m", "--store", store)
	if code != 0 || !strings.Contains(errOut, noConfigNote) {
		t.Fatalf("no config: exit %d, stderr %q", code, errOut)
	}
	dir := t.TempDir()
	write := func(name, scale string) string {
		p := filepath.Join(dir, name)
		doc := "Global:\n  image_shape: [3, 224, 224]\nArch:\n  name: PPLCNet_x" + scale + "\n  class_num: 1000\n" +
			"Infer:\n  transforms:\n    - ResizeImage:\n        resize_short: 256\n    - CropImage:\n        size: 224\n" +
			"  PostProcess:\n    class_id_map_file: ppcls/utils/imagenet1k_label_list.txt\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, errOut, code := lcnet(t, nil, "convert", src, "-c", write("right.yaml", "0_25"), "--name", "m", "--store", store)
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "m:2\n") {
		t.Fatalf("with config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	show := mustLcnet(t, "zoo", "show", "m:2", "--json", "--store", store)
	if !strings.Contains(show, `"arch": "config"`) {
		t.Errorf("zoo show does not record the config as the architecture's source:\n%s", show)
	}
	_, errOut, code = lcnet(t, nil, "convert", src, "--config", write("wrong.yaml", "1_0"), "--name", "m", "--store", store)
	wantFailure(t, code, errOut, 1, "lcnet convert: ", "conv1.conv.weight")

	// The config's transforms are the model's preprocessing: a resize
	// over the bound is refused, naming the key, as in an inference.yml.
	right, err := os.ReadFile(filepath.Join(dir, "right.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Replace(string(right), "resize_short: 256", "resize_short: 4096", 1)
	if huge == string(right) {
		t.Fatal("the config no longer has the resize this test edits")
	}
	p := filepath.Join(dir, "huge.yaml")
	if err := os.WriteFile(p, []byte(huge), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = lcnet(t, nil, "convert", src, "--config", p, "--name", "m", "--store", store)
	wantFailure(t, code, errOut, exitFail, "lcnet convert: ", "Infer.transforms", "resize_short is 4096, want 0 to 2048")
	if refs := zooRefs(t, store); len(refs) != 2 {
		t.Errorf("zoo holds %v after the refused convert, want m:1 and m:2 alone", refs)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/testimage"
)

// TestTrain runs the command line end to end on the real text-line model:
// convert, train twice (versions 1 and 2), show the lineage, classify
// with the new model and export it to ONNX.
func TestTrain(t *testing.T) {
	store := t.TempDir()
	mustLcnet(t, "convert", fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), "--name", "textline", "--store", store)
	data, err := testimage.TextFolder(t.TempDir(), 10, 0, 5)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"train", "--from", "textline", "--data", data, "--name", "lines", "--layer", "pooled",
		"--epochs", "30", "--lr", "0.01", "--augment", "crop", "--store", store}
	for v := 1; v <= 2; v++ {
		out, errOut, code := lcnet(t, nil, args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if want := "lines:" + string(rune('0'+v)); lines[0] != want || len(lines) != 2 || !strings.Contains(lines[1], "4 classes from textline:1") {
			t.Fatalf("stdout %q, want %s and a summary", out, want)
		}
		if !strings.Contains(errOut, "40 training images in 4 classes") || strings.Count(errOut, "epoch ") != 30 {
			t.Errorf("stderr lacks the data summary or 30 epoch lines:\n%s", errOut)
		}
	}
	// The same images as a PaddleClas list kept outside the image root,
	// and as a zip archive.
	lists := t.TempDir()
	var list strings.Builder
	for k, c := range testimage.TextClasses {
		entries, _ := os.ReadDir(filepath.Join(data, c))
		for _, e := range entries {
			fmt.Fprintf(&list, "%s/%s %d\n", c, e.Name(), k)
		}
	}
	listFile, labelsFile := filepath.Join(lists, "train_list.txt"), filepath.Join(lists, "labels.txt")
	must(t, os.WriteFile(listFile, []byte(list.String()), 0o644))
	must(t, os.WriteFile(labelsFile, []byte(strings.Join(testimage.TextClasses, "\n")+"\n"), 0o644))
	zipFile := filepath.Join(lists, "data.zip")
	writeZip(t, zipFile, data)
	for v, extra := range [][]string{{"--data", listFile, "--root", data, "--labels", labelsFile}, {"--data", zipFile, "--dtype", "fp16"}} {
		out := mustLcnet(t, append([]string{"train", "--from", "textline", "--name", "lines", "--layer", "pooled", "--epochs", "2", "--store", store}, extra...)...)
		if want := fmt.Sprintf("lines:%d\n4 classes", v+3); !strings.HasPrefix(out, want) {
			t.Errorf("%v: stdout %q, want %q...", extra, out, want)
		}
	}
	show := mustLcnet(t, "zoo", "show", "lines:2", "--store", store)
	for _, want := range []string{"Trained from:  textline:1", "layer pooled, adam lr 0.01, batch 32", "augment crop, 30 epochs", "Accuracy:", `"blank", "inverted", "rotated", "upright"`} {
		if !strings.Contains(show, want) {
			t.Errorf("zoo show lacks %q:\n%s", want, show)
		}
	}
	var m struct {
		Lineage struct {
			BaseName string `json:"base_name"`
			Dataset  string `json:"dataset_sha256"`
		} `json:"lineage"`
	}
	if err := json.Unmarshal([]byte(mustLcnet(t, "zoo", "show", "lines", "--json", "--store", store)), &m); err != nil || m.Lineage.BaseName != "textline" || len(m.Lineage.Dataset) != 64 {
		t.Errorf("zoo show --json lineage %+v, %v", m.Lineage, err)
	}

	img := filepath.Join(t.TempDir(), "up.png")
	b, err := testimage.PNG(testimage.TextImage("upright", 99, 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustLcnet(t, "classify", img, "--model", "lines:2", "--store", store, "-k", "1"); !strings.Contains(out, "upright") {
		t.Errorf("classify: %s", out)
	}
	onnxFile := filepath.Join(t.TempDir(), "lines.onnx")
	mustLcnet(t, "export", "--model", "lines:2", "--out", onnxFile, "--store", store)
	if st, err := os.Stat(onnxFile); err != nil || st.Size() < 100_000 {
		t.Errorf("export: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeZip(t *testing.T, file, dir string) {
	t.Helper()
	b, err := testimage.Zip(dir, "")
	if err == nil {
		err = os.WriteFile(file, b, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestTrainErrors(t *testing.T) {
	store := t.TempDir()
	empty := t.TempDir()
	must(t, os.Mkdir(filepath.Join(empty, "cats"), 0o755))
	must(t, os.Mkdir(filepath.Join(empty, "dogs"), 0o755))
	must(t, os.WriteFile(filepath.Join(empty, "dogs", "a.png"), []byte("x"), 0o644))
	for _, tc := range []struct {
		args     []string
		code     int
		contains []string
	}{
		{[]string{"--data", empty, "--name", "x"}, exitUsage, []string{"--from is required", "zoo list"}},
		{[]string{"--from", "a", "--name", "x"}, exitUsage, []string{"--data is required"}},
		{[]string{"--from", "a", "--data", empty}, exitUsage, []string{"--name is required"}},
		{[]string{"--from", "a", "--data", empty, "--name", "x", "--val", empty, "--val-split", "0.1"}, exitUsage, []string{"--val and --val-split"}},
		{[]string{"--from", "a", "--data", "/nonexistent", "--name", "x"}, exitUsage, []string{"--data /nonexistent", "no such file"}},
		{[]string{"--from", "a", "--data", empty, "--name", "x"}, exitFail, []string{"class folder has no images", "cats", "want a folder per class"}},
	} {
		_, errOut, code := lcnet(t, nil, append(append([]string{"train"}, tc.args...), "--store", store)...)
		wantFailure(t, code, errOut, tc.code, "lcnet train:", tc.contains...)
	}
}

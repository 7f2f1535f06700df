package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/internal/fixtures"
)

// TestZooManifestPreprocessBound serves a zoo one of whose manifests was
// edited by hand to resize to 4096x4096, which convert would refuse: a
// request for that version is refused with what is wrong, instead of
// resizing its 1x1 image into a gigabyte of float planes, and the
// model's other version still serves.
func TestZooManifestPreprocessBound(t *testing.T) {
	z, dir := realZoo(t, map[string]string{"m": textlinePath(t)})
	ck := filepath.Join(dir, "models", "m", "1", "manifest.json")
	good, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(good, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = "2"
	pre := m["preprocess"].(map[string]any)
	pre["resize_width"], pre["resize_height"] = 4096, 4096
	edited, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	v2 := filepath.Join(dir, "models", "m", "2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(dir, "models", "m", "1", m["weights_file"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"manifest.json": edited, m["weights_file"].(string): weights} {
		if err := os.WriteFile(filepath.Join(v2, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts, _ := serveZoo(t, z, nil)
	img := solid(t, "png", red, 1, 1)

	stop := heapPeak()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	status, body, err := post(t.Context(), ts.URL+"/v1/models/m/classify?version=2", "image/png", img)
	runtime.ReadMemStats(&after)
	peak := stop()
	total := after.TotalAlloc - before.TotalAlloc
	t.Logf("1x1 image to m:2: %d, allocated %.1f MB, heap peak +%.1f MB: %s", status, float64(total)/(1<<20), float64(peak)/(1<<20), body)
	if err != nil {
		t.Fatal(err)
	}
	var p client.Problem
	if status != http.StatusInternalServerError || json.Unmarshal([]byte(body), &p) != nil ||
		!strings.Contains(p.Detail, "m:2") || !strings.Contains(p.Detail, "resize width is 4096, want 0 to 2048") {
		t.Errorf("m:2 answered %d %s; want a 500 saying its resize is over the bound", status, body)
	}
	// Loading the network (about 1 MB of weights) and the request
	// itself; resizing to 4096x4096 alone would take 192 MiB.
	if total > 32<<20 || peak > 16<<20 {
		t.Errorf("allocated %d bytes, heap peak +%d bytes; want at most 32 MiB and 16 MiB", total, peak)
	}

	status, body, err = post(t.Context(), ts.URL+"/v1/models/m/classify", "image/png", img)
	if err != nil || status != http.StatusOK {
		t.Errorf("latest of m with m:2 broken: %d %v %s; want m:1 to answer", status, err, body)
	}
}

// TestUploadConfigPreprocessBound uploads a checkpoint with a training
// config whose Infer.transforms resize to 4096: refused as a 422 naming
// the key, before anything is imported.
func TestUploadConfigPreprocessBound(t *testing.T) {
	z, _ := realZoo(t, nil)
	ts, _ := serveZoo(t, z, nil)
	c, err := client.New(ts.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	config := "Arch:\n  name: PPLCNet_x0_25\n  class_num: 1000\n" +
		"Infer:\n  transforms:\n    - ResizeImage:\n        resize_short: 4096\n    - CropImage:\n        size: 224\n"
	_, err = c.Upload(context.Background(), "huge", "", "",
		client.UploadFile{Name: "m.pdparams", Data: bytes.NewReader(weights)},
		client.UploadFile{Name: "c.yaml", Data: strings.NewReader(config), Field: "config"})
	var pe *client.ProblemError
	if !errors.As(err, &pe) || pe.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(pe.Detail, "Infer.transforms") || !strings.Contains(pe.Detail, "resize_short is 4096") {
		t.Fatalf("got %v; want a 422 naming Infer.transforms and the resize", err)
	}
	t.Log(pe.Detail)
	if ms, err := z.Models(context.Background()); err != nil || len(ms) != 0 {
		t.Fatalf("the refused upload left %+v (%v)", ms, err)
	}
}

// TestLoadPreprocessBound is the same manifest from a backend that does
// not check it: the model's load refuses it, and the request is answered
// from the manifest's sizes alone.
func TestLoadPreprocessBound(t *testing.T) {
	f := newFake("m")
	f.mu.Lock()
	f.versions["m"][0].Preprocess.ResizeWidth, f.versions["m"][0].Preprocess.ResizeHeight = 4096, 4096
	f.mu.Unlock()
	_, ts := newTestServer(t, f, nil)
	stop := heapPeak()
	status, body, err := post(t.Context(), ts.URL+"/v1/models/m/classify", "image/png", solid(t, "png", red, 1, 1))
	peak := stop()
	t.Logf("1x1 image: %d, heap peak +%.1f MB: %s", status, float64(peak)/(1<<20), body)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusInternalServerError || !strings.Contains(body, "resize width is 4096, want 0 to 2048") {
		t.Errorf("answered %d %s; want a 500 saying the resize is over the bound", status, body)
	}
	// Each request starts a load of its own, which fails at once and
	// leaves the cache: however the two interleave, the answer is the
	// load's error, never a 503 saying the model was unloaded.
	for i := range 100 {
		status, body, err := post(t.Context(), ts.URL+"/v1/models/m/classify", "image/png", solid(t, "png", red, 1, 1))
		if err != nil || status != http.StatusInternalServerError {
			t.Fatalf("request %d: %d %v %s; want the load's 500", i, status, err, body)
		}
	}
	if f.loads.Load() != 0 {
		t.Error("the network was loaded for a manifest that cannot be served")
	}
	// A 4096x4096 resize would take 192 MiB of float planes.
	if peak > 16<<20 {
		t.Errorf("heap peak +%d MiB, want under 16 MiB", peak>>20)
	}
}

package zoo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/storage"
)

func newZoo(t *testing.T) (*Zoo, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return New(s), dir
}

func sampleTensors() map[string]arch.Tensor {
	return map[string]arch.Tensor{
		"conv1.conv.weight": {Shape: []int{2, 3, 1, 1}, Data: []float32{1, -2, 3.5, 0.25, 1e-3, -7}},
		"conv1.bn._mean":    {Shape: []int{2}, Data: []float32{0.5, -0.5}},
		"fc.bias":           {Shape: []int{3}, Data: []float32{0.1, 0.2, 0.3}},
	}
}

func sampleManifest(name string) Manifest {
	return Manifest{Name: name, Arch: arch.DefaultArch(0.25, 3), Preprocess: arch.DefaultPreprocess(), Labels: []string{"a", "b", "c"}}
}

func TestCreateResolveWeights(t *testing.T) {
	ctx := context.Background()
	for _, dt := range []DType{FP32, FP16} {
		t.Run(string(dt), func(t *testing.T) {
			z, _ := newZoo(t)
			m := sampleManifest("m")
			m.DType = dt
			got, err := z.Create(ctx, m, sampleTensors())
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != "1" || got.WeightsSHA256 == "" || got.WeightsSize == 0 || got.CreatedAt.IsZero() {
				t.Fatalf("manifest not filled: %+v", got)
			}
			if got.Params != 9 {
				t.Fatalf("params %d, want 9 (BN statistics excluded)", got.Params)
			}
			r, err := z.Resolve(ctx, "m", "")
			if err != nil {
				t.Fatal(err)
			}
			w, err := z.Weights(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range sampleTensors() {
				have := w[name]
				if fmt.Sprint(have.Shape) != fmt.Sprint(want.Shape) {
					t.Fatalf("%s: shape %v want %v", name, have.Shape, want.Shape)
				}
				for i := range want.Data {
					tol := 0.0
					if dt == FP16 {
						tol = 1e-3 * math.Max(1, math.Abs(float64(want.Data[i])))
					}
					if d := math.Abs(float64(have.Data[i] - want.Data[i])); d > tol {
						t.Fatalf("%s[%d] = %v want %v", name, i, have.Data[i], want.Data[i])
					}
				}
			}
		})
	}
}

func TestLatestMovesAndDelete(t *testing.T) {
	ctx := context.Background()
	z, _ := newZoo(t)
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tick := 0
	z.now = func() time.Time { tick++; return base.Add(time.Duration(tick) * time.Minute) }
	for i := 0; i < 3; i++ {
		if _, err := z.Create(ctx, sampleManifest("m"), sampleTensors()); err != nil {
			t.Fatal(err)
		}
	}
	named := sampleManifest("m")
	named.Version = "stable"
	if _, err := z.Create(ctx, named, sampleTensors()); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Create(ctx, named, sampleTensors()); !errors.Is(err, ErrVersionExists) {
		t.Fatalf("re-creating a version: %v", err)
	}
	latest := func() string {
		m, err := z.Resolve(ctx, "m", "latest")
		if err != nil {
			t.Fatal(err)
		}
		return m.Version
	}
	if v := latest(); v != "stable" {
		t.Fatalf("latest %q, want the newest (stable)", v)
	}
	if err := z.Delete(ctx, "m", "stable"); err != nil {
		t.Fatal(err)
	}
	if v := latest(); v != "3" {
		t.Fatalf("latest after delete %q, want 3", v)
	}
	if err := z.Delete(ctx, "m", ""); err == nil {
		t.Fatal("delete without a version succeeded")
	}
	if _, err := z.Resolve(ctx, "m", "stable"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "newest: 3, 2, 1") {
		t.Fatalf("resolving a deleted version: %v", err)
	}
	// A deleted version's number is never handed out again.
	m, err := z.Create(ctx, sampleManifest("m"), sampleTensors())
	if err != nil || m.Version != "4" {
		t.Fatalf("next version %q %v, want 4", m.Version, err)
	}
	models, err := z.Models(ctx)
	if err != nil || len(models) != 1 || len(models[0].Versions) != 4 || models[0].Latest != "4" {
		t.Fatalf("Models = %+v, %v", models, err)
	}
	if _, err := z.Resolve(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestChecksumMismatchRefusesOnlyThatVersion(t *testing.T) {
	ctx := context.Background()
	z, dir := newZoo(t)
	good, _ := z.Create(ctx, sampleManifest("good"), sampleTensors())
	bad, _ := z.Create(ctx, sampleManifest("bad"), sampleTensors())
	p := filepath.Join(dir, "models", "bad", bad.Version, weightsFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0x40
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := z.Weights(ctx, bad); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "bad:1") {
		t.Fatalf("corrupted weights: %v", err)
	}
	if _, err := z.Weights(ctx, good); err != nil {
		t.Fatalf("the intact model stopped loading: %v", err)
	}
}

func TestConcurrentCreatesGetDistinctVersions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Two zoos over one directory stand for two processes.
	var zoos []*Zoo
	for i := 0; i < 2; i++ {
		s, err := storage.NewLocal(dir)
		if err != nil {
			t.Fatal(err)
		}
		zoos = append(zoos, New(s))
	}
	const n = 20
	var wg sync.WaitGroup
	versions := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := zoos[i%2].Create(ctx, sampleManifest("m"), sampleTensors())
			if err != nil {
				t.Error(err)
				return
			}
			versions <- m.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[string]bool{}
	for v := range versions {
		if seen[v] {
			t.Fatalf("version %s handed out twice", v)
		}
		seen[v] = true
	}
	vs, err := zoos[0].Versions(ctx, "m")
	if err != nil || len(vs) != n {
		t.Fatalf("%d complete versions, want %d (%v)", len(vs), n, err)
	}
	for _, m := range vs {
		if _, err := zoos[1].Weights(ctx, m); err != nil {
			t.Fatalf("version %s is not complete: %v", m.Version, err)
		}
	}
}

func TestFailedCreateLeavesNoVersion(t *testing.T) {
	ctx := context.Background()
	z, dir := newZoo(t)
	bad := sampleTensors()
	bad["broken"] = arch.Tensor{Shape: []int{4}, Data: []float32{1}} // fails mid-stream
	if _, err := z.Create(ctx, sampleManifest("m"), bad); err == nil {
		t.Fatal("Create with a malformed tensor succeeded")
	}
	if vs, _ := z.Versions(ctx, "m"); len(vs) != 0 {
		t.Fatalf("a failed create left versions %v", vs)
	}
	var files []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, strings.TrimPrefix(p, dir))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	for _, f := range files {
		if strings.HasSuffix(f, manifestFile) || strings.HasSuffix(f, weightsFile) {
			t.Fatalf("a failed create left %s", f)
		}
	}
	// The failed create gave its claim back, so nothing is skipped, and a
	// named version that failed can be retried.
	if m, err := z.Create(ctx, sampleManifest("m"), sampleTensors()); err != nil || m.Version != "1" {
		t.Fatalf("next create: %q %v, want 1", m.Version, err)
	}
	named := sampleManifest("m")
	named.Version = "stable"
	if _, err := z.Create(ctx, named, bad); err == nil {
		t.Fatal("Create with a malformed tensor succeeded")
	}
	if m, err := z.Create(ctx, named, sampleTensors()); err != nil || m.Version != "stable" {
		t.Fatalf("retrying m:stable: %q %v", m.Version, err)
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		ref, name, version string
		ok                 bool
	}{
		{"PPLCNet_x1_0", "PPLCNet_x1_0", "", true},
		{"PP-LCNet_x0_25_textline_ori:3", "PP-LCNet_x0_25_textline_ori", "3", true},
		{"m:latest", "m", "", true},
		{"m:v1.2", "m", "v1.2", true},
		{"../etc", "", "", false},
		{"a/b", "", "", false},
		{"", "", "", false},
		{"m:", "m", "", true},
		{"m:..", "", "", false},
		{".hidden", "", "", false},
		{strings.Repeat("x", 129), "", "", false},
	} {
		name, version, err := ParseRef(tc.ref)
		if (err == nil) != tc.ok || name != tc.name || version != tc.version {
			t.Errorf("ParseRef(%q) = %q, %q, %v", tc.ref, name, version, err)
		}
	}
}

func TestImageNetLabels(t *testing.T) {
	l := ImageNetLabels()
	if len(l) != 1000 {
		t.Fatalf("%d labels", len(l))
	}
	for i, want := range map[int]string{0: "tench, Tinca tinca", 281: "tabby, tabby cat", 999: "toilet tissue, toilet paper, bathroom tissue"} {
		if l[i] != want {
			t.Errorf("label %d = %q, want %q", i, l[i], want)
		}
	}
}

func FuzzReadSafetensors(f *testing.F) {
	var buf bytes.Buffer
	if err := writeSafetensors(&buf, sampleTensors(), FP32); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	buf.Reset()
	if err := writeSafetensors(&buf, sampleTensors(), FP16); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{}}        "))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := readSafetensors(b)
		if err != nil {
			return
		}
		for name, tn := range ts {
			if err := tn.Check(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		// Whatever decodes must survive our own fp32 encoding bit for bit.
		var out bytes.Buffer
		if err := writeSafetensors(&out, ts, FP32); err != nil {
			if len(ts) == 0 {
				return
			}
			t.Fatalf("re-encoding: %v", err)
		}
		again, err := readSafetensors(out.Bytes())
		if err != nil {
			t.Fatalf("re-reading our own encoding: %v", err)
		}
		for name, tn := range ts {
			a := again[name]
			if fmt.Sprint(a.Shape) != fmt.Sprint(tn.Shape) || len(a.Data) != len(tn.Data) {
				t.Fatalf("%s: shape %v became %v", name, tn.Shape, a.Shape)
			}
			for i := range tn.Data {
				if math.Float32bits(a.Data[i]) != math.Float32bits(tn.Data[i]) {
					t.Fatalf("%s[%d]: %v became %v", name, i, tn.Data[i], a.Data[i])
				}
			}
		}
	})
}

// TestCrashBeforeManifest stands for a process killed after the weights
// were written but before the manifest, with a temp file of the next write
// still lying around: neither may show up as a version.
func TestCrashBeforeManifest(t *testing.T) {
	ctx := context.Background()
	z, dir := newZoo(t)
	if _, err := z.Create(ctx, sampleManifest("m"), sampleTensors()); err != nil {
		t.Fatal(err)
	}
	s := z.Store()
	if err := s.PutIfAbsent(ctx, "models/m/2/claim", strings.NewReader("")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "models/m/2/"+weightsFile, strings.NewReader("half a model")); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		os.WriteFile(filepath.Join(dir, "models", "m", "2", ".tmp-manifest.json-dead"), []byte("{"), 0o644),
		os.MkdirAll(filepath.Join(dir, "models", "other", "1"), 0o755),
		os.WriteFile(filepath.Join(dir, "models", "other", "1", ".tmp-weights.safetensors-dead"), []byte("x"), 0o644),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	models, err := z.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 1 || models[0].Name != "m" || len(models[0].Versions) != 1 || models[0].Latest != "1" {
		t.Fatalf("Models = %+v, want only m with its complete version 1", models)
	}
	if m, err := z.Resolve(ctx, "m", "latest"); err != nil || m.Version != "1" {
		t.Fatalf("latest = %q %v, want 1", m.Version, err)
	}
	if _, err := z.Resolve(ctx, "m", "2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the partial version resolved: %v", err)
	}
	if _, err := z.Resolve(ctx, "other", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a model with only a temp file resolved: %v", err)
	}
	// The next create skips the claimed number.
	if m, err := z.Create(ctx, sampleManifest("m"), sampleTensors()); err != nil || m.Version != "3" {
		t.Fatalf("next version %q %v, want 3", m.Version, err)
	}

	// Clean leaves young leftovers alone (a create may still be running)
	// and removes old ones, keeping complete versions.
	if got, err := z.Clean(ctx, time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("Clean(1h) = %v %v, want nothing cleaned", got, err)
	}
	got, err := z.Clean(ctx, 0)
	if err != nil || fmt.Sprint(got) != "[m:2]" {
		t.Fatalf("Clean(0) = %v %v, want [m:2]", got, err)
	}
	if _, err := s.Stat(ctx, "models/m/2/"+weightsFile); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("partial weights survived Clean: %v", err)
	}
	if vs, err := z.Versions(ctx, "m"); err != nil || len(vs) != 2 {
		t.Fatalf("after Clean: %d versions %v, want 2", len(vs), err)
	}
	for _, v := range []string{"1", "3"} {
		m, _ := z.Resolve(ctx, "m", v)
		if _, err := z.Weights(ctx, m); err != nil {
			t.Fatalf("Clean damaged m:%s: %v", v, err)
		}
	}
}

func TestBrokenManifestKeepsTheRestServing(t *testing.T) {
	ctx := context.Background()
	z, dir := newZoo(t)
	for _, name := range []string{"a", "b", "b"} {
		if _, err := z.Create(ctx, sampleManifest(name), sampleTensors()); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"truncated", `{"name":"b","vers`, "unexpected EOF"},
		{"wrong type", `{"name":"b","version":2}`, "cannot unmarshal"},
		{"moved", `{"name":"b","version":"7"}`, "names b:7"},
		{"escaping weights", `{"name":"b","version":"2","weights_file":"../../a/1/weights.safetensors"}`, "weights_file"},
		// Edited by hand, or written before convert bounded it: every
		// request, however small its image, would cost 1 GB to resize.
		{"resize 4096", `{"name":"b","version":"2","preprocess":{"resize_width":4096,"resize_height":4096,"scale":0.0039,"std":[1,1,1]}}`, "resize width is 4096, want 0 to 2048"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "models", "b", "2", manifestFile), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			models, err := z.Models(ctx)
			if err != nil {
				t.Fatalf("one damaged manifest broke the listing: %v", err)
			}
			if len(models) != 2 || len(models[0].Versions) != 1 || models[1].Latest != "1" ||
				len(models[1].Broken) != 1 || models[1].Broken[0].Version != "2" || !strings.Contains(models[1].Broken[0].Error, tc.want) {
				t.Fatalf("Models = %+v", models)
			}
			if m, err := z.Resolve(ctx, "b", ""); err != nil || m.Version != "1" {
				t.Fatalf("latest of b = %q %v, want 1", m.Version, err)
			}
			_, err = z.Resolve(ctx, "b", "2")
			if !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), "b:2") {
				t.Fatalf("resolving the damaged version: %v", err)
			}
		})
	}
	// Deleting is how a damaged version goes away.
	if err := z.Delete(ctx, "b", "2"); err != nil {
		t.Fatalf("deleting the damaged version: %v", err)
	}
	models, err := z.Models(ctx)
	if err != nil || len(models) != 2 || len(models[1].Broken) != 0 || len(models[1].Versions) != 1 {
		t.Fatalf("after deleting the damaged version: %+v %v", models, err)
	}
}

func TestCreateRejects(t *testing.T) {
	ctx := context.Background()
	z, _ := newZoo(t)
	for _, tc := range []struct {
		name, version string
		dtype         DType
		tensors       map[string]arch.Tensor
		want          string
	}{
		{"../x", "", FP32, sampleTensors(), "letters, digits, '.', '_' or '-'"},
		{"a/b", "", FP32, sampleTensors(), "letters, digits"},
		{"m", "..", FP32, sampleTensors(), `version ".."`},
		{"m", "1/2", FP32, sampleTensors(), `version "1/2"`},
		{"m", "", "int8", sampleTensors(), "use fp32 or fp16"},
		{"m", "", FP32, nil, "no tensors"},
	} {
		m := sampleManifest(tc.name)
		m.Version, m.DType = tc.version, tc.dtype
		_, err := z.Create(ctx, m, tc.tensors)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%q, %q, %q): %v, want an error mentioning %q", tc.name, tc.version, tc.dtype, err, tc.want)
		}
	}
	huge := sampleManifest("m")
	huge.Preprocess.ResizeShort = 4096
	if _, err := z.Create(ctx, huge, sampleTensors()); err == nil || !strings.Contains(err.Error(), "resize_short is 4096") {
		t.Errorf("Create with a 4096 resize: %v, want it refused", err)
	}
	if models, _ := z.Models(ctx); len(models) != 0 {
		t.Fatalf("rejected creates left %+v", models)
	}
}

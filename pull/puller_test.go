package pull

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/storage"
	"github.com/lcnet/lcnet/zoo"
)

func newZoo(t *testing.T) *zoo.Zoo {
	t.Helper()
	st, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return zoo.New(st)
}

// goldenSite serves the x0_25 fixture under its official file name.
func goldenSite(t *testing.T) (*site, []byte) {
	t.Helper()
	data, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	return newSite(t, map[string][]byte{"PPLCNet_x0_25_pretrained.pdparams": data}), data
}

func versions(t *testing.T, z *zoo.Zoo) []string {
	t.Helper()
	models, err := z.Models(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var vs []string
	for _, m := range models {
		for _, v := range m.Versions {
			vs = append(vs, m.Name+":"+v.Version)
		}
	}
	return vs
}

func TestPull(t *testing.T) {
	s, data := goldenSite(t)
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL, CacheDir: t.TempDir(), Backoff: time.Millisecond})
	var last, total int64
	m, err := p.Pull(context.Background(), "pplcnet_x0_25", func(d, tt int64) { last, total = d, tt })
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "PPLCNet_x0_25" || m.Version != "1" || m.Arch.ClassNum != 1000 || len(m.Labels) != 1000 {
		t.Fatalf("pulled %s:%s with %d classes and %d labels, want PPLCNet_x0_25:1 with 1000 ImageNet labels",
			m.Name, m.Version, m.Arch.ClassNum, len(m.Labels))
	}
	if last != int64(len(data)) || total != int64(len(data)) {
		t.Errorf("progress ended at %d/%d, want %d/%d", last, total, len(data), len(data))
	}
	// A second pull finds the model in the zoo and downloads nothing.
	m2, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil)
	if err != nil || m2.Version != "1" {
		t.Fatalf("second pull: %s, %v; want version 1 again", m2.Version, err)
	}
	if ranges, _ := s.requests(); len(ranges) != 1 {
		t.Errorf("%d downloads for two pulls, want 1", len(ranges))
	}
	if left, _ := filepath.Glob(filepath.Join(p.fetcher.Dir, "*")); len(left) != 0 {
		t.Errorf("download cache keeps %v after a successful pull", left)
	}
}

// TestPullConcurrent: 20 simultaneous requests for one model make one
// download and one version, and every caller gets it.
func TestPullConcurrent(t *testing.T) {
	s, _ := goldenSite(t)
	s.delay = 100 * time.Millisecond
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL, CacheDir: t.TempDir()})
	var imports atomic.Int32
	real := p.importFn
	p.importFn = func(ctx context.Context, path string, e Entry, req Request) (zoo.Manifest, error) {
		imports.Add(1)
		return real(ctx, path, e, req)
	}
	var wg sync.WaitGroup
	got := make([]string, 20)
	errs := make([]error, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil)
			got[i], errs[i] = m.Name+":"+m.Version, err
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != "PPLCNet_x0_25:1" {
			t.Fatalf("caller %d: %s, %v", i, got[i], errs[i])
		}
	}
	if ranges, _ := s.requests(); len(ranges) != 1 {
		t.Errorf("%d downloads for 20 concurrent pulls, want 1", len(ranges))
	}
	if n := imports.Load(); n != 1 {
		t.Errorf("%d imports, want 1", n)
	}
	if vs := versions(t, z); len(vs) != 1 {
		t.Errorf("zoo holds %v, want one version", vs)
	}
}

// TestPullBrokenDownload: a server that always breaks off mid-file makes
// the pull fail with no version in the zoo; once it recovers, the next
// pull resumes from the part file.
func TestPullBrokenDownload(t *testing.T) {
	s, data := goldenSite(t)
	s.breakAt, s.breaks["PPLCNet_x0_25_pretrained.pdparams"] = len(data)/2, 2
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL, CacheDir: t.TempDir(), Attempts: 2, Backoff: time.Millisecond})
	_, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil)
	if !errors.Is(err, ErrIncomplete) {
		t.Fatalf("err = %v, want ErrIncomplete", err)
	}
	if vs := versions(t, z); len(vs) != 0 {
		t.Fatalf("a broken download left versions %v", vs)
	}
	if _, err := z.Resolve(context.Background(), "PPLCNet_x0_25", ""); !errors.Is(err, zoo.ErrNotFound) {
		t.Fatalf("Resolve after a broken pull: %v, want ErrNotFound", err)
	}
	m, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil)
	if err != nil || m.Version != "1" {
		t.Fatalf("pull after recovery: %s, %v", m.Version, err)
	}
	ranges, full := s.requests()
	if full != 1 || len(ranges) < 3 || ranges[1] != fmt.Sprintf("bytes=%d-", len(data)/2) {
		t.Errorf("requests %q: want one full request, then resumes from %d", ranges, len(data)/2)
	}
}

// TestPullBadFile: a download that is not a model fails in conversion and
// leaves nothing in the zoo.
func TestPullBadFile(t *testing.T) {
	s := newSite(t, map[string][]byte{"PPLCNet_x1_0_pretrained.pdparams": []byte("<html>not found</html>")})
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL, CacheDir: t.TempDir()})
	if _, err := p.Pull(context.Background(), "PPLCNet_x1_0", nil); err == nil {
		t.Fatal("an HTML page was imported as a model")
	}
	if vs := versions(t, z); len(vs) != 0 {
		t.Fatalf("zoo holds %v after a failed import", vs)
	}
}

func TestPullUnknown(t *testing.T) {
	p := New(newZoo(t), Options{CacheDir: t.TempDir()})
	_, err := p.Pull(context.Background(), "ResNet50", nil)
	if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), "PPLCNet_x1_0") {
		t.Fatalf("err = %v, want ErrUnknownModel listing the catalog", err)
	}
}

// TestPullCancel: when the only caller gives up, the download stops; a
// later pull still works.
func TestPullCancel(t *testing.T) {
	s, _ := goldenSite(t)
	s.delay = 500 * time.Millisecond
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL, CacheDir: t.TempDir()})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Pull(ctx, "PPLCNet_x0_25", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	s.mu.Lock()
	s.delay = 0
	s.mu.Unlock()
	if _, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil); err != nil {
		t.Fatalf("pull after a cancelled one: %v", err)
	}
}

// TestPullInferenceTar serves the real PaddleX text-line model as the tar
// PaddleX ships and checks the import keeps its labels and input size.
func TestPullInferenceTar(t *testing.T) {
	dir := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []string{"inference.json", "inference.pdiparams", "inference.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: "PP-LCNet_x0_25_textline_ori_infer/" + f, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	s := newSite(t, map[string][]byte{"PP-LCNet_x0_25_textline_ori_infer.tar": buf.Bytes()})
	z := newZoo(t)
	p := New(z, Options{Mirror: s.URL + "/paddlex/", CacheDir: t.TempDir()})
	m, err := p.PullRequest(context.Background(), Request{Name: "PP-LCNet_x0_25_textline_ori", Version: "v3", DType: zoo.FP16}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "v3" || m.DType != zoo.FP16 || m.Arch.ClassNum != 2 || strings.Join(m.Labels, ",") != "0_degree,180_degree" {
		t.Fatalf("pulled %s:%s %s, %d classes, labels %q", m.Name, m.Version, m.DType, m.Arch.ClassNum, m.Labels)
	}
	if h, w := m.Preprocess.OutputSize(); h != 80 || w != 160 {
		t.Errorf("input %dx%d, want 80x160", h, w)
	}
}

// TestPullProgress: while a pull is under way its progress can be read
// by name (the server reports it); afterwards there is none.
func TestPullProgress(t *testing.T) {
	s, data := goldenSite(t)
	s.delay = 300 * time.Millisecond
	p := New(newZoo(t), Options{Mirror: s.URL, CacheDir: t.TempDir()})
	done := make(chan error, 1)
	go func() {
		_, err := p.Pull(context.Background(), "PPLCNet_x0_25", nil)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, total, ok := p.Progress("pplcnet_x0_25"); ok {
			if total != -1 && total != int64(len(data)) {
				t.Errorf("progress total %d, want -1 or %d", total, len(data))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no progress reported during the pull")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, ok := p.Progress("PPLCNet_x0_25"); ok {
		t.Error("progress still reported after the pull finished")
	}
}

// A PULC tar is a Paddle 2 program without inference.yml: the entry gives
// the labels, the pipeline (and so the input size) and the multi-label
// head. The legacy fixture is such a program, with 1000 classes.
func TestCompletePULC(t *testing.T) {
	ctx := context.Background()
	ck, err := convert.Read(ctx, fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer"), convert.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Preprocess != nil || len(ck.Labels) != 0 {
		t.Fatalf("the fixture has an inference.yml after all: %+v %q", ck.Preprocess, ck.Labels)
	}
	labels := make([]string, 1000)
	for i := range labels {
		labels[i] = fmt.Sprintf("attr%d", i)
	}
	e := Entry{Name: "PULC_x", Kind: PULCTar, Classes: 1000, MultiLabel: true, Labels: labels, Preprocess: pulcResize(192, 256, 1.0/255)}
	opts := convert.ImportOptions{Name: e.Name}
	e.complete(ck, &opts)
	m, err := convert.Import(ctx, newZoo(t), ck, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Arch.MultiLabel || m.Labels[999] != "attr999" || m.Arch.InputHeight != 256 || m.Arch.InputWidth != 192 ||
		m.Preprocess.ResizeWidth != 192 || m.Preprocess.ResizeHeight != 256 || m.Preprocess.CropWidth != 0 {
		t.Errorf("manifest arch %dx%d multi-label %v, preprocess %+v", m.Arch.InputHeight, m.Arch.InputWidth, m.Arch.MultiLabel, m.Preprocess)
	}
	// What the download states wins over the entry.
	ck.Labels = []string{"own"}
	opts = convert.ImportOptions{}
	e.complete(ck, &opts)
	if opts.Labels != nil {
		t.Errorf("entry labels replaced the download's: %q", opts.Labels[:2])
	}
}

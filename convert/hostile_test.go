package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/internal/hostile"
)

// Hostile model files, generated at test time: each is built to make a
// reader allocate far more than its own size, and each test measures the
// heap the read costs. LCNET_HOSTILE_FULL=1 builds them at the sizes of
// the reports in issue #18 instead of the small, fast defaults.

const mb = hostile.MB

func fullSize() bool { return os.Getenv("LCNET_HOSTILE_FULL") != "" }

// memUse runs fn and returns the bytes it allocated in all (TotalAlloc
// delta) and the highest HeapAlloc above the starting heap sampled while
// it ran.
func memUse(fn func()) (total, peak uint64) {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc-min(m.HeapAlloc, before.HeapAlloc))
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	fn()
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, peak
}

// readMeasured reads path with Read, logs what it cost and fails the test
// when it allocated more than limit bytes in all.
func readMeasured(t *testing.T, path string, limit uint64) error {
	t.Helper()
	var err error
	total, peak := memUse(func() { _, err = Read(context.Background(), path, ReadOptions{}) })
	msg := fmt.Sprint(err)
	t.Logf("%s: allocated %.1f MB, peak heap %.1f MB; error (%d bytes): %.300s",
		filepath.Base(path), float64(total)/mb, float64(peak)/mb, len(msg), msg)
	if total > limit {
		t.Errorf("allocated %d bytes, want at most %d", total, limit)
	}
	if len(msg) > 2048 {
		t.Errorf("error message of %d bytes, want a short one", len(msg))
	}
	return err
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHostilePdparams(t *testing.T) {
	n, refs := 256*1024, 200 // 1 MB array, 200 MB when each name decodes it
	if fullSize() {
		refs = 3000
	}
	t.Run("memo references", func(t *testing.T) {
		err := readMeasured(t, writeTemp(t, "memo.pdparams", hostile.MemoPdparams(n, refs)), 16*mb)
		if err == nil || !strings.Contains(err.Error(), "same array") {
			t.Fatalf("got %v, want the shared array refused", err)
		}
	})
	t.Run("over the largest architecture", func(t *testing.T) {
		// 24 MB of float16 zeros: 48 MB of float32, over what PP-LCNet
		// x2.5 with 1000 classes holds (9.4M values).
		err := readMeasured(t, writeTemp(t, "big.pdparams", hostile.BigPdparams(1<<20, 12)), 40*mb)
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("got %v, want a *LimitError", err)
		}
	})
}

func TestHostileArchive(t *testing.T) {
	size := int64(128 * mb)
	if fullSize() {
		size = 1 << 30
	}
	tests := []struct {
		name  string
		files []string
	}{
		// Declared in the tar headers: refused before reading.
		{"model files", []string{"inference.pdiparams", "inference.json"}},
		// Files no reader wants are skipped, not kept, but their bytes
		// still come out of gzip: counted while streaming.
		{"skipped files", []string{"README", "LICENSE", "model.pdparams"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bomb := hostile.TarGz(size, tc.files...)
			err := readMeasured(t, writeTemp(t, "bomb.tar.gz", bomb), 16*mb)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LimitError", err)
			}
		})
	}
}

func TestHostilePIR(t *testing.T) {
	size := 20 * mb
	if fullSize() {
		size = 50 * mb
	}
	t.Run("over the size cap", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fileJSON), hostile.PIR(size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filePdiparams), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		err := readMeasured(t, filepath.Join(dir, fileJSON), 4*mb)
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("got %v, want a *LimitError", err)
		}
	})
	t.Run("values under the size cap", func(t *testing.T) {
		data := hostile.PIR(maxProgramBytes - 1024)
		var err error
		total, peak := memUse(func() { _, err = parsePIR(data) })
		t.Logf("%d bytes: allocated %.1f MB, peak heap %.1f MB: %v", len(data), float64(total)/mb, float64(peak)/mb, err)
		var le *LimitError
		if !errors.As(err, &le) {
			t.Fatalf("got %v, want a *LimitError", err)
		}
		if total > 4*mb {
			t.Errorf("allocated %d bytes, want at most 4 MB", total)
		}
	})
	t.Run("long strings under both caps", func(t *testing.T) {
		// The worst a program under the caps can do: few values, each a
		// long string, copied by every level of RawMessage.
		long := strings.Repeat("x", mb)
		var b bytes.Buffer
		b.WriteString(`{"base_code":{"magic":"pir"},"program":{"regions":[{"blocks":[{"ops":[`)
		for b.Len() < maxProgramBytes-2*mb {
			fmt.Fprintf(&b, `{"#":"1.conv2d","A":[{"N":"%s","AT":{"#":"0.a_str","D":"%s"}}]},`, long[:mb/2], long[:mb/2])
		}
		b.WriteString(`{"#":"1.relu"}]}]}]}}`)
		var err error
		total, peak := memUse(func() { _, err = parsePIR(b.Bytes()) })
		t.Logf("%d bytes: allocated %.1f MB, peak heap %.1f MB: %v", b.Len(), float64(total)/mb, float64(peak)/mb, err)
		if total > 96*mb {
			t.Errorf("allocated %d bytes, want at most 96 MB", total)
		}
	})
}

// copyModel copies the files of a fixture model directory into a temp
// directory, replacing those in replace, and returns the directory.
func copyModel(t *testing.T, src string, replace map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{fileJSON, filePdiparams, fileYML} {
		b, ok := replace[name]
		if !ok {
			var err error
			if b, err = os.ReadFile(filepath.Join(src, name)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestHostilePdiparams(t *testing.T) {
	dims := 500_000
	if fullSize() {
		dims = 5_000_000
	}
	data := hostile.PdiparamsDims(dims)
	dir := copyModel(t, fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), map[string][]byte{filePdiparams: data})
	// The file itself is read whole; nothing beyond it should cost much.
	if err := readMeasured(t, dir, 4*mb+uint64(len(data))); err == nil {
		t.Fatal("accepted a tensor of", dims, "dimensions")
	}
}

// TestHostileYML reads a model whose inference.yml resizes to 4096x4096:
// refused at import, with a message, because every image would then cost
// a gigabyte to preprocess, however small it is.
func TestHostileYML(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	yml, err := os.ReadFile(filepath.Join(src, fileYML))
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Replace(string(yml), "      size:\n      - 160\n      - 80\n", "      size:\n      - 4096\n      - 4096\n", 1)
	if huge == string(yml) {
		t.Fatal("the fixture's inference.yml no longer has the ResizeImage this test edits")
	}
	dir := copyModel(t, src, map[string][]byte{fileYML: []byte(huge)})
	ck, err := Read(context.Background(), dir, ReadOptions{})
	if err == nil {
		img := image.NewRGBA(image.Rect(0, 0, 1, 1))
		total, peak := memUse(func() { _, _, _, err = imaging.Preprocess(img, *ck.Preprocess, nil) })
		t.Fatalf("accepted %+v: preprocessing a 1x1 image then allocated %.1f MB, peak heap %.1f MB (%v)",
			*ck.Preprocess, float64(total)/mb, float64(peak)/mb, err)
	}
	if !strings.Contains(err.Error(), "2048") {
		t.Fatalf("error %q does not give the bound", err)
	}
	t.Log(err)

	// The most a label list under the size cap can cost.
	labels := "PostProcess:\n  Topk:\n    label_list:\n" + strings.Repeat("    - a\n", maxYMLBytes/8-8)
	total, peak := memUse(func() { _, _, err = parseYML([]byte(labels)) })
	t.Logf("%d-byte label list: allocated %.1f MB, peak heap %.1f MB: %v", len(labels), float64(total)/mb, float64(peak)/mb, err)
	if total > 160*mb {
		t.Errorf("allocated %d bytes, want at most 160 MB", total)
	}
}

// TestWriteHostileSeeds adds a small version of every attack above to the
// fuzz corpora, when LCNET_WRITE_FUZZ_SEEDS=1, so the fuzzers start from
// the shapes of input the limits exist for.
func TestWriteHostileSeeds(t *testing.T) {
	if os.Getenv("LCNET_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set LCNET_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	write := func(dir, name string, data []byte) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pickles := filepath.Join("internal", "pickle", "testdata", "fuzz", "FuzzPickle")
	write(pickles, "hostile_dup", hostile.RepeatOp(hostile.OpDup, 200))
	write(pickles, "hostile_mark", hostile.RepeatOp(hostile.OpMark, 200))
	write(pickles, "hostile_memoize", hostile.RepeatOp(hostile.OpMemoize, 200))
	write(pickles, "hostile_memo_refs", hostile.MemoPdparams(4, 20))

	fuzz := filepath.Join("testdata", "fuzz")
	write(filepath.Join(fuzz, "FuzzTar"), "hostile_bomb", hostile.TarGz(mb, "inference.json", "README"))
	write(filepath.Join(fuzz, "FuzzPIR"), "hostile_ops", hostile.PIR(2048))
	write(filepath.Join(fuzz, "FuzzPdiparams"), "hostile_dims", hostile.PdiparamsDims(20))
	write(filepath.Join(fuzz, "FuzzProgramDesc"), "hostile_attr", programAttrInts(maxAttrInts+8))
	write(filepath.Join(fuzz, "FuzzYML"), "hostile_resize", []byte("PreProcess:\n  transform_ops:\n  - ResizeImage:\n      size: [4096, 4096]\n"))
}

// programAttrInts is a ProgramDesc of one block with one conv2d op whose
// strides attribute lists n ints.
func programAttrInts(n int) []byte {
	var attr []byte
	attr = protowire.AppendTag(attr, 1, protowire.BytesType)
	attr = protowire.AppendString(attr, "strides")
	attr = protowire.AppendTag(attr, 6, protowire.BytesType)
	attr = protowire.AppendBytes(attr, bytes.Repeat([]byte{1}, n))
	var op []byte
	op = protowire.AppendTag(op, 3, protowire.BytesType)
	op = protowire.AppendString(op, "conv2d")
	op = protowire.AppendTag(op, 4, protowire.BytesType)
	op = protowire.AppendBytes(op, attr)
	var block []byte
	block = protowire.AppendTag(block, 4, protowire.BytesType)
	block = protowire.AppendBytes(block, op)
	var prog []byte
	prog = protowire.AppendTag(prog, 1, protowire.BytesType)
	return protowire.AppendBytes(prog, block)
}

func TestHostileProgramDesc(t *testing.T) {
	data := programAttrInts(1 << 20)
	var err error
	total, peak := memUse(func() { _, err = parsePdmodel(data) })
	t.Logf("%d bytes: allocated %.1f MB, peak heap %.1f MB: %v", len(data), float64(total)/mb, float64(peak)/mb, err)
	var le *LimitError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a *LimitError", err)
	}
	if total > mb {
		t.Errorf("allocated %d bytes, want at most 1 MB", total)
	}
}

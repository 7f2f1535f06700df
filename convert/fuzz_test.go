package convert

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/lcnet/lcnet/internal/fixtures"
)

// Fuzz targets for every decoder of untrusted bytes. Seeds live in
// testdata/fuzz/<Target>; TestWriteFuzzSeeds regenerates them from the
// fixtures when LCNET_WRITE_FUZZ_SEEDS=1. The program seeds are 100 KB, and
// minimizing such inputs stalls the fuzzer, so run those two with
// -fuzzminimizetime 5x, e.g.
//
//	go test -run '^$' -fuzz '^FuzzPIR$' -fuzztime 60s -fuzzminimizetime 5x ./convert

// FuzzPdparams runs the pickle seeds of convert/internal/pickle through
// the .pdparams and .pdiparams.info decoders built on the unpickler.
func FuzzPdparams(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("internal", "pickle", "testdata", "fuzz", "FuzzPickle", "*"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			if data, ok := corpusBytes(b); ok {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if ts, err := decodePdparams(data); err == nil {
			for n, tensor := range ts {
				if err := tensor.Check(); err != nil {
					t.Fatalf("%s: %v", n, err)
				}
			}
		}
		_, _ = readInfo(data)
	})
}

func FuzzPdiparams(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for pos := 0; pos < len(data); {
			tensor, n, err := decodeLoDTensor(data[pos:], nil)
			if err != nil {
				return
			}
			if n <= 0 {
				t.Fatalf("decoded a tensor from %d bytes", n)
			}
			if err := tensor.Check(); err != nil {
				t.Fatal(err)
			}
			pos += n
		}
	})
}

func FuzzProgramDesc(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := parsePdmodel(data); err == nil {
			if a, _, err := p.walk(); err == nil {
				if err := a.Validate(); err != nil {
					t.Fatalf("walk returned an invalid arch: %v", err)
				}
			}
		}
	})
}

func FuzzPIR(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := parsePIR(data); err == nil {
			if a, _, err := p.walk(); err == nil {
				if err := a.Validate(); err != nil {
					t.Fatalf("walk returned an invalid arch: %v", err)
				}
			}
		}
	})
}

func FuzzTar(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := readArchive(bytes.NewReader(data), expandLimit(int64(len(data))))
		if err != nil {
			return
		}
		for name := range files {
			if !wanted(name) {
				t.Fatalf("kept %q", name)
			}
		}
		_, _ = readModel(context.Background(), &modelDir{fsys: files, names: sortedNames(files), what: "archive"})
	})
}

// TestWriteFuzzSeeds writes the seed corpora: small real inputs, cut down
// so that the fuzzer mutates structure rather than megabytes of weights.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("LCNET_WRITE_FUZZ_SEEDS") == "" {
		t.Skip("set LCNET_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	write := func(target, name string, data []byte) {
		dir := filepath.Join("testdata", "fuzz", target)
		if target == "FuzzPickle" {
			dir = filepath.Join("internal", "pickle", "testdata", "fuzz", target)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pickles, _ := filepath.Glob(filepath.Join("testdata", "*.pdparams"))
	for _, p := range pickles {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		write("FuzzPickle", filepath.Base(p), b)
	}
	legacy := fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer")
	info, err := os.ReadFile(filepath.Join(legacy, "inference.pdiparams.info"))
	if err != nil {
		t.Fatal(err)
	}
	write("FuzzPickle", "info", info[:min(len(info), 600)])

	// The first tensors of a real .pdiparams (conv1 and its BN).
	params, err := os.ReadFile(filepath.Join(legacy, "inference.pdiparams"))
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for i := 0; i < 3; i++ {
		_, n, err := decodeLoDTensor(params[pos:], nil)
		if err != nil {
			t.Fatal(err)
		}
		pos += n
	}
	write("FuzzPdiparams", "legacy_head", params[:pos])

	// The real ProgramDesc without its per-op Python call stacks, which
	// are 95% of its bytes and never read.
	pdmodel, err := os.ReadFile(filepath.Join(legacy, "inference.pdmodel"))
	if err != nil {
		t.Fatal(err)
	}
	stripped := stripCallstacks(t, pdmodel)
	if p, err := parsePdmodel(stripped); err != nil {
		t.Fatal(err)
	} else if _, _, err := p.walk(); err != nil {
		t.Fatal(err)
	}
	write("FuzzProgramDesc", "legacy_stripped", stripped)

	for _, d := range []string{"PP-LCNet_x0_25_textline_ori", "PP-LCNet_x0_25_textline_ori_nolastconv"} {
		b, err := os.ReadFile(filepath.Join(fixtures.Path(t, "paddle3", d), "inference.json"))
		if err != nil {
			t.Fatal(err)
		}
		write("FuzzPIR", d, b)
	}

	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range []struct{ name, body string }{
		{"m/", ""}, {"m/inference.yml", "PostProcess:\n  Topk:\n    label_list: [a, b]\n"}, {"m/README", "x"},
	} {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg}
		if e.body == "" {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "m/link", Typeflag: tar.TypeSymlink, Linkname: "../x"}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	write("FuzzTar", "small_tgz", buf.Bytes())

	for _, d := range []string{"paddle3/PP-LCNet_x0_25_textline_ori", "structure/PP-LCNet_x1_0_doc_ori"} {
		b, err := os.ReadFile(filepath.Join(fixtures.Path(t, d), "inference.yml"))
		if err != nil {
			t.Fatal(err)
		}
		write("FuzzYML", filepath.Base(d), b)
	}
}

// stripCallstacks re-encodes a ProgramDesc without op attributes named
// op_callstack.
func stripCallstacks(t *testing.T, b []byte) []byte {
	t.Helper()
	var rewrite func(b []byte, depth int) []byte
	rewrite = func(b []byte, depth int) []byte {
		var out []byte
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				t.Fatal(protowire.ParseError(n))
			}
			m := protowire.ConsumeFieldValue(num, typ, b[n:])
			if m < 0 {
				t.Fatal(protowire.ParseError(m))
			}
			field := b[:n+m]
			b = b[n+m:]
			if typ != protowire.BytesType {
				out = append(out, field...)
				continue
			}
			sub, _ := protowire.ConsumeBytes(field[n:])
			switch {
			case depth == 0 && num == 1, depth == 1 && num == 4: // blocks, ops
				sub = rewrite(sub, depth+1)
			case depth == 2 && num == 4: // attrs
				if bytes.Contains(sub, []byte("op_callstack")) {
					continue
				}
			}
			out = protowire.AppendTag(out, num, typ)
			out = protowire.AppendBytes(out, sub)
		}
		return out
	}
	return rewrite(b, 0)
}

func FuzzYML(f *testing.F) {
	f.Add([]byte("PreProcess:\n  transform_ops:\n  - ResizeImage:\n      resize_short: 256\n  - CropImage:\n      size: 224\n  - NormalizeImage:\n      scale: 1.0/255.0\n      mean: [0.485, 0.456, 0.406]\n      std: [0.229, 0.224, 0.225]\n      order: ''\nPostProcess:\n  Topk:\n    label_list: [a, b]\n"))
	f.Add([]byte("PostProcess:\n  MultiLabelThreshOutput:\n    threshold: 0.5\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _, err := parseYML(data)
		if err == nil && p != nil {
			if h, w := p.OutputSize(); h < 0 || w < 0 {
				t.Fatalf("size %dx%d", w, h)
			}
		}
		if th := postThreshold(data); th < 0 || th >= 1 {
			t.Fatalf("threshold %g outside [0, 1)", th)
		}
	})
}

// corpusBytes reads a "go test fuzz v1" file holding one []byte.
func corpusBytes(b []byte) ([]byte, bool) {
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	lit, ok := strings.CutPrefix(lines[1], "[]byte(")
	if !ok {
		return nil, false
	}
	q, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	if err != nil {
		return nil, false
	}
	return []byte(q), true
}

// FuzzConfig feeds training configs to ParseConfig: it must not panic, and
// whatever it accepts must be a valid network with an input size.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("Arch:\n  name: PPLCNet_x0_25\n  stride_list: [2, [2, 1], [2, 1], [2, 1], [2, 1]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			return
		}
		if err := c.Arch.Validate(); err != nil {
			t.Fatalf("accepted an invalid architecture: %v", err)
		}
		if c.Arch.InputHeight < 1 || c.Arch.InputWidth < 1 {
			t.Fatalf("accepted input size %dx%d", c.Arch.InputHeight, c.Arch.InputWidth)
		}
		_ = c.Arch.Tensors()
	})
}

// FuzzLabels: ReadLabels must not panic, and what it accepts names every
// class.
func FuzzLabels(f *testing.F) {
	f.Add([]byte("0 0_degree\n1 180_degree\n"))
	f.Add([]byte("cat\ndog\n\n"))
	f.Add([]byte("1 b\n\n0 a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		labels, err := ReadLabels(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(labels) == 0 {
			t.Fatal("accepted no labels")
		}
		for i, l := range labels {
			if strings.TrimSpace(l) == "" {
				t.Fatalf("class %d has an empty name", i)
			}
		}
	})
}

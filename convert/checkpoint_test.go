package convert

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
)

func textlineStrides() []arch.Stride {
	return []arch.Stride{arch.Square(2), {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}}
}

// checkBN catches a misordered .pdiparams: same-shaped BN tensors swapped
// would still pass the shape check, but variances must be positive.
func checkBN(t *testing.T, ts map[string]arch.Tensor) {
	t.Helper()
	for name, tensor := range ts {
		if !strings.HasSuffix(name, ".bn._variance") {
			continue
		}
		for i, v := range tensor.Data {
			if !(v > 0) {
				t.Fatalf("%s[%d] = %g: variances must be positive (tensors misordered?)", name, i, v)
			}
		}
	}
}

func TestReadPaddle3(t *testing.T) {
	tests := []struct {
		dir       string
		strides   []arch.Stride
		lastConv  bool
		dropout   float64
		numTensor int
	}{
		{"PP-LCNet_x0_25_textline_ori", textlineStrides(), true, 0.2, 146},
		// The earlier release: no last conv and no dropout, and its stem
		// really has stride (1,2), as its program says.
		{"PP-LCNet_x0_25_textline_ori_nolastconv", append([]arch.Stride{{H: 1, W: 2}}, textlineStrides()[1:]...), false, 0, 145},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			dir := fixtures.Path(t, "paddle3", tc.dir)
			var calls int
			var last, total int64
			ck, err := Read(context.Background(), dir, ReadOptions{Progress: func(d, tot int64) { calls++; last, total = d, tot }})
			if err != nil {
				t.Fatal(err)
			}
			a := ck.Arch
			if a == nil {
				t.Fatal("no architecture")
			}
			if ck.Format != FormatPIR || a.ClassNum != 2 || a.Scale != 0.25 || a.UseLastConv != tc.lastConv ||
				!slices.Equal(a.StrideList, tc.strides) || a.InputHeight != 80 || a.InputWidth != 160 {
				t.Errorf("format %s, arch %+v", ck.Format, a)
			}
			if d := a.DropoutProb; d < tc.dropout-1e-6 || d > tc.dropout+1e-6 {
				t.Errorf("dropout %g, want %g", d, tc.dropout)
			}
			if err := a.Validate(); err != nil {
				t.Error(err)
			}
			if len(ck.Tensors) != tc.numTensor {
				t.Errorf("%d tensors, want %d", len(ck.Tensors), tc.numTensor)
			}
			checkBN(t, ck.Tensors)
			if !slices.Equal(ck.Labels, []string{"0_degree", "180_degree"}) {
				t.Errorf("labels %v", ck.Labels)
			}
			p := ck.Preprocess
			if p == nil || p.ResizeWidth != 160 || p.ResizeHeight != 80 || p.ResizeShort != 0 || p.CropWidth != 0 ||
				p.Mean != [3]float64{0.485, 0.456, 0.406} || p.Std != [3]float64{0.229, 0.224, 0.225} || p.Scale != 1.0/255 {
				t.Errorf("preprocess %+v", p)
			}
			if calls == 0 || last != total || total == 0 {
				t.Errorf("progress: %d calls, last %d of %d", calls, last, total)
			}
			if len(ck.SourceSHA256) != 64 || ck.SourceName != tc.dir {
				t.Errorf("source %q %q", ck.SourceName, ck.SourceSHA256)
			}
			// The program file itself is accepted too.
			ck2, err := Read(context.Background(), filepath.Join(dir, "inference.json"), ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ck2.SourceSHA256 != ck.SourceSHA256 || len(ck2.Tensors) != len(ck.Tensors) {
				t.Error("reading inference.json gave a different checkpoint than the directory")
			}
		})
	}
}

func TestReadProgramStructure(t *testing.T) {
	tests := []struct {
		dir     string
		classes int
		h, w    int
		strides []arch.Stride
	}{
		{"PP-LCNet_x1_0_doc_ori", 4, 224, 224, arch.DefaultStrides()},
		{"PP-LCNet_x1_0_textline_ori", 2, 80, 160, textlineStrides()},
	}
	for _, tc := range tests {
		t.Run(tc.dir, func(t *testing.T) {
			a, err := ReadProgram(context.Background(), fixtures.Path(t, "structure", tc.dir))
			if err != nil {
				t.Fatal(err)
			}
			want := arch.DefaultArch(1.0, tc.classes)
			want.StrideList = tc.strides
			want.FillBlocks()
			want.InputHeight, want.InputWidth = tc.h, tc.w
			want.DropoutProb = a.DropoutProb // float32 0.2 in the program
			if d := a.DropoutProb; d < 0.2-1e-6 || d > 0.2+1e-6 {
				t.Errorf("dropout %g", d)
			}
			gotJSON, _ := json.Marshal(a)
			wantJSON, _ := json.Marshal(want)
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Errorf("arch\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestReadLegacy(t *testing.T) {
	dir := fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer")
	ck, err := Read(context.Background(), dir, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := arch.DefaultArch(0.75, 1000)
	want.DropoutProb = ck.Arch.DropoutProb
	gotJSON, _ := json.Marshal(ck.Arch)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("arch\n got %s\nwant %s", gotJSON, wantJSON)
	}
	if ck.Format != FormatPdmodel || len(ck.Tensors) != 146 {
		t.Errorf("format %s, %d tensors", ck.Format, len(ck.Tensors))
	}
	checkBN(t, ck.Tensors)
	if err := ck.Arch.Check(ck.Tensors); err != nil {
		t.Error(err)
	}
}

func TestReadGoldenSHA(t *testing.T) {
	path := fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams")
	ck, err := Read(context.Background(), path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		SHA string `json:"pdparams_sha256"`
	}
	b, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if ck.Format != FormatPdparams || ck.Arch != nil || ck.SourceSHA256 != meta.SHA || ck.SourceName != "PPLCNet_x0_25.pdparams" {
		t.Errorf("format %s, arch %v, source %s %s (want sha %s)", ck.Format, ck.Arch, ck.SourceName, ck.SourceSHA256, meta.SHA)
	}
}

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func writeTar(t *testing.T, path string, gz bool, entries []tarEntry) {
	t.Helper()
	var buf bytes.Buffer
	var w = &buf
	var zw *gzip.Writer
	tw := (*tar.Writer)(nil)
	if gz {
		zw = gzip.NewWriter(w)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(w)
	}
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirEntries packs a fixture directory as Paddle's download pages do: one
// top-level directory.
func dirEntries(t *testing.T, dir, top string) []tarEntry {
	t.Helper()
	es := []tarEntry{{hdr: tar.Header{Name: top + "/", Typeflag: tar.TypeDir, Mode: 0o755}}}
	list, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, tarEntry{hdr: tar.Header{Name: top + "/" + e.Name(), Typeflag: tar.TypeReg}, data: b})
	}
	return es
}

func TestReadArchive(t *testing.T) {
	dir := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	want, err := Read(context.Background(), dir, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"m.tar.gz", "m.tgz", "m.tar"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			writeTar(t, path, name != "m.tar", dirEntries(t, dir, "PP-LCNet_x0_25_textline_ori_infer"))
			var done, total int64
			ck, err := Read(context.Background(), path, ReadOptions{Progress: func(d, tot int64) { done, total = d, tot }})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(raw); ck.SourceSHA256 != hex.EncodeToString(sum[:]) {
				t.Errorf("sha256 %s is not the archive's", ck.SourceSHA256)
			}
			if done != int64(len(raw)) || total != int64(len(raw)) {
				t.Errorf("progress ended at %d of %d, the file has %d bytes", done, total, len(raw))
			}
			if ck.Format != "tar+pir" || ck.SourceName != name {
				t.Errorf("format %q, name %q", ck.Format, ck.SourceName)
			}
			a, _ := json.Marshal(ck.Arch)
			b, _ := json.Marshal(want.Arch)
			if !bytes.Equal(a, b) || !slices.Equal(ck.Labels, want.Labels) || *ck.Preprocess != *want.Preprocess {
				t.Errorf("archive read differs from the directory read")
			}
			for n, tw := range want.Tensors {
				if !slices.Equal(ck.Tensors[n].Data, tw.Data) {
					t.Fatalf("tensor %s differs", n)
				}
			}
		})
	}
}

func TestReadArchiveRefused(t *testing.T) {
	ok := []byte("x")
	tests := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"dotdot", []tarEntry{{hdr: tar.Header{Name: "m/../../etc/inference.json", Typeflag: tar.TypeReg}, data: ok}}, `"m/../../etc/inference.json": path leaves`},
		{"dotdot unwanted file", []tarEntry{{hdr: tar.Header{Name: "../README", Typeflag: tar.TypeReg}, data: ok}}, `"../README": path leaves`},
		{"absolute", []tarEntry{{hdr: tar.Header{Name: "/etc/inference.yml", Typeflag: tar.TypeReg}, data: ok}}, `"/etc/inference.yml": absolute`},
		{"symlink", []tarEntry{{hdr: tar.Header{Name: "m/inference.pdiparams", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}}}, `"m/inference.pdiparams" is a link`},
		{"hardlink", []tarEntry{{hdr: tar.Header{Name: "m/inference.json", Typeflag: tar.TypeLink, Linkname: "m/x"}}}, `"m/inference.json" is a link`},
		{"device", []tarEntry{{hdr: tar.Header{Name: "m/inference.json", Typeflag: tar.TypeChar}}}, `only files and directories`},
		{"two dirs", []tarEntry{
			{hdr: tar.Header{Name: "a/inference.json", Typeflag: tar.TypeReg}, data: ok},
			{hdr: tar.Header{Name: "b/inference.pdiparams", Typeflag: tar.TypeReg}, data: ok},
		}, "different directory"},
		{"no weights", []tarEntry{{hdr: tar.Header{Name: "m/README.md", Typeflag: tar.TypeReg}, data: ok}}, "holds no weights"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "evil.tar.gz")
			writeTar(t, path, true, tc.entries)
			_, err := Read(context.Background(), path, ReadOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// A header declaring an absurd size is refused before any read.
	t.Run("huge", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "m/inference.pdiparams", Typeflag: tar.TypeReg, Size: 1 << 40, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		buf.Write(make([]byte, 1024))
		_, err := readArchive(&buf, expandLimit(int64(buf.Len())))
		if err == nil || !strings.Contains(err.Error(), "over the") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestReadDirErrors(t *testing.T) {
	src := fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
	copyFile := func(t *testing.T, dst, name string, trunc int) {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if trunc > 0 {
			b = b[:len(b)-trunc]
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("no weights", func(t *testing.T) {
		d := t.TempDir()
		copyFile(t, d, "inference.yml", 0)
		_, err := Read(context.Background(), d, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "holds no weights: looked for inference.json or inference.pdmodel with inference.pdiparams, or a *.pdparams") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("program without pdiparams", func(t *testing.T) {
		d := t.TempDir()
		copyFile(t, d, "inference.json", 0)
		_, err := Read(context.Background(), d, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "no inference.pdiparams") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("truncated pdiparams", func(t *testing.T) {
		d := t.TempDir()
		copyFile(t, d, "inference.json", 0)
		copyFile(t, d, "inference.pdiparams", 100)
		_, err := Read(context.Background(), d, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "inference.pdiparams: tensor") || !strings.Contains(err.Error(), "unexpected end") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("extra bytes", func(t *testing.T) {
		d := t.TempDir()
		copyFile(t, d, "inference.json", 0)
		b, _ := os.ReadFile(filepath.Join(src, "inference.pdiparams"))
		if err := os.WriteFile(filepath.Join(d, "inference.pdiparams"), append(b, 0, 0, 0, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(context.Background(), d, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "4 bytes left") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a checkpoint", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "x.pdparams")
		if err := os.WriteFile(p, []byte("hello"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(context.Background(), p, ReadOptions{})
		if err == nil || !strings.Contains(err.Error(), "neither a pickle") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Read(ctx, src, ReadOptions{}); err == nil || !strings.Contains(err.Error(), "context canceled") {
			t.Fatalf("err = %v", err)
		}
	})
}

// Edits of a real PIR program: the walk must follow what the program
// says, and refuse what the network cannot compute.
func TestWalkPIREdits(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), "inference.json"))
	if err != nil {
		t.Fatal(err)
	}
	pad1 := `{"AT":{"#":"0.a_array","D":[{"#":"0.a_i32","D":1},{"#":"0.a_i32","D":1}]},"N":"paddings"}`
	tests := []struct {
		name, old, new string
		dropout        float64
		err            string
	}{
		{"as is", "", "", 0.2, ""},
		{"upscale_in_train", `"D":"downgrade_in_infer"`, `"D":"upscale_in_train"`, 0, ""},
		{"unknown dropout mode", `"D":"downgrade_in_infer"`, `"D":"sideways"`, 0, `dropout mode "sideways"`},
		{"padding", pad1, strings.ReplaceAll(pad1, `"D":1}`, `"D":0}`), 0, "op 147 (conv2d): paddings: is [0 0]; PP-LCNet uses padding 1"},
		{"dilation", strings.Replace(pad1, "paddings", "dilations", 1), strings.ReplaceAll(strings.Replace(pad1, "paddings", "dilations", 1), `"D":1}`, `"D":2}`), 0, "op 147 (conv2d): dilations: is [2 2]"},
		{"transposed fc", `{"#":"0.a_bool","D":false},"N":"transpose_y"`, `{"#":"0.a_bool","D":true},"N":"transpose_y"`, 0, "transposed Linear"},
		{"not pir", `"magic":"pir"`, `"magic":"pyr"`, 0, `magic is "pyr"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := src
			if tc.old != "" {
				if !bytes.Contains(src, []byte(tc.old)) {
					t.Fatalf("fixture lacks %s", tc.old)
				}
				data = bytes.Replace(src, []byte(tc.old), []byte(tc.new), 1)
			}
			p, err := parsePIR(data)
			var a arch.Arch
			if err == nil {
				a, _, err = p.walk()
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := a.DropoutProb; d < tc.dropout-1e-6 || d > tc.dropout+1e-6 {
				t.Errorf("dropout %g, want %g", d, tc.dropout)
			}
		})
	}
}

func TestReadArchivePdparams(t *testing.T) {
	b, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.tgz")
	writeTar(t, path, true, []tarEntry{
		{hdr: tar.Header{Name: "./PPLCNet_x0_25_pretrained.pdparams", Typeflag: tar.TypeReg}, data: b},
		{hdr: tar.Header{Name: "./README.md", Typeflag: tar.TypeReg}, data: []byte("hi")},
	})
	ck, err := Read(context.Background(), path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ck.Format != "tar+pdparams" || len(ck.Tensors) != 146 || ck.Arch != nil {
		t.Errorf("format %s, %d tensors", ck.Format, len(ck.Tensors))
	}
}

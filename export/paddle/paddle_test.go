package paddle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/export/paddle"
	"github.com/lcnet/lcnet/internal/fixtures"
)

// source is a model as the zoo would hold it.
type source struct {
	model   paddle.Model
	tensors map[string]arch.Tensor
}

// fromFixture reads a fixture the way convert does: the program's
// architecture, or the one the tensor shapes give a .pdparams.
func fromFixture(t *testing.T, elem ...string) source {
	t.Helper()
	ck, err := convert.Read(context.Background(), fixtures.Path(t, elem...), convert.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var a arch.Arch
	if ck.Arch != nil {
		a = *ck.Arch
	} else if a, err = arch.InferArch(ck.Tensors); err != nil {
		t.Fatal(err)
	}
	pre := arch.DefaultPreprocess()
	if ck.Preprocess != nil {
		pre = *ck.Preprocess
	}
	if a.InputHeight <= 0 {
		a.InputHeight, a.InputWidth = a.InputSize(pre)
	}
	return source{paddle.Model{Arch: a, Preprocess: pre, Labels: ck.Labels, Threshold: ck.Threshold}, ck.Tensors}
}

// synthetic is a model of arch a with deterministic weights and a valid
// BatchNorm.
func synthetic(a arch.Arch) source {
	ts := map[string]arch.Tensor{}
	for i, sp := range a.Tensors() {
		n := 1
		for _, d := range sp.Shape {
			n *= d
		}
		data := make([]float32, n)
		for j := range data {
			data[j] = float32(math.Sin(float64(i*1009+j))) / 4
			if strings.HasSuffix(sp.Name, "._variance") {
				data[j] = 1 + data[j]
			}
		}
		ts[sp.Name] = arch.Tensor{Shape: slices.Clone(sp.Shape), Data: data}
	}
	return source{paddle.Model{Arch: a, Preprocess: arch.DefaultPreprocess()}, ts}
}

// paddleClasKeys lists the state dict keys of PaddleClas' PPLCNet as its
// module tree registers them (pp_lcnet.py): conv1, then NET_CONFIG's
// stages of 1, 2, 2, 6 and 2 DepthwiseSeparable blocks, SE in blocks6,
// last_conv when used, fc. It is written from the PaddleClas source, not
// from arch.Tensors or the writer.
func paddleClasKeys(useLastConv bool) []string {
	convBN := func(p string) []string {
		return []string{p + ".conv.weight", p + ".bn.weight", p + ".bn.bias", p + ".bn._mean", p + ".bn._variance"}
	}
	keys := convBN("conv1")
	for _, st := range []struct {
		name   string
		blocks int
		se     bool
	}{{"blocks2", 1, false}, {"blocks3", 2, false}, {"blocks4", 2, false}, {"blocks5", 6, false}, {"blocks6", 2, true}} {
		for i := range st.blocks {
			p := fmt.Sprintf("%s.%d", st.name, i)
			keys = append(keys, convBN(p+".dw_conv")...)
			if st.se {
				keys = append(keys, p+".se.conv1.weight", p+".se.conv1.bias", p+".se.conv2.weight", p+".se.conv2.bias")
			}
			keys = append(keys, convBN(p+".pw_conv")...)
		}
	}
	if useLastConv {
		keys = append(keys, "last_conv.weight")
	}
	return append(keys, "fc.weight", "fc.bias")
}

func params(t *testing.T, s source) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := paddle.WriteParams(context.Background(), &b, s.model.Arch, s.tensors, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func withArch(a arch.Arch, f func(*arch.Arch)) arch.Arch {
	a.StrideList = slices.Clone(a.StrideList)
	f(&a)
	a.FillBlocks()
	return a
}

// TestRoundTrip writes each model and reads the files back with lcnet's
// own readers: every tensor bit for bit, the config into the same
// architecture, preprocessing and threshold, the labels unchanged.
func TestRoundTrip(t *testing.T) {
	multi := synthetic(withArch(arch.DefaultArch(0.5, 3), func(a *arch.Arch) { a.MultiLabel = true }))
	multi.model.Threshold = 0.3
	bgr := synthetic(withArch(arch.DefaultArch(0.75, 4), func(a *arch.Arch) {
		a.StrideList[0] = arch.Stride{H: 1, W: 2}
		a.InputHeight, a.InputWidth = 48, 192
		a.DropoutProb = 0.1
	}))
	bgr.model.Preprocess = arch.Preprocess{ResizeWidth: 192, ResizeHeight: 48, Interpolation: "nearest", Scale: 1.0 / 127.5,
		Mean: [3]float64{0.5, 0.5, 0.5}, Std: [3]float64{0.5, 0.5, 0.5}, ChannelOrder: "BGR"}
	bgr.model.Labels = []string{"a b", "0 degree", "ünïcode", "x"}
	odd := synthetic(withArch(arch.DefaultArch(0.6, 2), func(a *arch.Arch) { a.UseLastConv = false; a.ClassExpand = 0; a.DropoutProb = 0 }))
	odd.model.Preprocess.CropWidth, odd.model.Preprocess.CropHeight, odd.model.Preprocess.ResizeShort = 200, 180, 232
	odd.model.Arch.InputHeight, odd.model.Arch.InputWidth = 180, 200

	for _, tc := range []struct {
		name string
		src  func(t *testing.T) source
	}{
		{"golden x0_25", func(t *testing.T) source { return fromFixture(t, "golden", "PPLCNet_x0_25.pdparams") }},
		{"golden x1_0", func(t *testing.T) source { return fromFixture(t, "golden", "PPLCNet_x1_0.pdparams") }},
		{"text-line (2,1) strides", func(t *testing.T) source { return fromFixture(t, "paddle3", "PP-LCNet_x0_25_textline_ori") }},
		{"text-line without last conv", func(t *testing.T) source {
			return fromFixture(t, "paddle3", "PP-LCNet_x0_25_textline_ori_nolastconv")
		}},
		{"multi-label", func(*testing.T) source { return multi }},
		{"BGR, nearest, (1,2) stem", func(*testing.T) source { return bgr }},
		{"unreleased scale, crop", func(*testing.T) source { return odd }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.src(t)
			dir := t.TempDir()
			files, err := paddle.Write(context.Background(), dir, "m", s.model, s.tensors, paddle.Options{Comment: "test"})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(files.Params)
			if err != nil {
				t.Fatal(err)
			}
			back, err := convert.ReadPdparams(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(s.tensors) {
				t.Errorf("%d tensors back, wrote %d", len(back), len(s.tensors))
			}
			for name, want := range s.tensors {
				got := back[name]
				if !slices.Equal(got.Shape, want.Shape) || !bitsEqual(got.Data, want.Data) {
					t.Fatalf("tensor %s: shape %v, want %v, or values differ", name, got.Shape, want.Shape)
				}
			}

			raw, err := os.ReadFile(files.Config)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := convert.ParseConfig(raw)
			if err != nil {
				t.Fatalf("%v\n%s", err, raw)
			}
			if !reflect.DeepEqual(cfg.Arch, s.model.Arch) {
				t.Errorf("architecture back\n%+v\nwant\n%+v\n%s", cfg.Arch, s.model.Arch, raw)
			}
			if cfg.Preprocess == nil || *cfg.Preprocess != s.model.Preprocess {
				t.Errorf("preprocessing back %+v, want %+v", cfg.Preprocess, s.model.Preprocess)
			}
			wantThreshold := 0.0
			if s.model.Arch.MultiLabel {
				wantThreshold = s.model.Threshold
				if wantThreshold == 0 {
					wantThreshold = paddle.DefaultThreshold
				}
			}
			if cfg.Threshold != wantThreshold {
				t.Errorf("threshold back %g, want %g", cfg.Threshold, wantThreshold)
			}
			if len(s.model.Labels) == 0 {
				if files.Labels != "" || cfg.ClassIDMapFile != "" {
					t.Errorf("labels file %q, class_id_map_file %q for a model without labels", files.Labels, cfg.ClassIDMapFile)
				}
				return
			}
			if cfg.ClassIDMapFile != filepath.Base(files.Labels) {
				t.Errorf("class_id_map_file %q, labels in %s", cfg.ClassIDMapFile, files.Labels)
			}
			lf, err := os.Open(files.Labels)
			if err != nil {
				t.Fatal(err)
			}
			defer lf.Close()
			labels, err := convert.ReadLabels(lf)
			if err != nil || !slices.Equal(labels, s.model.Labels) {
				t.Errorf("labels back %q (%v), want %q", labels, err, s.model.Labels)
			}
		})
	}
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestKeys: the state dict holds exactly PaddleClas' parameter names for
// the architecture at every released scale, with and without the last
// conv, as lcnet's reader sees them; in PaddleClas' order, as CPython's
// pickletools sees them; and, for the golden checkpoints of an
// independent implementation, exactly their names in their order.
func TestKeys(t *testing.T) {
	for _, scale := range []float64{0.25, 0.35, 0.5, 0.75, 1, 1.5, 2, 2.5} {
		for _, lastConv := range []bool{true, false} {
			a := arch.DefaultArch(scale, 10)
			a.UseLastConv = lastConv
			t.Run(fmt.Sprintf("x%g last_conv=%v", scale, lastConv), func(t *testing.T) {
				pkl := params(t, synthetic(a))
				want := paddleClasKeys(lastConv)
				ts, err := convert.ReadPdparams(bytes.NewReader(pkl))
				if err != nil {
					t.Fatal(err)
				}
				got := slices.Sorted(maps.Keys(ts))
				if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
					t.Errorf("keys\n%v\nwant PaddleClas'\n%v", got, want)
				}
				if scale == 0.25 {
					if got := keysInOrder(t, pkl); !slices.Equal(got, want) {
						t.Errorf("keys in order\n%v\nwant PaddleClas'\n%v", got, want)
					}
				}
			})
		}
	}
	for _, name := range []string{"PPLCNet_x0_25", "PPLCNet_x1_0"} {
		t.Run("golden "+name, func(t *testing.T) {
			golden, err := os.ReadFile(fixtures.Path(t, "golden", name+".pdparams"))
			if err != nil {
				t.Fatal(err)
			}
			want := keysInOrder(t, golden)
			got := keysInOrder(t, params(t, fromFixture(t, "golden", name+".pdparams")))
			if !slices.Equal(got, want) {
				t.Errorf("keys\n%v\nwant the golden file's\n%v", got, want)
			}
		})
	}
}

// keysInOrder lists, in order, the keys of a state dict up to
// StructuredToParameterName@@, read by CPython's pickletools (which also
// checks every opcode and frame on the way).
func keysInOrder(t *testing.T, pkl []byte) []string {
	t.Helper()
	py := python(t)
	f := filepath.Join(t.TempDir(), "x.pdparams")
	if err := os.WriteFile(f, pkl, 0o644); err != nil {
		t.Fatal(err)
	}
	// The top-level dict's keys are the strings pushed right after its
	// MARK or after each BUILD that ends an array (inside an array, a MARK
	// is followed by a number), up to StructuredToParameterName@@.
	script := `
import pickletools, sys
prev, keys = None, []
for op, arg, pos in pickletools.genops(open(sys.argv[1], 'rb')):
    if op.name in ('SHORT_BINUNICODE', 'BINUNICODE') and prev in ('MARK', 'BUILD'):
        keys.append(arg)
        if arg == 'StructuredToParameterName@@':
            break
    if op.name not in ('MEMOIZE', 'FRAME'):
        prev = op.name
print('\n'.join(keys))
`
	out, err := exec.Command(py, "-c", script, f).CombinedOutput()
	if err != nil {
		t.Fatalf("pickletools: %v\n%s", err, out)
	}
	keys := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(keys) == 0 || keys[len(keys)-1] != "StructuredToParameterName@@" {
		t.Fatalf("the dict does not end with StructuredToParameterName@@: %v", keys)
	}
	return keys[:len(keys)-1]
}

// python finds python3; without it the test skips, except under CI.
func python(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed to disassemble pickles")
		}
		t.Skip("python3 not found")
	}
	return py
}

// TestPickletools: CPython's disassembler reads the whole file, frames and
// memo included.
func TestPickletools(t *testing.T) {
	py := python(t)
	f := filepath.Join(t.TempDir(), "m.pdparams")
	if err := os.WriteFile(f, params(t, synthetic(arch.DefaultArch(0.5, 10))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", "import pickletools,sys,io; pickletools.dis(open(sys.argv[1],'rb'), out=io.StringIO())", f).CombinedOutput()
	if err != nil {
		t.Fatalf("pickletools.dis: %v\n%s", err, out)
	}
}

// TestStaticNames: the name table gives the static names the golden
// checkpoint records, where Paddle numbers layers per type.
func TestStaticNames(t *testing.T) {
	s := fromFixture(t, "golden", "PPLCNet_x0_25.pdparams")
	names := paddle.StaticNames(s.model.Arch)
	for k, want := range map[string]string{
		"conv1.conv.weight":             "conv2d_0.w_0",
		"conv1.bn._variance":            "batch_norm2d_0.w_2",
		"blocks6.1.se.conv2.bias":       "conv2d_29.b_0",
		"blocks6.1.pw_conv.bn._mean":    "batch_norm2d_26.w_1",
		"blocks6.1.pw_conv.bn.weight":   "batch_norm2d_26.w_0",
		"last_conv.weight":              "conv2d_31.w_0",
		"fc.weight":                     "linear_0.w_0",
		"blocks2.0.dw_conv.conv.weight": "conv2d_1.w_0",
	} {
		if names[k] != want {
			t.Errorf("%s: static name %q, want %q", k, names[k], want)
		}
	}
	if len(names) != len(s.tensors) {
		t.Errorf("%d static names for %d tensors", len(names), len(s.tensors))
	}
}

// TestNotExpressible: what PaddleClas' files cannot state is refused
// before anything is written.
func TestNotExpressible(t *testing.T) {
	base := synthetic(arch.DefaultArch(0.25, 2))
	for _, tc := range []struct {
		name  string
		edit  func(m *paddle.Model)
		field string
	}{
		{"tab in a label", func(m *paddle.Model) { m.Labels = []string{"a\tb", "c"} }, "labels[0]"},
		{"line break", func(m *paddle.Model) { m.Labels = []string{"a", "b\n"} }, "labels[1]"},
		{"blank label", func(m *paddle.Model) { m.Labels = []string{"a", " "} }, "labels[1]"},
		{"trailing space", func(m *paddle.Model) { m.Labels = []string{"a ", "b"} }, "labels[0]"},
		{"label count", func(m *paddle.Model) { m.Labels = []string{"a"} }, "labels"},
		{"no resize", func(m *paddle.Model) { m.Preprocess.ResizeShort = 0 }, "preprocess"},
		{"input disagrees", func(m *paddle.Model) { m.Arch.InputHeight = 200 }, "architecture.input_height"},
		{"odd blocks", func(m *paddle.Model) {
			m.Arch.Blocks = slices.Clone(m.Arch.Blocks)
			m.Arch.Blocks[3].Kernel = 5
		}, "architecture.blocks"},
		{"channel order", func(m *paddle.Model) { m.Preprocess.ChannelOrder = "GBR" }, "preprocess.channel_order"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base.model
			m.Arch.Blocks = slices.Clone(m.Arch.Blocks)
			tc.edit(&m)
			dir := filepath.Join(t.TempDir(), "out")
			_, err := paddle.Write(context.Background(), dir, "m", m, base.tensors, paddle.Options{})
			var ne *paddle.NotExpressibleError
			if !errors.As(err, &ne) || ne.Field != tc.field {
				t.Fatalf("error %v, want a NotExpressibleError on %s", err, tc.field)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the output directory exists after a refused export: %v", err)
			}
		})
	}
}

// TestCancelled: a cancelled export leaves no file behind, not even a
// temporary one.
func TestCancelled(t *testing.T) {
	s := synthetic(arch.DefaultArch(1, 1000))
	s.model.Labels = make([]string, 1000)
	for i := range s.model.Labels {
		s.model.Labels[i] = fmt.Sprint("class ", i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	calls := 0
	_, err := paddle.Write(ctx, dir, "m", s.model, s.tensors, paddle.Options{Progress: func(done, total int64) {
		if calls++; calls == 10 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left after a cancelled export: %v", left)
	}
}

// TestProgress: progress counts the array bytes up to their total.
func TestProgress(t *testing.T) {
	s := synthetic(arch.DefaultArch(0.5, 10))
	var last, total int64
	calls := 0
	err := paddle.WriteParams(context.Background(), &bytes.Buffer{}, s.model.Arch, s.tensors, func(done, all int64) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, all
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * int64(s.model.Arch.NumElements()); last != want || total != want || calls != len(s.tensors) {
		t.Errorf("progress ended at %d of %d after %d calls, want %d after %d", last, total, calls, want, len(s.tensors))
	}
}

// TestStreams measures the heap a write allocates: the arrays are
// converted through a small buffer, never copied whole, so writing the
// largest model (x2.5, 36 MB of weights) allocates a small fraction of
// its size.
func TestStreams(t *testing.T) {
	s := synthetic(arch.DefaultArch(2.5, 1000))
	size := 4 * int64(s.model.Arch.NumElements())
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if err := paddle.WriteParams(context.Background(), discard{}, s.model.Arch, s.tensors, nil); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	alloc := int64(after.TotalAlloc - before.TotalAlloc)
	t.Logf("writing %d MB of weights allocated %d KB", size>>20, alloc>>10)
	if alloc > size/20 {
		t.Errorf("writing %d bytes of weights allocated %d bytes, want under 5%%", size, alloc)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

func readConfigFile(t *testing.T, name string) *Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "config", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseConfig(t *testing.T) {
	textline := []arch.Stride{arch.Square(2), {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}, {H: 2, W: 1}}
	tests := []struct {
		file       string
		scale      float64
		classes    int
		strides    []arch.Stride
		h, w       int
		multiLabel bool
		resize     [2]int // ResizeWidth, ResizeHeight
		short      int
		labels     string
		topk       int
	}{
		{"textline_x0_25.yaml", 0.25, 2, textline, 80, 160, false, [2]int{160, 80}, 0, "ppcls/utils/PULC_label_list/textline_orientation_label_list.txt", 1},
		{"person_attribute.yaml", 1, 26, arch.DefaultStrides(), 256, 192, true, [2]int{192, 256}, 0, "", 0},
		{"imagenet_x1_0.yaml", 1, 1000, arch.DefaultStrides(), 224, 224, false, [2]int{}, 256, "ppcls/utils/imagenet1k_label_list.txt", 5},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c := readConfigFile(t, tc.file)
			a := c.Arch
			if a.Scale != tc.scale || a.ClassNum != tc.classes || !slices.Equal(a.StrideList, tc.strides) ||
				a.InputHeight != tc.h || a.InputWidth != tc.w || a.MultiLabel != tc.multiLabel {
				t.Errorf("arch scale %g classes %d strides %v input %dx%d multi-label %v",
					a.Scale, a.ClassNum, a.StrideList, a.InputHeight, a.InputWidth, a.MultiLabel)
			}
			// The strides reach the blocks, not only stride_list.
			if b := a.Blocks[1]; b.Stage != "blocks3" || b.Stride != tc.strides[1] {
				t.Errorf("blocks3.0 stride %v, want %v", b.Stride, tc.strides[1])
			}
			if !a.UseLastConv || a.ClassExpand != 1280 || a.DropoutProb != 0.2 {
				t.Errorf("PaddleClas defaults lost: %+v", a)
			}
			p := c.Preprocess
			if p == nil || p.ResizeWidth != tc.resize[0] || p.ResizeHeight != tc.resize[1] || p.ResizeShort != tc.short ||
				p.Std != [3]float64{0.229, 0.224, 0.225} || math.Abs(p.Scale-1.0/255) > 1e-12 {
				t.Errorf("preprocess %+v", p)
			}
			if c.ClassIDMapFile != tc.labels || c.TopK != tc.topk {
				t.Errorf("post-process labels %q topk %d", c.ClassIDMapFile, c.TopK)
			}
		})
	}
}

func TestParseConfigArchKeys(t *testing.T) {
	base := "Global:\n  image_shape: [3, 224, 224]\nArch:\n  name: PPLCNet_x0_5\n"
	ok := []struct {
		name, arch string
		check      func(arch.Arch) bool
	}{
		{"training-only keys", "  pretrained: True\n  use_ssld: True\n  lr_mult_list: [0.0, 0.4, 0.4, 0.8, 0.8, 1.0]\n  return_patterns: null\n",
			func(a arch.Arch) bool { return a.Scale == 0.5 }},
		{"PaddleX spelling", "  name: PP-LCNet_x2_5\n", func(a arch.Arch) bool { return a.Scale == 2.5 }},
		{"PPLCNet with scale", "  name: PPLCNet\n  scale: 0.75\n", func(a arch.Arch) bool { return a.Scale == 0.75 && a.StemOut == 16 }},
		{"head keys", "  use_last_conv: False\n  class_expand: 640\n  dropout_prob: 0.1\n  class_num: 7\n",
			func(a arch.Arch) bool {
				return !a.UseLastConv && a.ClassExpand == 640 && a.DropoutProb == 0.1 && a.ClassNum == 7
			}},
		{"no last conv, no expand", "  use_last_conv: False\n  class_expand: 0\n  dropout_prob: 0\n",
			func(a arch.Arch) bool { return !a.UseLastConv && a.ClassExpand == 0 && a.DropoutProb == 0 }},
		{"hardswish", "  act: hardswish\n  use_ml_decoder: False\n  use_sync_bn: True\n", func(a arch.Arch) bool { return true }},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(base + tc.arch))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c.Arch) {
				t.Errorf("arch %+v", c.Arch)
			}
		})
	}
	// Older configs give the class count as Global.class_num.
	if c, err := ParseConfig([]byte("Global:\n  class_num: 3\nArch:\n  name: PPLCNet_x0_5\n")); err != nil || c.Arch.ClassNum != 3 || c.Arch.Tensors()[len(c.Arch.Tensors())-1].Shape[0] != 3 {
		t.Errorf("Global.class_num: %v", err)
	}
	bad := []struct {
		name, doc, key string
	}{
		{"relu", base + "  act: relu\n", "Arch.act"},
		{"unknown key", base + "  use_lab: True\n", "Arch.use_lab"},
		{"ML-Decoder", base + "  use_ml_decoder: True\n", "Arch.use_ml_decoder"},
		{"scale disagrees", base + "  scale: 1.0\n", "Arch.scale"},
		{"V2", "Arch:\n  name: PPLCNetV2_base\n", "Arch.name"},
		{"other network", "Arch:\n  name: ResNet50\n", "Arch.name"},
		{"unreleased scale", "Arch:\n  name: PPLCNet_x3_0\n", "Arch.name"},
		{"no name", "Arch:\n  class_num: 2\n", "Arch.name"},
		{"four strides", base + "  stride_list: [2, 2, 2, 2]\n", "Arch.stride_list"},
		{"stride triple", base + "  stride_list: [2, [2, 1, 1], 2, 2, 2]\n", "Arch.stride_list"},
		{"zero stride", base + "  stride_list: [0, 2, 2, 2, 2]\n", "Arch.stride_list"},
		{"class_num", base + "  class_num: 0\n", "Arch.class_num"},
		{"dropout", base + "  dropout_prob: 1.5\n", "Arch"},
		{"last conv of no channels", base + "  class_expand: 0\n", "Arch"},
		{"no Arch", "Global:\n  epochs: 3\n", "Arch"},
		{"PaddleX module config", "Global:\n  model: PP-LCNet_x0_25_textline_ori\n  mode: train\nTrain:\n  num_classes: 2\n", "Arch"},
		{"gray input", "Global:\n  image_shape: [1, 224, 224]\nArch:\n  name: PPLCNet_x1_0\n", "Global.image_shape"},
		{"input without pipeline", "Global:\n  image_shape: [3, 80, 160]\nArch:\n  name: PPLCNet_x1_0\n", "Infer.transforms"},
		{"pipeline disagrees", "Global:\n  image_shape: [3, 80, 160]\nArch:\n  name: PPLCNet_x1_0\nInfer:\n  transforms:\n    - ResizeImage:\n        size: 224\n", "Infer.transforms"},
		{"unknown transform", "Arch:\n  name: PPLCNet_x1_0\nInfer:\n  transforms:\n    - ResizeImage:\n        size: 224\n    - GridMask: {}\n", "Infer.transforms[1].GridMask"},
		{"threshold", "Arch:\n  name: PPLCNet_x1_0\nInfer:\n  transforms:\n    - ResizeImage:\n        size: 224\n  PostProcess:\n    name: MultiLabelThreshOutput\n    threshold: 2\n", "Infer.PostProcess.threshold"},
		{"not a mapping", "- 1\n- 2\n", ""},
		{"not yaml", "Arch: [\n", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.doc))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v, want a *ConfigError", err)
			}
			if ce.Key != tc.key {
				t.Errorf("key %q, want %q (%v)", ce.Key, tc.key, err)
			}
		})
	}
}

func TestParseConfigLimits(t *testing.T) {
	// A billion-laughs document: nine levels of ten aliases each.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		b.WriteString(strings.Repeat(prev+", ", 9) + prev + "]\n")
	}
	b.WriteString("Arch:\n  name: PPLCNet_x1_0\n")
	for name, doc := range map[string][]byte{
		"aliases":  []byte(b.String()),
		"too big":  append([]byte("Arch:\n  name: PPLCNet_x1_0\n#"), bytes.Repeat([]byte("x"), maxConfigSize)...),
		"too deep": []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000)),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseConfig(doc)
			if err == nil {
				t.Fatal("accepted")
			}
			if name == "aliases" && !strings.Contains(err.Error(), "YAML nodes") {
				t.Errorf("refused for another reason: %v", err)
			}
			if _, err := ReadConfig(bytes.NewReader(doc)); err == nil {
				t.Fatal("ReadConfig accepted")
			}
		})
	}
}

// writePdparams writes tensors the way paddle.save pickles a state dict of
// numpy arrays (protocol 3, numpy.core.multiarray._reconstruct), in the
// given order.
func writePdparams(t *testing.T, path string, tensors map[string]arch.Tensor) {
	t.Helper()
	var b bytes.Buffer
	u32 := func(n int) { b.Write(binary.LittleEndian.AppendUint32(nil, uint32(n))) }
	str := func(s string) { b.WriteByte('X'); u32(len(s)); b.WriteString(s) }
	b.WriteString("\x80\x03}")
	for _, name := range sortedNames(tensors) {
		tn := tensors[name]
		str(name)
		b.WriteString("cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85C\x01b\x87R(K\x01(")
		for _, d := range tn.Shape {
			b.WriteByte('J')
			u32(d)
		}
		b.WriteString("tcnumpy\ndtype\nX\x02\x00\x00\x00f4\x89\x88\x87R(K\x03X\x01\x00\x00\x00<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89B")
		u32(4 * len(tn.Data))
		for _, v := range tn.Data {
			b.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
		}
		b.WriteString("tbs")
	}
	b.WriteByte('.')
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The text-line program's weights are a PPLCNet_x0_25 with class_num 2 and
// (2,1) strides: written as the .pdparams PaddleX ships beside it and
// converted with its training config, they must give the same model as
// the program does. Without the config they must convert to the ImageNet
// defaults, recorded as such, which is the wrong model this guards against.
func TestConfigMatchesProgram(t *testing.T) {
	ctx := context.Background()
	prog, err := Read(ctx, fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "PP-LCNet_x0_25_textline_ori_pretrained.pdparams")
	writePdparams(t, path, prog.Tensors)
	ck, err := Read(ctx, path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := readConfigFile(t, "textline_x0_25.yaml")
	z, _ := newZoo(t)
	fromProg, err := Import(ctx, z, prog, ImportOptions{Name: "prog"})
	if err != nil {
		t.Fatal(err)
	}
	fromCfg, err := Import(ctx, z, ck, ImportOptions{Name: "cfg", Config: cfg, Labels: []string{"0_degree", "180_degree"}})
	if err != nil {
		t.Fatal(err)
	}
	if fromProg.Source.Arch != zoo.ArchProgram || fromCfg.Source.Arch != zoo.ArchConfig {
		t.Errorf("arch sources %q and %q", fromProg.Source.Arch, fromCfg.Source.Arch)
	}
	if fromCfg.Preprocess != fromProg.Preprocess {
		t.Errorf("preprocess from the config %+v, from inference.yml %+v", fromCfg.Preprocess, fromProg.Preprocess)
	}
	pa, ca := fromProg.Arch, fromCfg.Arch
	if !slices.Equal(pa.Blocks, ca.Blocks) || !slices.Equal(pa.StrideList, ca.StrideList) ||
		pa.InputHeight != ca.InputHeight || pa.InputWidth != ca.InputWidth || pa.ClassNum != ca.ClassNum {
		t.Errorf("arch from the config %+v\nfrom the program %+v", ca, pa)
	}
	probs := func(m zoo.Manifest) []float64 {
		w, err := z.Weights(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		net, err := nn.Load(m.Arch, w, nn.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer net.Close()
		h, wd := m.Arch.InputHeight, m.Arch.InputWidth
		x := make([]float32, 3*h*wd)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*0.37)) * 2
		}
		out, err := net.Infer(ctx, x, 1, h, wd)
		if err != nil {
			t.Fatal(err)
		}
		return softmax(out.Logits)
	}
	want, got := probs(fromProg), probs(fromCfg)
	for i := range want {
		if math.Abs(want[i]-got[i]) > 1e-6 {
			t.Fatalf("probabilities from the config %v, from the program %v", got, want)
		}
	}
	t.Logf("program %v, config %v", want, got)

	// Without the config: stride 2 everywhere, recorded as assumed, and
	// different outputs.
	def, err := Import(ctx, z, ck, ImportOptions{Name: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if d := probs(def); math.Abs(d[0]-want[0]) < 1e-3 {
		t.Errorf("the ImageNet defaults give %v, as the right strides do", d)
	}
	if def.Source.Arch != zoo.ArchDefault || !slices.Equal(def.Arch.StrideList, arch.DefaultStrides()) || def.Arch.InputWidth != 224 {
		t.Errorf("no config: source %q strides %v input %dx%d", def.Source.Arch, def.Arch.StrideList, def.Arch.InputHeight, def.Arch.InputWidth)
	}
	// The config given with the program agrees, so it changes nothing.
	if _, err := Import(ctx, z, prog, ImportOptions{Name: "prog", Config: cfg}); err != nil {
		t.Errorf("program with its own config: %v", err)
	}
}

func softmax(logits []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range logits {
		m = math.Max(m, float64(v))
	}
	var sum float64
	out := make([]float64, len(logits))
	for i, v := range logits {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// A config whose network is not the checkpoint's is refused, naming the
// first tensor that differs.
func TestConfigMismatch(t *testing.T) {
	ctx := context.Background()
	prog, err := Read(ctx, fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.pdparams")
	writePdparams(t, path, prog.Tensors)
	ck, err := Read(ctx, path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	z, _ := newZoo(t)
	tests := []struct {
		name, edit, tensor string
	}{
		{"scale", "name: PPLCNet_x1_0", "conv1.conv.weight"},
		{"classes", "class_num: 4", "fc.weight"},
		{"no last conv", "use_last_conv: False", "fc.weight"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			archKeys := "  name: PPLCNet_x0_25\n  class_num: 2\n"
			if strings.HasPrefix(tc.edit, "name:") {
				archKeys = "  class_num: 2\n"
			}
			doc := "Global:\n  image_shape: [3, 80, 160]\nArch:\n" + archKeys + "  " + tc.edit +
				"\nInfer:\n  transforms:\n    - ResizeImage:\n        size: [160, 80]\n"
			cfg, err := ParseConfig([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Import(ctx, z, ck, ImportOptions{Name: "x", Config: cfg})
			var te *arch.TensorError
			if !errors.As(err, &te) || te.Name != tc.tensor {
				t.Fatalf("error %v, want one naming %s", err, tc.tensor)
			}
		})
	}
	// With the program, a config with other strides is refused.
	cfg := readConfigFile(t, "textline_x0_25.yaml")
	cfg.Arch = cfg.Arch.WithStrides(arch.DefaultStrides())
	if _, err := Import(ctx, z, prog, ImportOptions{Name: "x", Config: cfg}); err == nil || !strings.Contains(err.Error(), "stride_list") {
		t.Errorf("program with a config of other strides: %v", err)
	}
}

// A training config's transforms become the model's preprocessing (with
// --config on the CLI, the config field of an upload), so they are
// bounded as an inference.yml's are: a 1x1 image would otherwise cost a
// gigabyte per request. Each case is accepted but for its one size.
func TestConfigPreprocessBound(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "config", "textline_x0_25.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	inferResize := "    - ResizeImage:\n        size: [160, 80]\n    - NormalizeImage:"
	evalResize := "        - ResizeImage:\n            size: [160, 80]\n"
	_, inferBody, ok := strings.Cut(doc, "\nInfer:\n")
	if !ok {
		t.Fatal("textline_x0_25.yaml no longer has an Infer section")
	}
	infer := "\nInfer:\n" + inferBody
	edit := func(t *testing.T, doc, old, new string) string {
		t.Helper()
		out := strings.Replace(doc, old, new, 1)
		if out == doc {
			t.Fatalf("textline_x0_25.yaml no longer has %q", old)
		}
		return out
	}
	for _, tc := range []struct {
		name, doc, key, want string
	}{
		{"Infer resize", edit(t, edit(t, doc, "image_shape: [3, 80, 160]", "image_shape: [3, 4096, 4096]"),
			inferResize, "    - ResizeImage:\n        size: [4096, 4096]\n    - NormalizeImage:"),
			"Infer.transforms", "resize width is 4096"},
		// The crop keeps the input at 80x160: only the resize is huge.
		{"Infer resize_short before a crop", edit(t, doc, inferResize,
			"    - ResizeImage:\n        resize_short: 4096\n    - CropImage:\n        size: [160, 80]\n    - NormalizeImage:"),
			"Infer.transforms", "resize_short is 4096"},
		{"Eval transform_ops", edit(t, edit(t, doc, infer, "\n"), evalResize, "        - ResizeImage:\n            resize_short: 3000\n        - CropImage:\n            size: [160, 80]\n"),
			"DataLoader.Eval.dataset.transform_ops", "resize_short is 3000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.doc))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				if err == nil {
					t.Fatalf("accepted the preprocessing %+v", *c.Preprocess)
				}
				t.Fatalf("got %v, want a *ConfigError", err)
			}
			if ce.Key != tc.key || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "2048") {
				t.Fatalf("error %q (key %q), want key %s saying %q and the bound", err, ce.Key, tc.key, tc.want)
			}
		})
	}
}

package convert

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
	"github.com/lcnet/lcnet/zoo"
)

func fakeImageNet() []string {
	l := make([]string, 1000)
	for i := range l {
		l[i] = fmt.Sprintf("in%d", i)
	}
	return l
}

// noInfer fails the test if the importer infers what the program states.
func noInfer(map[string]arch.Tensor) (arch.Arch, error) {
	return arch.Arch{}, fmt.Errorf("inferArch called for a checkpoint with a program")
}

func TestPrepare(t *testing.T) {
	ctx := context.Background()
	textline, err := Read(ctx, fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := Read(ctx, fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := deps{inferArch: noInfer, imageNetLabels: fakeImageNet}

	m, err := prepare(textline, ImportOptions{}, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "PP-LCNet_x0_25_textline_ori" || m.DType != zoo.FP32 || len(m.Labels) != 2 || m.Labels[1] != "180_degree" ||
		m.Preprocess.ResizeWidth != 160 || m.Source.Format != "pir" || m.Source.SHA256 != textline.SourceSHA256 {
		t.Errorf("manifest %+v", m)
	}
	if want := 2 + 1280*2 + 1280*128; m.Params < want {
		t.Errorf("params %d, less than the head alone (%d)", m.Params, want)
	}

	m, err = prepare(legacy, ImportOptions{Name: "x", DType: zoo.FP16}, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Labels) != 1000 || m.Labels[999] != "in999" || m.Preprocess != arch.DefaultPreprocess() || m.DType != zoo.FP16 {
		t.Errorf("legacy manifest: %d labels, preprocess %+v", len(m.Labels), m.Preprocess)
	}

	broken := func(edit func(ts map[string]arch.Tensor)) *Checkpoint {
		c := *textline
		c.Tensors = maps.Clone(textline.Tensors)
		edit(c.Tensors)
		return &c
	}
	errs := []struct {
		name string
		ck   *Checkpoint
		opts ImportOptions
		want string
	}{
		{"label count", textline, ImportOptions{Labels: []string{"a", "b", "c"}}, "the labels given has 3 labels, the model has 2 classes"},
		{"dtype", textline, ImportOptions{DType: "int8"}, `unknown dtype "int8"`},
		{"missing tensor", broken(func(ts map[string]arch.Tensor) { delete(ts, "blocks5.3.dw_conv.conv.weight") }), ImportOptions{}, "tensor blocks5.3.dw_conv.conv.weight is missing"},
		{"wrong shape", broken(func(ts map[string]arch.Tensor) {
			ts["fc.bias"] = arch.Tensor{Shape: []int{3}, Data: make([]float32, 3)}
		}), ImportOptions{}, "tensor fc.bias has shape [3], the architecture needs [2]"},
		{"extra tensor", broken(func(ts map[string]arch.Tensor) {
			ts["head.weight"] = arch.Tensor{Shape: []int{1}, Data: []float32{1}}
		}), ImportOptions{}, "tensor head.weight is not part"},
		{"bad data", broken(func(ts map[string]arch.Tensor) {
			ts["fc.bias"] = arch.Tensor{Shape: []int{2}, Data: make([]float32, 1)}
		}), ImportOptions{}, "tensor fc.bias: shape [2] needs 2 values"},
		{"strides", textline, ImportOptions{StrideList: []arch.Stride{arch.Square(2)}}, "stride_list has 1 entries"},
		{"empty", &Checkpoint{}, ImportOptions{}, "no tensors"},
		{"config says multi-label, program softmax", textline, ImportOptions{Config: multiLabelConfig(textline)}, "Global.use_multilabel is true but the program's head ends in a softmax"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := prepare(tc.ck, tc.opts, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestApplyStrides(t *testing.T) {
	a := arch.DefaultArch(0.25, 2)
	if err := applyStrides(&a, textlineStrides()); err != nil {
		t.Fatal(err)
	}
	want := arch.DefaultArch(0.25, 2)
	want.StrideList = textlineStrides()
	want.FillBlocks()
	for i := range a.Blocks {
		if a.Blocks[i] != want.Blocks[i] {
			t.Errorf("block %d: %+v, want %+v", i, a.Blocks[i], want.Blocks[i])
		}
	}
}

func TestModelName(t *testing.T) {
	for in, want := range map[string]string{
		"PPLCNet_x1_0.pdparams":                 "PPLCNet_x1_0",
		"PP-LCNet_x0_25_textline_ori_infer.tar": "PP-LCNet_x0_25_textline_ori",
		"m.tgz":                                 "m",
		"PPLCNet_x0_75_infer":                   "PPLCNet_x0_75",
	} {
		if got := modelName(in); got != want {
			t.Errorf("modelName(%q) = %q, want %q", in, got, want)
		}
	}
}

// A .pdparams has no program: the architecture comes from arch.InferArch,
// and the stride override turns it into the text-line layout.
func TestPrepareGolden(t *testing.T) {
	ck, err := Read(context.Background(), fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := deps{inferArch: arch.InferArch, imageNetLabels: fakeImageNet}
	m, err := prepare(ck, ImportOptions{}, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "PPLCNet_x0_25" || m.Params != 1521184 || m.Arch.Scale != 0.25 || m.Arch.ClassNum != 1000 ||
		len(m.Labels) != 1000 || m.Source.Format != "pdparams" {
		t.Errorf("manifest %+v", m)
	}
	m, err = prepare(ck, ImportOptions{StrideList: textlineStrides()}, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Arch.Blocks[1].Stride != (arch.Stride{H: 2, W: 1}) || m.Arch.Blocks[0].Stride != arch.Square(1) {
		t.Errorf("strides not applied: %+v", m.Arch.Blocks[:2])
	}
}

// multiLabelConfig is the config of ck's own architecture with
// use_multilabel set, as if taken from another export.
func multiLabelConfig(ck *Checkpoint) *Config {
	a := *ck.Arch
	a.MultiLabel = true
	return &Config{Arch: a}
}

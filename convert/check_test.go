package convert

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/fixtures"
)

func textlineDir(t testing.TB) string {
	return fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori")
}

// editedPIR parses the real text-line program after edit changed it in
// memory.
func editedPIR(t *testing.T, edit func(p *fixtures.PIR)) *program {
	t.Helper()
	pir := fixtures.ReadPIR(t, textlineDir(t))
	if edit != nil {
		edit(pir)
	}
	p, err := parsePIR(pir.Bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckPIR(t *testing.T) {
	type edit = func(t *testing.T, p *fixtures.PIR)
	set := func(typ string, n int, attr string, v any) edit {
		return func(t *testing.T, p *fixtures.PIR) { p.Attr(t, p.Find(t, typ, n), attr)["D"] = v }
	}
	rename := func(typ string, n int, to string) edit {
		return func(t *testing.T, p *fixtures.PIR) { p.Op(p.Find(t, typ, n))["#"] = to }
	}
	i32s := func(vs ...int) []any {
		out := []any{}
		for _, v := range vs {
			out = append(out, map[string]any{"#": "0.a_i32", "D": v})
		}
		return out
	}
	tests := []struct {
		name string
		edit edit
		// refused: the op type and attribute the error must name; empty
		// op means the program converts and check verifies the arch.
		op, attr string
		check    func(t *testing.T, a arch.Arch)
	}{
		{name: "unchanged", check: func(t *testing.T, a arch.Arch) {
			if a.MultiLabel || a.DropoutProb < 0.19 {
				t.Errorf("MultiLabel %t DropoutProb %g", a.MultiLabel, a.DropoutProb)
			}
		}},
		{name: "swish for hardswish", edit: rename("1.hardswish", 0, "1.swish"), op: "swish"},
		{name: "relu for hardswish", edit: rename("1.hardswish", 3, "1.relu"), op: "relu"},
		{name: "relu6 in SE", edit: rename("1.relu", 0, "1.relu6"), op: "relu6"},
		{name: "sigmoid for SE hardsigmoid", edit: rename("1.hardsigmoid", 1, "1.sigmoid"), op: "sigmoid"},
		{name: "hardsigmoid slope", edit: set("1.hardsigmoid", 0, "slope", 0.2), op: "hardsigmoid", attr: "slope"},
		{name: "hardsigmoid offset", edit: set("1.hardsigmoid", 1, "offset", 0.4), op: "hardsigmoid", attr: "offset"},
		{name: "max pool in SE", edit: set("1.pool2d", 0, "pooling_type", "max"), op: "pool2d", attr: "pooling_type"},
		{name: "max pool in head", edit: set("1.pool2d", 2, "pooling_type", "max"), op: "pool2d", attr: "pooling_type"},
		{name: "pool not adaptive", edit: set("1.pool2d", 2, "adaptive", false), op: "pool2d", attr: "ksize"},
		{name: "padding", edit: set("1.depthwise_conv2d", 0, "paddings", i32s(2, 2)), op: "depthwise_conv2d", attr: "paddings"},
		{name: "stem padding", edit: set("1.conv2d", 0, "paddings", i32s(0, 0)), op: "conv2d", attr: "paddings"},
		{name: "dilation", edit: set("1.conv2d", 3, "dilations", i32s(2, 2)), op: "conv2d", attr: "dilations"},
		{name: "padding algorithm", edit: set("1.conv2d", 2, "padding_algorithm", "SAME"), op: "conv2d", attr: "padding_algorithm"},
		{name: "NHWC", edit: set("1.conv2d", 0, "data_format", "NHWC"), op: "conv2d", attr: "data_format"},
		{name: "batch norm epsilon", edit: set("1.batch_norm_", 4, "epsilon", 1e-3), op: "batch_norm_", attr: "epsilon"},
		{name: "batch norm in training", edit: func(t *testing.T, p *fixtures.PIR) {
			set("1.batch_norm_", 0, "is_test", false)(t, p)
			set("1.batch_norm_", 0, "use_global_stats", false)(t, p)
		}, op: "batch_norm_", attr: "is_test"},
		{name: "dropout in training", edit: set("1.dropout", 0, "is_test", false), op: "dropout", attr: "is_test"},
		{name: "flatten axes", edit: set("1.flatten", 0, "start_axis", 0), op: "flatten", attr: "start_axis"},
		{name: "matmul transposes x", edit: set("1.matmul", 0, "transpose_x", true), op: "matmul", attr: "transpose_x"},
		{name: "softmax axis", edit: set("1.softmax", 0, "axis", 0), op: "softmax", attr: "axis"},
		{name: "log_softmax head", edit: rename("1.softmax", 0, "1.log_softmax"), op: "log_softmax"},
		{name: "SE multiplies the wrong value", edit: func(t *testing.T, p *fixtures.PIR) {
			in := p.Op(p.Find(t, "1.multiply", 0))["I"].([]any)
			in[0] = in[1] // gate * gate
		}, op: "multiply"},
		{name: "a residual add", edit: func(t *testing.T, p *fixtures.PIR) {
			// The depthwise conv of blocks3.0 adds its input back.
			h := p.Op(p.Find(t, "1.hardswish", 3))
			h["#"] = "1.add"
			prev := p.Op(p.Find(t, "1.hardswish", 2))["O"].([]any)[0].(map[string]any)["%"]
			h["I"] = append(h["I"].([]any), map[string]any{"%": prev})
		}, op: "add"},
		{name: "sigmoid head is multi-label", edit: func(t *testing.T, p *fixtures.PIR) { p.SigmoidHead(t) },
			check: func(t *testing.T, a arch.Arch) {
				if !a.MultiLabel {
					t.Error("MultiLabel false after a sigmoid head")
				}
			}},
		{name: "no final activation", edit: func(t *testing.T, p *fixtures.PIR) {
			i := p.Find(t, "1.softmax", 0)
			p.Op(i + 1)["I"] = p.Op(i)["I"]
			p.Ops = append(p.Ops[:i:i], p.Ops[i+1:]...)
		}, check: func(t *testing.T, a arch.Arch) {
			if a.MultiLabel {
				t.Error("MultiLabel without a sigmoid")
			}
		}},
		{name: "upscale dropout is the identity", edit: set("1.dropout", 0, "mode", "upscale_in_train"),
			check: func(t *testing.T, a arch.Arch) {
				if a.DropoutProb != 0 {
					t.Errorf("DropoutProb %g", a.DropoutProb)
				}
			}},
		{name: "stem stride read", edit: set("1.conv2d", 0, "strides", i32s(1, 1)),
			check: func(t *testing.T, a arch.Arch) {
				if a.StrideList[0] != arch.Square(1) {
					t.Errorf("stem stride %v", a.StrideList[0])
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := editedPIR(t, func(p *fixtures.PIR) {
				if tt.edit != nil {
					tt.edit(t, p)
				}
			})
			a, _, err := p.walk()
			assertRefusal(t, a, err, tt.op, tt.attr, tt.check)
		})
	}
}

func assertRefusal(t *testing.T, a arch.Arch, err error, op, attr string, check func(*testing.T, arch.Arch)) {
	t.Helper()
	if op == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if check != nil {
			check(t, a)
		}
		return
	}
	if err == nil {
		t.Fatalf("converted; want a refusal naming %s %s", op, attr)
	}
	if !errors.Is(err, ErrUnsupportedProgram) {
		t.Errorf("error %v is not ErrUnsupportedProgram", err)
	}
	var pe *ProgramError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ProgramError", err)
	}
	if pe.Op != op || pe.Attr != attr {
		t.Errorf("error names op %q attribute %q, want %q %q: %v", pe.Op, pe.Attr, op, attr, err)
	}
	t.Log(err)
}

// editedPdmodel parses the real Paddle 2 program and lets edit change the
// parsed ops: the structures the parser fills, which is what check reads.
func editedPdmodel(t *testing.T, edit func(t *testing.T, p *program)) *program {
	t.Helper()
	raw, err := os.ReadFile(fixtures.Path(t, "legacy", "PPLCNet_x0_75_infer", "inference.pdmodel"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := parsePdmodel(raw)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(t, p)
	}
	return p
}

func pdFind(t *testing.T, p *program, typ string, n int) *progOp {
	t.Helper()
	for i := range p.ops {
		if p.ops[i].typ == typ {
			if n == 0 {
				return &p.ops[i]
			}
			n--
		}
	}
	t.Fatalf("no op %s", typ)
	return nil
}

func TestCheckPdmodel(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(t *testing.T, p *program)
		op, attr string
		check    func(t *testing.T, a arch.Arch)
	}{
		{name: "unchanged", check: func(t *testing.T, a arch.Arch) {
			if a.MultiLabel || len(a.Blocks) != 13 {
				t.Errorf("MultiLabel %t, %d blocks", a.MultiLabel, len(a.Blocks))
			}
		}},
		{name: "hard_swish offset", edit: func(t *testing.T, p *program) { pdFind(t, p, "hard_swish", 5).attrs.floats["offset"] = 2 }, op: "hard_swish", attr: "offset"},
		{name: "hard_swish threshold", edit: func(t *testing.T, p *program) { pdFind(t, p, "hard_swish", 0).attrs.floats["threshold"] = 8 }, op: "hard_swish", attr: "threshold"},
		{name: "hard_sigmoid slope 0.2", edit: func(t *testing.T, p *program) { pdFind(t, p, "hard_sigmoid", 0).attrs.floats["slope"] = 0.2 }, op: "hard_sigmoid", attr: "slope"},
		{name: "fused relu", edit: func(t *testing.T, p *program) {
			pdFind(t, p, "depthwise_conv2d", 4).attrs.strs["fuse_activation"] = "relu"
		}, op: "depthwise_conv2d", attr: "fuse_activation"},
		{name: "batch norm in training", edit: func(t *testing.T, p *program) { pdFind(t, p, "batch_norm", 7).attrs.bools["is_test"] = false }, op: "batch_norm", attr: "is_test"},
		{name: "SE bias on the last axis", edit: func(t *testing.T, p *program) {
			for i := range p.ops {
				if p.ops[i].typ == "elementwise_add" {
					p.ops[i].attrs.ints["axis"] = []int{-1}
					return
				}
			}
		}, op: "elementwise_add", attr: "axis"},
		{name: "fused conv bias", edit: func(t *testing.T, p *program) {
			pdFind(t, p, "conv2d", 3).params["Bias"] = "batch_norm_0.b_0"
		}, op: "conv2d", attr: "Bias"},
		{name: "max pool", edit: func(t *testing.T, p *program) { pdFind(t, p, "pool2d", 2).attrs.strs["pooling_type"] = "max" }, op: "pool2d", attr: "pooling_type"},
		{name: "pool to 2x2", edit: func(t *testing.T, p *program) { pdFind(t, p, "pool2d", 1).attrs.ints["ksize"] = []int{2, 2} }, op: "pool2d", attr: "ksize"},
		{name: "flatten stop axis", edit: func(t *testing.T, p *program) {
			pdFind(t, p, "flatten_contiguous_range", 0).attrs.ints["stop_axis"] = []int{2}
		}, op: "flatten_contiguous_range", attr: "stop_axis"},
		{name: "matmul transposes x", edit: func(t *testing.T, p *program) { pdFind(t, p, "matmul_v2", 0).attrs.bools["trans_x"] = true }, op: "matmul_v2", attr: "trans_x"},
		{name: "swish", edit: func(t *testing.T, p *program) {
			op := pdFind(t, p, "hard_swish", 10)
			op.typ, op.kind = "swish", normaliseOp("swish")
		}, op: "swish"},
		{name: "sigmoid head", edit: func(t *testing.T, p *program) {
			op := pdFind(t, p, "softmax", 0)
			op.typ, op.kind = "sigmoid", normaliseOp("sigmoid")
			delete(op.attrs.ints, "axis")
		}, check: func(t *testing.T, a arch.Arch) {
			if !a.MultiLabel {
				t.Error("MultiLabel false after a sigmoid head")
			}
		}},
		{name: "dropout as scale", edit: func(t *testing.T, p *program) {
			op := pdFind(t, p, "dropout", 0)
			op.typ, op.kind = "scale", normaliseOp("scale")
			op.attrs.floats["scale"], op.attrs.floats["bias"] = 0.75, 0
		}, check: func(t *testing.T, a arch.Arch) {
			if a.DropoutProb != 0.25 {
				t.Errorf("DropoutProb %g, want 0.25", a.DropoutProb)
			}
		}},
		{name: "scale with a bias", edit: func(t *testing.T, p *program) {
			op := pdFind(t, p, "dropout", 0)
			op.typ, op.kind = "scale", normaliseOp("scale")
			op.attrs.floats["scale"], op.attrs.floats["bias"] = 0.75, 1
		}, op: "scale", attr: "bias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := editedPdmodel(t, tt.edit)
			a, _, err := p.walk()
			assertRefusal(t, a, err, tt.op, tt.attr, tt.check)
		})
	}
}

// TestCheckStructure runs the check over every real program the fixtures
// hold: each must pass as it is.
func TestCheckStructure(t *testing.T) {
	for _, dir := range []string{
		fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori"),
		fixtures.Path(t, "paddle3", "PP-LCNet_x0_25_textline_ori_nolastconv"),
		fixtures.Path(t, "structure", "PP-LCNet_x1_0_doc_ori"),
		fixtures.Path(t, "structure", "PP-LCNet_x1_0_textline_ori"),
	} {
		raw, err := os.ReadFile(filepath.Join(dir, "inference.json"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := parsePIR(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.walk(); err != nil {
			t.Errorf("%s: %v", filepath.Base(dir), err)
		}
	}
}

package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Paddle 3 saves inference programs as PIR json (inference.json). The parts
// read here: parameter ops ("#": "p") with their name and shape, the data
// op's shape, and the attributes and inputs of the ops the walk needs.

type pirFile struct {
	BaseCode struct {
		Magic string `json:"magic"`
	} `json:"base_code"`
	Program struct {
		Regions []struct {
			Blocks []struct {
				Ops []pirOp `json:"ops"`
			} `json:"blocks"`
		} `json:"regions"`
	} `json:"program"`
}

type pirOp struct {
	Type string          `json:"#"`
	A    json.RawMessage `json:"A"`
	I    []pirValueRef   `json:"I"`
	O    json.RawMessage `json:"O"`
}

type pirValueRef struct {
	ID int `json:"%"`
}

type pirAttr struct {
	Name string `json:"N"`
	AT   struct {
		Type string          `json:"#"`
		D    json.RawMessage `json:"D"`
	} `json:"AT"`
}

type pirOut struct {
	ID int `json:"%"`
	TT struct {
		D []json.RawMessage `json:"D"`
	} `json:"TT"`
}

// shape of a dense tensor type: D[1].
func (o pirOut) shape() ([]int, error) {
	if len(o.TT.D) < 2 {
		return nil, errors.New("value type has no shape")
	}
	var s []int
	if err := json.Unmarshal(o.TT.D[1], &s); err != nil {
		return nil, fmt.Errorf("value shape: %w", err)
	}
	return s, nil
}

// pirSlots names the inputs of the ops the walk reads, by position, with
// Paddle 2's slot names.
var pirSlots = map[string][]string{
	"conv":    {"Input", "Filter"},
	"bn":      {"X", "Mean", "Variance", "Scale", "Bias"},
	"add":     {"X", "Y"},
	"matmul":  {"X", "Y"},
	"dropout": {"X", "Seed", "P"},
	"mul":     {"X", "Y"},
	"scale":   {"X", "Scale"},
}

// setPIR stores one PIR attribute by its type.
func (a opAttrs) setPIR(at pirAttr) error {
	var err error
	switch strings.TrimPrefix(strings.TrimPrefix(at.AT.Type, "0."), "1.") {
	case "a_i32", "a_i64":
		var v int
		if err = json.Unmarshal(at.AT.D, &v); err == nil {
			a.ints[at.Name] = []int{v}
		}
	case "a_f32", "a_f64":
		var v float64
		if err = json.Unmarshal(at.AT.D, &v); err == nil {
			a.floats[at.Name] = v
		}
	case "a_str":
		var v string
		if err = json.Unmarshal(at.AT.D, &v); err == nil {
			a.strs[at.Name] = v
		}
	case "a_bool":
		var v bool
		if err = json.Unmarshal(at.AT.D, &v); err == nil {
			a.bools[at.Name] = v
		}
	case "a_array":
		// Arrays of strings or floats matter to no op lcnet runs; the
		// check refuses an op whose integer array it cannot read.
		if v, err := pirInts(at.AT.D); err == nil {
			a.ints[at.Name] = v
		}
	case "a_intarray":
		var v []int
		if err = json.Unmarshal(at.AT.D, &v); err == nil {
			a.ints[at.Name] = v
		}
	}
	return err
}

// parsePIR reads a PIR json program.
func parsePIR(data []byte) (*program, error) {
	if err := pirSize(data); err != nil {
		return nil, fmt.Errorf("pir: %w", err)
	}
	var f pirFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("pir: %w", err)
	}
	if f.BaseCode.Magic != "pir" {
		return nil, fmt.Errorf("pir: base_code.magic is %q, want \"pir\"", f.BaseCode.Magic)
	}
	if len(f.Program.Regions) == 0 || len(f.Program.Regions[0].Blocks) == 0 {
		return nil, errors.New("pir: program has no regions[0].blocks[0]")
	}
	ops := f.Program.Regions[0].Blocks[0].Ops
	if len(ops) > maxProgramOps {
		return nil, fmt.Errorf("pir: %w", &LimitError{What: "the program's op count", Size: int64(len(ops)), Limit: maxProgramOps, Unit: "ops"})
	}
	p := &program{params: map[string][]int{}}
	paramOf := map[int]string{}  // value id -> parameter name (through reshapes)
	constOf := map[int]float64{} // value id -> value of a scalar full op
	intsOf := map[int][]int{}    // value id -> value of a full_int_array op
	reshapeOf := map[int][]int{} // value id -> target shape of a reshaped parameter
	for i, op := range ops {
		typ := strings.TrimPrefix(op.Type, "1.")
		if op.Type == "p" {
			// A: [_, _, _, name]; O: one value with the shape.
			var a []json.RawMessage
			if err := json.Unmarshal(op.A, &a); err != nil || len(a) < 4 {
				return nil, fmt.Errorf("pir: op %d: parameter attributes are not [.., .., .., name]", i)
			}
			var name string
			if err := json.Unmarshal(a[3], &name); err != nil || name == "" {
				return nil, fmt.Errorf("pir: op %d: parameter name: %v", i, a[3])
			}
			var o pirOut
			if err := json.Unmarshal(op.O, &o); err != nil {
				return nil, fmt.Errorf("pir: parameter %s: %w", name, err)
			}
			shape, err := o.shape()
			if err != nil {
				return nil, fmt.Errorf("pir: parameter %s: %w", name, err)
			}
			if _, dup := p.params[name]; dup {
				return nil, fmt.Errorf("pir: parameter %s is declared twice", name)
			}
			p.params[name] = shape
			paramOf[o.ID] = name
			continue
		}
		var attrs []pirAttr
		if len(op.A) > 0 {
			if err := json.Unmarshal(op.A, &attrs); err != nil {
				return nil, fmt.Errorf("pir: op %d (%s): attributes: %w", i, typ, err)
			}
		}
		var outs []pirOut
		if len(op.O) > 0 {
			if err := json.Unmarshal(op.O, &outs); err != nil {
				return nil, fmt.Errorf("pir: op %d (%s): outputs: %w", i, typ, err)
			}
		}
		if typ == "full_int_array" {
			// Kernel sizes and shapes reach pool2d and reshape as values.
			if len(outs) > 0 {
				for _, at := range attrs {
					if at.Name == "value" {
						if v, err := pirInts(at.AT.D); err == nil {
							intsOf[outs[0].ID] = v
						}
					}
				}
			}
			continue
		}
		if typ == "full" {
			if len(outs) > 0 {
				for _, at := range attrs {
					var v float64
					if at.Name == "value" && json.Unmarshal(at.AT.D, &v) == nil {
						constOf[outs[0].ID] = v
					}
				}
			}
			continue
		}
		kind := normaliseOp(typ)
		if (kind == "reshape" || kind == "assign") && len(op.I) > 0 && len(outs) > 0 {
			// SE biases reach their add through a reshape of the parameter.
			if n, ok := paramOf[op.I[0].ID]; ok {
				paramOf[outs[0].ID] = n
				if kind == "reshape" && len(op.I) > 1 {
					if shape, ok := intsOf[op.I[1].ID]; ok {
						reshapeOf[outs[0].ID] = shape
					}
				}
				continue
			}
		}
		po := progOp{kind: kind, typ: typ, pos: i, params: map[string]string{}, attrs: newAttrs()}
		for _, in := range op.I {
			po.in = append(po.in, fmt.Sprintf("%%%d", in.ID))
		}
		if len(outs) > 0 {
			po.out = fmt.Sprintf("%%%d", outs[0].ID)
		}
		if kind == "input" && len(outs) > 0 {
			if s, err := outs[0].shape(); err == nil {
				p.feedShape = s
			}
		}
		slots := pirSlots[po.kind]
		for j, in := range op.I {
			if n, ok := paramOf[in.ID]; ok && j < len(slots) {
				po.params[slots[j]] = n
				if shape, ok := reshapeOf[in.ID]; ok {
					po.attrs.ints[slots[j]+".reshape"] = shape
				}
			}
			if v, ok := constOf[in.ID]; ok && j > 0 {
				po.attrs.floats["input."+fmt.Sprint(j)] = v
				if po.kind == "dropout" && j < len(slots) && slots[j] == "P" {
					po.dropoutP, po.hasDropoutP = v, true
				}
			}
			if v, ok := intsOf[in.ID]; ok && j > 0 {
				po.attrs.ints["input."+fmt.Sprint(j)] = v
			}
		}
		for _, at := range attrs {
			if err := po.attrs.setPIR(at); err != nil {
				return nil, fmt.Errorf("pir: op %d (%s): attribute %s: %w", i, typ, at.Name, err)
			}
		}
		po.strides = po.attrs.ints["strides"]
		po.paddings = po.attrs.ints["paddings"]
		po.dilations = po.attrs.ints["dilations"]
		po.paddingAlgo = po.attrs.strs["padding_algorithm"]
		po.transposeY = po.attrs.bools["transpose_y"]
		if g := po.attrs.ints["groups"]; len(g) == 1 {
			po.groups = g[0]
		}
		po.dropoutMode = po.attrs.strs["mode"]
		if v, ok := po.attrs.floats["p"]; ok {
			po.dropoutP, po.hasDropoutP = v, true
		}
		if po.kind == "conv" && po.groups == 0 {
			po.groups = 1
		}
		p.ops = append(p.ops, po)
	}
	if len(p.params) == 0 {
		return nil, errors.New("pir: the program declares no parameters")
	}
	return p, nil
}

// pirInts reads an a_array of a_i32/a_i64 attributes.
func pirInts(raw json.RawMessage) ([]int, error) {
	var items []struct {
		D int `json:"D"`
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = it.D
	}
	return out, nil
}

// readPIR is the reader row for a Paddle 3 export: inference.json with
// inference.pdiparams.
func readPIR(ctx context.Context, d *modelDir, key string) (*Checkpoint, error) {
	return readCombined(ctx, d, FormatPIR, key, parsePIR)
}

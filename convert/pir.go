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
		switch typ {
		case "data":
			if len(outs) > 0 {
				if s, err := outs[0].shape(); err == nil {
					p.feedShape = s
				}
			}
			continue
		case "reshape", "reshape_", "assign":
			// SE biases reach their add through a reshape of the parameter.
			if len(op.I) > 0 && len(outs) > 0 {
				if n, ok := paramOf[op.I[0].ID]; ok {
					paramOf[outs[0].ID] = n
				}
			}
			continue
		case "full":
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
		po := progOp{kind: normaliseOp(typ), typ: typ, params: map[string]string{}}
		slots := pirSlots[po.kind]
		for j, in := range op.I {
			if j >= len(slots) {
				break
			}
			if n, ok := paramOf[in.ID]; ok {
				po.params[slots[j]] = n
			}
			if po.kind == "dropout" && slots[j] == "P" {
				if v, ok := constOf[in.ID]; ok {
					po.dropoutP, po.hasDropoutP = v, true
				}
			}
		}
		for _, at := range attrs {
			var err error
			switch at.Name {
			case "strides":
				po.strides, err = pirInts(at.AT.D)
			case "paddings":
				po.paddings, err = pirInts(at.AT.D)
			case "dilations":
				po.dilations, err = pirInts(at.AT.D)
			case "padding_algorithm":
				err = json.Unmarshal(at.AT.D, &po.paddingAlgo)
			case "transpose_y":
				err = json.Unmarshal(at.AT.D, &po.transposeY)
			case "groups":
				err = json.Unmarshal(at.AT.D, &po.groups)
			case "mode":
				err = json.Unmarshal(at.AT.D, &po.dropoutMode)
			case "p":
				err = json.Unmarshal(at.AT.D, &po.dropoutP)
				po.hasDropoutP = err == nil
			}
			if err != nil {
				return nil, fmt.Errorf("pir: op %d (%s): attribute %s: %w", i, typ, at.Name, err)
			}
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

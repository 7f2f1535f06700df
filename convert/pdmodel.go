package convert

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lcnet/lcnet/convert/internal/pickle"
	"google.golang.org/protobuf/encoding/protowire"
)

// Paddle 2 saves inference programs as a ProgramDesc protobuf
// (paddle/fluid/framework/framework.proto). Only the fields the walk needs
// are decoded, by hand:
//
//	ProgramDesc { repeated BlockDesc blocks = 1; }
//	BlockDesc   { repeated VarDesc vars = 3; repeated OpDesc ops = 4; }
//	VarDesc     { string name = 1; VarType type = 2; bool persistable = 3; }
//	VarType     { Type type = 1; LoDTensorDesc lod_tensor = 3; }
//	LoDTensorDesc { TensorDesc tensor = 1; }
//	OpDesc      { repeated Var inputs = 1; repeated Var outputs = 2; string type = 3; repeated Attr attrs = 4; }
//	OpDesc.Var  { string parameter = 1; repeated string arguments = 2; }
//	OpDesc.Attr { string name = 1; int32 i = 3; float f = 4; string s = 5; repeated int32 ints = 6; int64 l = 13; double float64 = 19; }

const pdLoDTensor = 7 // VarType.LOD_TENSOR

type pdVar struct {
	name        string
	persistable bool
	varType     int
	dims        []int
}

type pdOp struct {
	typ     string
	inputs  map[string][]string
	outputs map[string][]string
	ints    map[string][]int
	floats  map[string]float64
	strs    map[string]string
	bools   map[string]bool
}

// parsePdmodel reads the first block of a ProgramDesc.
func parsePdmodel(data []byte) (*program, error) {
	if err := programSize(data); err != nil {
		return nil, fmt.Errorf("pdmodel: %w", err)
	}
	var block []byte
	err := walkProto(data, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
		if num == 1 && typ == protowire.BytesType && block == nil {
			block = sub
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pdmodel: ProgramDesc: %w", err)
	}
	if block == nil {
		return nil, errors.New("pdmodel: the program has no blocks")
	}
	var vars []pdVar
	var ops []pdOp
	err = walkProto(block, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		if len(vars)+len(ops) >= maxProgramOps {
			return &LimitError{What: "the program's vars and ops", Size: int64(len(vars) + len(ops) + 1), Limit: maxProgramOps, Unit: "entries"}
		}
		switch num {
		case 3:
			v, err := parseVarDesc(sub)
			if err != nil {
				return fmt.Errorf("var %d: %w", len(vars), err)
			}
			vars = append(vars, v)
		case 4:
			op, err := parseOpDesc(sub)
			if err != nil {
				return fmt.Errorf("op %d: %w", len(ops), err)
			}
			ops = append(ops, op)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pdmodel: block 0: %w", err)
	}
	p := &program{params: map[string][]int{}}
	byName := map[string]pdVar{}
	for _, v := range vars {
		byName[v.name] = v
		if v.persistable && v.varType == pdLoDTensor && v.name != "feed" && v.name != "fetch" {
			if _, dup := p.params[v.name]; dup {
				return nil, fmt.Errorf("pdmodel: parameter %s is declared twice", v.name)
			}
			p.params[v.name] = v.dims
		}
	}
	if len(p.params) == 0 {
		return nil, errors.New("pdmodel: the program declares no parameters")
	}
	param := func(op pdOp, slot string) string {
		for _, a := range op.inputs[slot] {
			if _, ok := p.params[a]; ok {
				return a
			}
		}
		return ""
	}
	for i, op := range ops {
		po := progOp{kind: normaliseOp(op.typ), typ: op.typ, pos: i, params: map[string]string{},
			attrs: opAttrs{ints: op.ints, floats: op.floats, strs: op.strs, bools: op.bools}}
		if po.kind == "input" {
			if out := op.outputs["Out"]; len(out) > 0 && p.feedShape == nil {
				p.feedShape = byName[out[0]].dims
			}
		}
		// The activation comes first, then the other inputs the check
		// follows: the second factor of a multiply.
		for _, slot := range []string{"Input", "X", "Y"} {
			if args := op.inputs[slot]; len(args) > 0 {
				po.in = append(po.in, args[0])
			}
		}
		for _, slot := range []string{"Out", "Output", "Y"} {
			if args := op.outputs[slot]; len(args) > 0 {
				po.out = args[0]
				break
			}
		}
		for _, slot := range []string{"Filter", "Scale", "Bias", "Mean", "Variance", "Y"} {
			if n := param(op, slot); n != "" {
				po.params[slot] = n
			}
		}
		po.strides = op.ints["strides"]
		po.paddings = op.ints["paddings"]
		po.dilations = op.ints["dilations"]
		po.paddingAlgo = op.strs["padding_algorithm"]
		po.transposeY = op.bools["trans_y"] || op.bools["transpose_Y"]
		if g := op.ints["groups"]; len(g) == 1 {
			po.groups = g[0]
		}
		if po.kind == "conv" && po.groups == 0 {
			po.groups = 1
		}
		if v, ok := op.floats["dropout_prob"]; ok {
			po.dropoutP, po.hasDropoutP = v, true
		}
		po.dropoutMode = op.strs["dropout_implementation"]
		p.ops = append(p.ops, po)
	}
	return p, nil
}

func parseVarDesc(b []byte) (pdVar, error) {
	var v pdVar
	err := walkProto(b, func(num protowire.Number, typ protowire.Type, x uint64, sub []byte) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			v.name = string(sub)
		case num == 3 && typ == protowire.VarintType:
			v.persistable = x != 0
		case num == 2 && typ == protowire.BytesType:
			return walkProto(sub, func(num protowire.Number, typ protowire.Type, x uint64, sub []byte) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					v.varType = int(x)
				case num == 3 && typ == protowire.BytesType: // LoDTensorDesc
					return walkProto(sub, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
						if num == 1 && typ == protowire.BytesType {
							_, dims, err := parseTensorDesc(sub, true)
							v.dims = dims
							return err
						}
						return nil
					})
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("%s: %w", v.name, err)
	}
	return v, nil
}

func parseOpDesc(b []byte) (pdOp, error) {
	op := pdOp{
		inputs:  map[string][]string{},
		outputs: map[string][]string{},
		ints:    map[string][]int{},
		floats:  map[string]float64{},
		strs:    map[string]string{},
		bools:   map[string]bool{},
	}
	err := walkProto(b, func(num protowire.Number, typ protowire.Type, _ uint64, sub []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1, 2:
			var slot string
			var args []string
			err := walkProto(sub, func(num protowire.Number, typ protowire.Type, _ uint64, s []byte) error {
				if typ == protowire.BytesType {
					switch num {
					case 1:
						slot = string(s)
					case 2:
						args = append(args, string(s))
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
			if num == 1 {
				op.inputs[slot] = args
			} else {
				op.outputs[slot] = args
			}
		case 3:
			op.typ = string(sub)
		case 4:
			return parseAttr(sub, &op)
		}
		return nil
	})
	if err != nil {
		return op, fmt.Errorf("%s: %w", op.typ, err)
	}
	return op, nil
}

// parseAttr keeps the integer, float and string attributes of an op.
func parseAttr(b []byte, op *pdOp) error {
	var name string
	var ints []int
	var hasInts bool
	var f float64
	var hasF bool
	var s string
	var hasS bool
	var bv, hasB bool
	err := walkProto(b, func(num protowire.Number, typ protowire.Type, x uint64, sub []byte) error {
		switch num {
		case 1:
			name = string(sub)
		case 3, 13: // i, l
			if typ == protowire.VarintType {
				ints, hasInts = []int{int(int64(x))}, true
			}
		case 4: // f
			if typ == protowire.Fixed32Type {
				f, hasF = float64(math.Float32frombits(uint32(x))), true
			}
		case 19: // float64
			if typ == protowire.Fixed64Type {
				f, hasF = math.Float64frombits(x), true
			}
		case 10: // b
			if typ == protowire.VarintType {
				bv, hasB = x != 0, true
			}
		case 5: // s
			if typ == protowire.BytesType {
				s, hasS = string(sub), true
			}
		case 6, 15: // ints, longs; packed or not
			hasInts = true
			if len(ints) >= maxAttrInts {
				return &LimitError{What: "an attribute's list", Size: int64(len(ints) + 1), Limit: maxAttrInts, Unit: "items"}
			}
			if typ == protowire.VarintType {
				ints = append(ints, int(int32(x)))
				if num == 15 {
					ints[len(ints)-1] = int(int64(x))
				}
				return nil
			}
			for len(sub) > 0 {
				if len(ints) >= maxAttrInts {
					return &LimitError{What: "an attribute's list", Size: int64(len(ints) + 1), Limit: maxAttrInts, Unit: "items"}
				}
				v, n := protowire.ConsumeVarint(sub)
				if n < 0 {
					return protowire.ParseError(n)
				}
				if num == 6 {
					ints = append(ints, int(int32(v)))
				} else {
					ints = append(ints, int(int64(v)))
				}
				sub = sub[n:]
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("attribute %s: %w", name, err)
	}
	if hasInts {
		op.ints[name] = ints
	}
	if hasF {
		op.floats[name] = f
	}
	if hasS {
		op.strs[name] = s
	}
	if hasB {
		op.bools[name] = bv
	}
	return nil
}

// readPdmodel is the reader row for a Paddle 2 export: inference.pdmodel
// with inference.pdiparams.
func readPdmodel(ctx context.Context, d *modelDir, key string) (*Checkpoint, error) {
	return readCombined(ctx, d, FormatPdmodel, key, parsePdmodel)
}

// checkInfo compares the walk's names with inference.pdiparams.info, which
// Paddle 2 exports write: static name -> {"structured_name": ...}. A
// mismatch means the walk misread the program, which must not pass.
func checkInfo(ctx context.Context, d *modelDir, names map[string]string) error {
	raw, err := d.read(ctx, fileInfo)
	if err != nil {
		return err
	}
	info, err := readInfo(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", fileInfo, err)
	}
	for _, static := range sortedNames(info) {
		got, ok := names[static]
		if !ok {
			return fmt.Errorf("%s names %s, which the program does not declare", fileInfo, pickle.Short(static))
		}
		if want := StripPrefix(info[static]); got != want {
			return fmt.Errorf("%s maps %s to %s, but the program uses it as %s", fileInfo, pickle.Short(static), pickle.Short(want), got)
		}
	}
	return nil
}

// readInfo decodes a .pdiparams.info pickle to static -> structured name.
func readInfo(data []byte) (map[string]string, error) {
	obj, err := pickle.Load(data)
	if err != nil {
		return nil, err
	}
	d, ok := obj.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("holds a %s, want a dict", pickle.TypeName(obj))
	}
	out := make(map[string]string, len(d.Keys))
	for i, k := range d.Keys {
		static, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("key %s is not a name", pickle.Short(k))
		}
		switch v := d.Vals[i].(type) {
		case string:
			out[static] = v
		case *pickle.Dict:
			s, ok := v.Get("structured_name")
			name, ok2 := s.(string)
			if !ok || !ok2 {
				return nil, fmt.Errorf("%s has no structured_name", pickle.Short(static))
			}
			out[static] = name
		default:
			return nil, fmt.Errorf("%s maps to a %s", pickle.Short(static), pickle.TypeName(v))
		}
	}
	return out, nil
}

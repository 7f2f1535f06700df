// Package onnx writes a PP-LCNet as an ONNX model: an architecture and its
// PaddleClas weights in, a ModelProto out. It reads nothing.
package onnx

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/lcnet/lcnet/arch"
	"google.golang.org/protobuf/encoding/protowire"
)

// DefaultOpset is the opset Write writes unless told otherwise:
// the first one with a HardSwish operator.
const DefaultOpset = 14

// ONNX opsets Write can write. Every operator it uses keeps the same
// semantics across this range; below 13 Softmax, Gemm and Flatten differ.
const (
	minOpset = 13
	maxOpset = 21
)

// Options tunes Write. The zero value writes opset 14.
type Options struct {
	// Opset is the ai.onnx opset version, 13 to 21; 0 means
	// DefaultOpset. Opset 13 has no HardSwish, so hardswish is written
	// as x * HardSigmoid(x) there.
	Opset int
	// GraphName names the graph; empty means "PPLCNet_x<scale>".
	GraphName string
	// ProducerVersion is recorded as the model's producer_version.
	ProducerVersion string
	// Metadata is written to metadata_props (sorted by key), for example
	// the labels or the preprocessing as JSON. The key "lcnet.arch" is
	// always set to the architecture's JSON.
	Metadata map[string]string
}

// ONNX graph input and output names. They are part of the format's contract
// with users (and with e2e/bench), so they are exported.
const (
	Input         = "x"
	Logits        = "logits"
	Probabilities = "probabilities"
	Features      = "features"
	Pooled        = "pooled"
)

// Write writes arch with the given weights as an ONNX ModelProto to w.
// tensors are PaddleClas structured names with BatchNorm unfolded, as the
// zoo stores them (fp16 zoo weights arrive widened to float32 in arch.Tensor,
// so the export is always fp32). BatchNorm is folded into each conv's weight
// and bias. The graph takes x [N,3,H,W] (N, H and W dynamic) and gives
// logits and probabilities [N,classes], features [N,FeatureDim] (the head
// before dropout) and pooled [N,LastChannels].
func Write(w io.Writer, a arch.Arch, tensors map[string]arch.Tensor, opts Options) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	// A checkpoint that does not match the architecture fails here with the
	// tensor's name instead of inside the runtime that loads the file.
	if err := a.Check(tensors); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	opset := opts.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < minOpset || opset > maxOpset {
		return fmt.Errorf("onnx export: opset %d not supported (want %d to %d)", opset, minOpset, maxOpset)
	}
	g := &onnxGraph{tensors: tensors, opset: opset}
	if err := g.build(a); err != nil {
		return fmt.Errorf("onnx export: %w", err)
	}
	archJSON, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("onnx export: encoding the architecture: %w", err)
	}
	meta := map[string]string{}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	meta["lcnet.arch"] = string(archJSON)
	name := opts.GraphName
	if name == "" {
		name = "PPLCNet_x" + a.ScaleName()
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	if err := writeONNXModel(bw, g, name, opset, opts.ProducerVersion, meta); err != nil {
		return fmt.Errorf("onnx export: writing: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("onnx export: writing: %w", err)
	}
	return nil
}

// onnxInit is a float32 constant of the graph. Its data is streamed
// straight into the output, so the model is never held twice in memory.
type onnxInit struct {
	name string
	dims []int
	data []float32
}

type onnxGraph struct {
	tensors map[string]arch.Tensor
	opset   int
	nodes   [][]byte
	inits   []onnxInit
	outputs [][]byte // ValueInfoProto of the graph outputs
}

// tensor is a weight of the graph; Write checked them all against the
// architecture first.
func (g *onnxGraph) tensor(name string) []float32 { return g.tensors[name].Data }

func (g *onnxGraph) build(a arch.Arch) error {
	x := Input
	var err error
	stem := a.StemStride()
	if x, err = g.convBN("conv1", x, 3, a.StemOut, 3, stem, 1); err != nil {
		return err
	}
	x = g.hardswish("conv1", x)
	for _, b := range a.Blocks {
		p := b.Name()
		if x, err = g.convBN(p+".dw_conv", x, b.In, b.In, b.Kernel, b.Stride, b.In); err != nil {
			return err
		}
		x = g.hardswish(p+".dw_conv", x)
		if b.SE {
			x = g.se(p+".se", x, b.In)
		}
		if x, err = g.convBN(p+".pw_conv", x, b.In, b.Out, 1, arch.Square(1), 1); err != nil {
			return err
		}
		x = g.hardswish(p+".pw_conv", x)
	}

	gap := g.node("GlobalAveragePool", "avg_pool", []string{x})
	pooled := g.node("Flatten", Pooled, []string{gap}, onnxAttrInt("axis", 1))
	var features string
	fcIn := a.LastChannels()
	alpha := float32(1)
	if a.UseLastConv {
		fcIn = a.ClassExpand
		g.addInit("last_conv.weight", []int{a.ClassExpand, a.LastChannels(), 1, 1}, g.tensor("last_conv.weight"))
		c := g.node("Conv", "last_conv", []string{gap, "last_conv.weight"}, onnxConvAttrs(1, arch.Square(1), 1)...)
		h := g.hardswish("last_conv", c)
		features = g.node("Flatten", Features, []string{h}, onnxAttrInt("axis", 1))
		// Dropout(mode="downscale_in_infer") multiplies by 1-p at inference;
		// Gemm's alpha applies it without a separate node or rescaled weights.
		alpha = float32(1 - a.DropoutProb)
	} else {
		// Without the last conv the features are the pooled vector; a graph
		// output needs its own value name, hence the Identity.
		features = g.node("Identity", Features, []string{pooled})
	}
	g.addInit("fc.weight", []int{fcIn, a.ClassNum}, g.tensor("fc.weight"))
	g.addInit("fc.bias", []int{a.ClassNum}, g.tensor("fc.bias"))
	// Paddle's Linear weight is [in, out], which is Gemm's B without transB.
	logits := g.node("Gemm", Logits, []string{features, "fc.weight", "fc.bias"}, onnxAttrFloat("alpha", alpha))
	var probs string
	if a.MultiLabel {
		// A multi-label head scores each class on its own.
		probs = g.node("Sigmoid", Probabilities, []string{logits})
	} else {
		probs = g.node("Softmax", Probabilities, []string{logits}, onnxAttrInt("axis", -1))
	}

	g.outputs = [][]byte{
		onnxValueInfo(logits, "batch", a.ClassNum),
		onnxValueInfo(probs, "batch", a.ClassNum),
		onnxValueInfo(features, "batch", a.FeatureDim()),
		onnxValueInfo(pooled, "batch", a.LastChannels()),
	}
	return nil
}

// convBN adds a bias-free conv followed by BatchNorm, folded into one Conv
// (arch.FoldBN).
func (g *onnxGraph) convBN(prefix, in string, cin, cout, k int, stride arch.Stride, groups int) (string, error) {
	fw, fb, err := arch.FoldBN(g.tensors, prefix)
	if err != nil {
		return "", err
	}
	g.addInit(prefix+".weight", []int{cout, cin / groups, k, k}, fw)
	g.addInit(prefix+".bias", []int{cout}, fb)
	return g.node("Conv", prefix, []string{in, prefix + ".weight", prefix + ".bias"}, onnxConvAttrs(k, stride, groups)...), nil
}

// se adds PaddleClas' SEModule: GAP, 1x1 conv to C/4, ReLU, 1x1 conv back
// to C, hardsigmoid (slope 1/6, offset 0.5) and a channel-wise multiply.
func (g *onnxGraph) se(prefix, in string, c int) string {
	r := arch.SEMid(c)
	var names [4]string
	shapes := [4][]int{{r, c, 1, 1}, {r}, {c, r, 1, 1}, {c}}
	for i, s := range []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"} {
		names[i] = prefix + "." + s
		g.addInit(names[i], shapes[i], g.tensor(names[i]))
	}
	pool := g.node("GlobalAveragePool", prefix+".avg_pool", []string{in})
	c1 := g.node("Conv", prefix+".conv1", []string{pool, names[0], names[1]}, onnxConvAttrs(1, arch.Square(1), 1)...)
	relu := g.node("Relu", prefix+".relu", []string{c1})
	c2 := g.node("Conv", prefix+".conv2", []string{relu, names[2], names[3]}, onnxConvAttrs(1, arch.Square(1), 1)...)
	hs := g.node("HardSigmoid", prefix+".hardsigmoid", []string{c2}, onnxHardSigmoidAttrs()...)
	return g.node("Mul", prefix+".mul", []string{in, hs})
}

// hardswish is x * relu6(x+3) / 6: one HardSwish from opset 14, and
// x * HardSigmoid(x; 1/6, 0.5) before, which is the same function.
func (g *onnxGraph) hardswish(prefix, in string) string {
	if g.opset >= 14 {
		return g.node("HardSwish", prefix+".hardswish", []string{in})
	}
	hs := g.node("HardSigmoid", prefix+".hardswish.gate", []string{in}, onnxHardSigmoidAttrs()...)
	return g.node("Mul", prefix+".hardswish", []string{in, hs})
}

// node appends a NodeProto whose single output value is named after the
// node, which keeps the graph readable in viewers such as Netron.
func (g *onnxGraph) node(op, name string, inputs []string, attrs ...[]byte) string {
	var m []byte
	for _, in := range inputs {
		m = pbString(m, 1, in)
	}
	m = pbString(m, 2, name)
	m = pbString(m, 3, name)
	m = pbString(m, 4, op)
	for _, a := range attrs {
		m = pbMessage(m, 5, a)
	}
	g.nodes = append(g.nodes, m)
	return name
}

func (g *onnxGraph) addInit(name string, dims []int, data []float32) {
	g.inits = append(g.inits, onnxInit{name: name, dims: dims, data: data})
}

func onnxConvAttrs(k int, s arch.Stride, groups int) [][]byte {
	p := int64((k - 1) / 2)
	return [][]byte{
		onnxAttrInts("kernel_shape", int64(k), int64(k)),
		onnxAttrInts("strides", int64(s.H), int64(s.W)),
		onnxAttrInts("pads", p, p, p, p),
		onnxAttrInts("dilations", 1, 1),
		onnxAttrInt("group", int64(groups)),
	}
}

// hardSigmoidAttrs is Paddle's hardsigmoid: clip(x/6 + 0.5, 0, 1).
func onnxHardSigmoidAttrs() [][]byte {
	return [][]byte{onnxAttrFloat("alpha", 1.0/6), onnxAttrFloat("beta", 0.5)}
}

// AttributeProto type discriminators (onnx.proto AttributeType).
const (
	onnxAttrTypeFloat = 1
	onnxAttrTypeInt   = 2
	onnxAttrTypeInts  = 7
)

func onnxAttrInt(name string, v int64) []byte {
	m := pbString(nil, 1, name)
	m = protowire.AppendTag(m, 3, protowire.VarintType)
	m = protowire.AppendVarint(m, uint64(v))
	return pbVarint(m, 20, onnxAttrTypeInt)
}

func onnxAttrFloat(name string, v float32) []byte {
	m := pbString(nil, 1, name)
	m = protowire.AppendTag(m, 2, protowire.Fixed32Type)
	m = protowire.AppendFixed32(m, math.Float32bits(v))
	return pbVarint(m, 20, onnxAttrTypeFloat)
}

// attrInts writes `repeated int64 ints = 8` unpacked, as proto2 declares it.
func onnxAttrInts(name string, vs ...int64) []byte {
	m := pbString(nil, 1, name)
	for _, v := range vs {
		m = pbVarint(m, 8, uint64(v))
	}
	return pbVarint(m, 20, onnxAttrTypeInts)
}

// ONNX TensorProto data types.
const onnxFloat = 1

// valueInfo is a float tensor ValueInfoProto; a dim is an int (fixed size)
// or a string (a dim_param, dynamic).
func onnxValueInfo(name string, dims ...any) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		switch d := d.(type) {
		case int:
			dim = pbVarint(nil, 1, uint64(d))
		case string:
			dim = pbString(nil, 2, d)
		default:
			panic(fmt.Sprintf("valueInfo: dim %v of type %T", d, d))
		}
		shape = pbMessage(shape, 1, dim)
	}
	tensorType := pbVarint(nil, 1, onnxFloat)
	tensorType = pbMessage(tensorType, 2, shape)
	typ := pbMessage(nil, 1, tensorType)
	m := pbString(nil, 1, name)
	return pbMessage(m, 2, typ)
}

func pbString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func pbMessage(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

func pbVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// irVersion is the IR version that introduced the opset (onnx/docs/Versioning.md).
func onnxIRVersion(opset int) uint64 {
	switch {
	case opset <= 13:
		return 7
	case opset <= 18:
		return 8
	case opset <= 20:
		return 9
	default:
		return 10
	}
}

// initHeader is a TensorProto up to (and including) the raw_data tag and
// length; the float32 data follows it directly.
func onnxInitHeader(in onnxInit) []byte {
	var m []byte
	for _, d := range in.dims {
		m = pbVarint(m, 1, uint64(d))
	}
	m = pbVarint(m, 2, onnxFloat)
	m = pbString(m, 8, in.name)
	m = protowire.AppendTag(m, 9, protowire.BytesType)
	return protowire.AppendVarint(m, uint64(4*len(in.data)))
}

// writeModel writes the ModelProto with the graph last, so that the graph
// can be streamed: its length is computed up front from the parts.
func writeONNXModel(w io.Writer, g *onnxGraph, name string, opset int, producerVersion string, meta map[string]string) error {
	var head []byte
	head = pbVarint(head, 1, onnxIRVersion(opset))
	head = pbString(head, 2, "lcnet")
	if producerVersion != "" {
		head = pbString(head, 3, producerVersion)
	}
	opsetID := pbString(nil, 1, "")
	opsetID = pbVarint(opsetID, 2, uint64(opset))
	head = pbMessage(head, 8, opsetID)
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv := pbString(nil, 1, k)
		kv = pbString(kv, 2, meta[k])
		head = pbMessage(head, 14, kv)
	}

	// The graph's small fields; the initializers come after them.
	var gs []byte
	for _, n := range g.nodes {
		gs = pbMessage(gs, 1, n)
	}
	gs = pbString(gs, 2, name)
	gs = pbMessage(gs, 11, onnxValueInfo(Input, "batch", 3, "height", "width"))
	for _, o := range g.outputs {
		gs = pbMessage(gs, 12, o)
	}
	headers := make([][]byte, len(g.inits))
	size := len(gs)
	seen := make(map[string]bool, len(g.inits))
	for i, in := range g.inits {
		if seen[in.name] {
			return fmt.Errorf("initializer %s written twice", in.name)
		}
		seen[in.name] = true
		headers[i] = onnxInitHeader(in)
		n := len(headers[i]) + 4*len(in.data)
		size += protowire.SizeTag(5) + protowire.SizeVarint(uint64(n)) + n
	}
	head = protowire.AppendTag(head, 7, protowire.BytesType)
	head = protowire.AppendVarint(head, uint64(size))
	head = append(head, gs...)
	if _, err := w.Write(head); err != nil {
		return err
	}

	buf := make([]byte, 0, 1<<16)
	for i, in := range g.inits {
		n := len(headers[i]) + 4*len(in.data)
		buf = protowire.AppendTag(buf[:0], 5, protowire.BytesType)
		buf = protowire.AppendVarint(buf, uint64(n))
		buf = append(buf, headers[i]...)
		for _, v := range in.data {
			if len(buf)+4 > cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

package convert

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/lcnet/lcnet/arch"
)

// program is what the walk needs from a Paddle inference program, whichever
// format it came in (ProgramDesc protobuf or PIR json): the persistable
// parameters with their shapes, and the ops in execution order with the
// inputs that matter, under Paddle 2's slot names.
type program struct {
	// params maps each parameter's static name to its shape, and order
	// lists the names as the program declares them.
	params map[string][]int
	// feedShape is the declared input shape, e.g. [-1, 3, 80, 160].
	feedShape []int
	ops       []progOp
}

// progOp is one op, reduced to what identifies a PP-LCNet layer.
type progOp struct {
	kind string // normalised op type: see normaliseOp
	typ  string // the type as written, for errors
	pos  int    // index in the program's op list, for errors
	// in lists the values the op reads (activation first) and out the
	// value it writes, so the check can follow the data through the graph.
	in  []string
	out string
	// attrs holds every attribute the op carries, for the check.
	attrs opAttrs
	// params holds the parameter names the op reads, by slot
	// ("Filter", "Scale", "Bias", "Mean", "Variance", "Y").
	params      map[string]string
	strides     []int
	paddings    []int
	dilations   []int
	paddingAlgo string
	transposeY  bool
	groups      int
	dropoutP    float64
	hasDropoutP bool
	dropoutMode string
}

// opAttrs are an op's attributes by type; integer lists and scalars share
// ints, the way Paddle 2 stores them.
type opAttrs struct {
	ints   map[string][]int
	floats map[string]float64
	strs   map[string]string
	bools  map[string]bool
}

func newAttrs() opAttrs {
	return opAttrs{ints: map[string][]int{}, floats: map[string]float64{}, strs: map[string]string{}, bools: map[string]bool{}}
}

// normaliseOp maps Paddle 2 and PIR op names to one kind. A type it does
// not know stays as written, and the check refuses it.
func normaliseOp(t string) string {
	switch t {
	case "conv2d", "depthwise_conv2d":
		return "conv"
	case "batch_norm", "batch_norm_", "sync_batch_norm":
		return "bn"
	case "elementwise_add", "add", "add_":
		return "add"
	case "matmul", "matmul_v2", "mul":
		return "matmul"
	case "dropout":
		return "dropout"
	case "hardswish", "hard_swish", "hardswish_":
		return "hardswish"
	case "hardsigmoid", "hard_sigmoid", "hardsigmoid_":
		return "hardsigmoid"
	case "relu", "relu_":
		return "relu"
	case "pool2d":
		return "pool"
	case "elementwise_mul", "multiply", "multiply_":
		return "mul"
	case "flatten", "flatten_", "flatten_contiguous_range", "flatten2":
		return "flatten"
	case "reshape", "reshape_", "reshape2":
		return "reshape"
	case "scale", "scale_":
		return "scale"
	case "softmax", "softmax_":
		return "softmax"
	case "sigmoid", "sigmoid_":
		return "sigmoid"
	case "feed", "data":
		return "input"
	case "fetch", "fetch_v2":
		return "fetch"
	case "assign", "assign_":
		return "assign"
	}
	return t
}

// layer is a conv or matmul with what follows it: a bias add and a batch
// norm, as the walk groups them.
type layer struct {
	op     *progOp
	weight string
	bias   string
	bn     *progOp
}

// stageSizes are the block counts of blocks2..blocks6 in PaddleClas' PPLCNet.
var stageSizes = []struct {
	name string
	n    int
}{{"blocks2", 1}, {"blocks3", 2}, {"blocks4", 2}, {"blocks5", 6}, {"blocks6", 2}}

// walk reads the architecture from the program's op sequence and maps each
// parameter's static name to its PaddleClas structured name. Nothing is
// assumed that the program states: strides, kernels, SE placement, the last
// conv, dropout and the class count all come from the ops.
func (p *program) walk() (arch.Arch, map[string]string, error) {
	a, names, err := p.walkLayers()
	if err != nil {
		// An op lcnet does not know explains more than the layer it
		// broke.
		if perr := p.allowList(); perr != nil {
			return a, nil, perr
		}
		return a, nil, fmt.Errorf("%w: %w", ErrUnsupportedProgram, err)
	}
	if err := p.check(&a); err != nil {
		return a, nil, err
	}
	return a, names, nil
}

// walkLayers reads the architecture from the conv, batch norm, add,
// matmul and dropout ops; check proves the rest.
func (p *program) walkLayers() (arch.Arch, map[string]string, error) {
	var layers []*layer
	var dropout *progOp
	for i := range p.ops {
		op := &p.ops[i]
		switch op.kind {
		case "conv":
			w := op.params["Filter"]
			if w == "" {
				return arch.Arch{}, nil, fmt.Errorf("op %d (%s) has no parameter filter", i, op.typ)
			}
			layers = append(layers, &layer{op: op, weight: w})
		case "matmul":
			w := op.params["Y"]
			if w == "" {
				return arch.Arch{}, nil, fmt.Errorf("op %d (%s) has no parameter weight", i, op.typ)
			}
			layers = append(layers, &layer{op: op, weight: w})
		case "bn":
			if len(layers) == 0 || layers[len(layers)-1].bn != nil || layers[len(layers)-1].op.kind != "conv" {
				return arch.Arch{}, nil, fmt.Errorf("op %d (%s) does not follow a convolution", i, op.typ)
			}
			for _, s := range []string{"Scale", "Bias", "Mean", "Variance"} {
				if op.params[s] == "" {
					return arch.Arch{}, nil, fmt.Errorf("op %d (%s) has no parameter %s", i, op.typ, s)
				}
			}
			layers[len(layers)-1].bn = op
		case "add":
			b := op.params["Y"]
			if b == "" {
				continue // a residual or other non-parameter add
			}
			if len(layers) == 0 || layers[len(layers)-1].bias != "" {
				return arch.Arch{}, nil, fmt.Errorf("op %d (%s) adds %s but follows no layer", i, op.typ, b)
			}
			layers[len(layers)-1].bias = b
		case "dropout", "scale":
			dropout = op
		}
	}
	names := map[string]string{}
	shape := func(n string) []int { return p.params[n] }
	var errs []error
	name := func(static, structured string) {
		if static == "" {
			return
		}
		if prev, ok := names[static]; ok && prev != structured {
			errs = append(errs, fmt.Errorf("parameter %s is used as both %s and %s", static, prev, structured))
		}
		names[static] = structured
	}
	convBN := func(l *layer, prefix string) {
		name(l.weight, prefix+".conv.weight")
		name(l.bn.params["Scale"], prefix+".bn.weight")
		name(l.bn.params["Bias"], prefix+".bn.bias")
		name(l.bn.params["Mean"], prefix+".bn._mean")
		name(l.bn.params["Variance"], prefix+".bn._variance")
	}
	stride := func(l *layer) arch.Stride {
		if len(l.op.strides) == 2 {
			return arch.Stride{H: l.op.strides[0], W: l.op.strides[1]}
		}
		if len(l.op.strides) == 1 {
			return arch.Square(l.op.strides[0])
		}
		return arch.Square(1)
	}

	for _, l := range layers {
		if err := l.checkGeometry(shape(l.weight)); err != nil {
			return arch.Arch{}, nil, fmt.Errorf("%s %s: %w", l.op.typ, l.weight, err)
		}
	}
	var a arch.Arch
	if len(layers) == 0 {
		return a, nil, errors.New("the program has no convolutions")
	}
	// Stem: a full 3x3 conv with batch norm.
	stem := layers[0]
	ws := shape(stem.weight)
	if stem.op.kind != "conv" || stem.bn == nil || len(ws) != 4 || ws[1] != 3 {
		return a, nil, fmt.Errorf("the first layer (%s, weight %s %v) is not PP-LCNet's 3-channel stem conv with batch norm", stem.op.typ, stem.weight, ws)
	}
	convBN(stem, "conv1")
	a.StemOut = ws[0]
	a.StrideList = []arch.Stride{stride(stem)}
	rest := layers[1:]
	for _, st := range stageSizes {
		for i := 0; i < st.n; i++ {
			b := arch.Block{Stage: st.name, Index: i}
			prefix := b.Name()
			if len(rest) == 0 {
				return a, nil, fmt.Errorf("the program ends before %s", prefix)
			}
			dw := rest[0]
			w := shape(dw.weight)
			if dw.op.kind != "conv" || dw.bn == nil || len(w) != 4 || w[1] != 1 || dw.op.groups != w[0] || w[2] != w[3] {
				return a, nil, fmt.Errorf("%s: expected a depthwise conv with batch norm, found %s with weight %s %v, groups %d", prefix, dw.op.typ, dw.weight, w, dw.op.groups)
			}
			b.In, b.Kernel, b.Stride = w[0], w[2], stride(dw)
			convBN(dw, prefix+".dw_conv")
			rest = rest[1:]
			// SE: two 1x1 convs with bias and no batch norm.
			if len(rest) >= 2 && rest[0].op.kind == "conv" && rest[0].bn == nil && rest[0].bias != "" {
				se1, se2 := rest[0], rest[1]
				if se2.op.kind != "conv" || se2.bn != nil || se2.bias == "" {
					return a, nil, fmt.Errorf("%s: squeeze-excitation conv %s is not followed by a second conv with bias", prefix, se1.weight)
				}
				b.SE = true
				name(se1.weight, prefix+".se.conv1.weight")
				name(se1.bias, prefix+".se.conv1.bias")
				name(se2.weight, prefix+".se.conv2.weight")
				name(se2.bias, prefix+".se.conv2.bias")
				rest = rest[2:]
			}
			if len(rest) == 0 {
				return a, nil, fmt.Errorf("the program ends inside %s", prefix)
			}
			pw := rest[0]
			w = shape(pw.weight)
			if pw.op.kind != "conv" || pw.bn == nil || len(w) != 4 || w[2] != 1 || w[3] != 1 || w[1] != b.In {
				return a, nil, fmt.Errorf("%s: expected a pointwise conv with batch norm on %d channels, found %s with weight %s %v", prefix, b.In, pw.op.typ, pw.weight, w)
			}
			b.Out = w[0]
			convBN(pw, prefix+".pw_conv")
			rest = rest[1:]
			if i == 0 && st.name != "blocks2" {
				a.StrideList = append(a.StrideList, b.Stride)
			}
			a.Blocks = append(a.Blocks, b)
		}
	}
	if len(rest) > 0 && rest[0].op.kind == "conv" {
		lc := rest[0]
		w := shape(lc.weight)
		if lc.bn != nil || lc.bias != "" || len(w) != 4 || w[2] != 1 || w[3] != 1 {
			return a, nil, fmt.Errorf("last_conv: expected a 1x1 conv without bias or batch norm, found weight %s %v", lc.weight, w)
		}
		a.UseLastConv = true
		a.ClassExpand = w[0]
		name(lc.weight, "last_conv.weight")
		rest = rest[1:]
	}
	if len(rest) != 1 || rest[0].op.kind != "matmul" {
		return a, nil, fmt.Errorf("expected the program to end with one Linear layer, found %d more layers", len(rest))
	}
	fc := rest[0]
	w := shape(fc.weight)
	if len(w) != 2 || fc.bias == "" {
		return a, nil, fmt.Errorf("fc: expected a [in, out] weight and a bias, found %s %v and bias %q", fc.weight, w, fc.bias)
	}
	a.ClassNum = w[1]
	name(fc.weight, "fc.weight")
	name(fc.bias, "fc.bias")
	if dropout != nil && dropout.kind == "scale" {
		// Dropout exported as its inference form: x * (1-p).
		v, ok := dropout.attrs.floats["scale"]
		if !ok {
			v, ok = dropout.attrs.floats["input.1"]
		}
		if !ok || v <= 0 || v > 1 {
			return a, nil, fmt.Errorf("op %d (%s): scale %g is not a dropout's 1-p", dropout.pos, dropout.typ, v)
		}
		a.DropoutProb = 1 - v
	} else if dropout != nil {
		if !dropout.hasDropoutP {
			return a, nil, errors.New("dropout op has no probability")
		}
		switch dropout.dropoutMode {
		case "downgrade_in_infer", "downscale_in_infer", "":
			// Paddle 2's default: inference multiplies by 1-p.
			a.DropoutProb = dropout.dropoutP
		case "upscale_in_train":
			a.DropoutProb = 0 // identity at inference
		default:
			return a, nil, fmt.Errorf("dropout mode %q is not known", dropout.dropoutMode)
		}
	}
	a.Scale = guessScale(a)
	if len(p.feedShape) == 4 && p.feedShape[2] > 0 && p.feedShape[3] > 0 {
		a.InputHeight, a.InputWidth = p.feedShape[2], p.feedShape[3]
	}
	for static := range p.params {
		if _, ok := names[static]; !ok {
			errs = append(errs, fmt.Errorf("parameter %s is not used by any PP-LCNet layer", static))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return a, nil, err
	}
	if err := a.Validate(); err != nil {
		return a, nil, err
	}
	return a, names, nil
}

// guessScale finds the PaddleClas scale whose channel widths the program
// has; the scale only names the model, the widths come from the weights.
func guessScale(a arch.Arch) float64 {
	for _, s := range []float64{0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5} {
		d := arch.DefaultArch(s, 1)
		if d.StemOut != a.StemOut || len(d.Blocks) != len(a.Blocks) {
			continue
		}
		same := true
		for i := range d.Blocks {
			if d.Blocks[i].Out != a.Blocks[i].Out {
				same = false
				break
			}
		}
		if same {
			return s
		}
	}
	// An unreleased width: the last stage is 512 channels at scale 1.
	return math.Round(float64(a.LastChannels())/512*100) / 100
}

// checkGeometry refuses weights the network cannot hold; check refuses
// paddings, dilations and transposes op by op.
func (l *layer) checkGeometry(w []int) error {
	op := l.op
	if op.kind == "matmul" {
		if op.transposeY {
			return errors.New("a transposed Linear weight is not supported")
		}
		return nil
	}
	if len(w) != 4 {
		return fmt.Errorf("conv weight has shape %v, want 4 dimensions", w)
	}
	for _, s := range op.strides {
		if s < 1 {
			return fmt.Errorf("strides %v", op.strides)
		}
	}
	return nil
}

// ReadProgram reads the architecture from a program alone (no weights):
// a directory holding inference.json or inference.pdmodel, or the file.
// inference.yml beside it supplies the input size when the program's is
// dynamic.
func ReadProgram(ctx context.Context, path string) (*arch.Arch, error) {
	a, err := readProgram(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("read program %s: %w", path, err)
	}
	return a, nil
}

func readProgram(ctx context.Context, path string) (*arch.Arch, error) {
	dir := path
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.IsDir() {
		dir = filepath.Dir(path)
	}
	d, err := dirModel(os.DirFS(dir), "directory "+dir, ReadOptions{})
	if err != nil {
		return nil, err
	}
	for _, r := range readers() {
		if r.program == nil || !d.has(r.key) {
			continue
		}
		raw, err := d.read(ctx, r.key)
		if err != nil {
			return nil, err
		}
		prog, err := r.program(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.key, err)
		}
		a, _, err := prog.walk()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.key, err)
		}
		if a.InputHeight <= 0 || a.InputWidth <= 0 {
			// An unreadable inference.yml leaves the default size: the
			// program is what was asked for.
			var pre arch.Preprocess
			if d.has(fileYML) {
				if raw, err := d.read(ctx, fileYML); err == nil {
					if p, _, err := parseYML(raw); err == nil && p != nil {
						pre = *p
					}
				}
			}
			a.InputHeight, a.InputWidth = a.InputSize(pre)
		}
		return &a, nil
	}
	return nil, fmt.Errorf("no %s or %s", fileJSON, filePdmodel)
}

package convert

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/lcnet/lcnet/arch"
)

// ErrUnsupportedProgram is what every ProgramError matches with errors.Is:
// the program computes something lcnet's network does not.
var ErrUnsupportedProgram = errors.New("the program computes something PP-LCNet does not")

// ProgramError names the op (and attribute) of a program that lcnet cannot
// compute as written, its position in the program's op list, and what
// PP-LCNet has there.
type ProgramError struct {
	Pos  int    // index in the program's op list
	Op   string // the op type as written
	Attr string // the attribute at fault, if one is
	// Reason says what is wrong and what PP-LCNet computes instead.
	Reason string
}

func (e *ProgramError) Error() string {
	if e.Attr != "" {
		return fmt.Sprintf("op %d (%s): %s: %s", e.Pos, e.Op, e.Attr, e.Reason)
	}
	return fmt.Sprintf("op %d (%s): %s", e.Pos, e.Op, e.Reason)
}

// Is makes errors.Is(err, ErrUnsupportedProgram) true.
func (e *ProgramError) Is(target error) bool { return target == ErrUnsupportedProgram }

// supportedKinds are the op kinds (see normaliseOp) a PP-LCNet inference
// program is made of; constants and parameters never reach the op list.
var supportedKinds = map[string]bool{
	"input": true, "fetch": true, "assign": true,
	"conv": true, "bn": true, "hardswish": true, "relu": true, "hardsigmoid": true,
	"pool": true, "mul": true, "add": true, "dropout": true, "scale": true,
	"flatten": true, "reshape": true, "matmul": true, "softmax": true, "sigmoid": true,
}

// allowList refuses the first op that is no part of any PP-LCNet program.
func (p *program) allowList() error {
	for i := range p.ops {
		op := &p.ops[i]
		if !supportedKinds[op.kind] {
			return &ProgramError{Pos: op.pos, Op: op.typ, Reason: "not supported; PP-LCNet programs hold only conv2d, depthwise_conv2d, batch_norm, hardswish, relu, hardsigmoid, pool2d, multiply, add, dropout, flatten, matmul and a final softmax or sigmoid"}
		}
	}
	return nil
}

// kindNames spells each kind the way Paddle does, for errors.
var kindNames = map[string]string{
	"input": "feed", "conv": "conv2d", "bn": "batch_norm", "pool": "pool2d",
	"mul": "multiply", "matmul": "matmul", "flatten": "flatten", "fetch": "fetch",
	"dropout": "dropout", "add": "add",
}

func kindName(k string) string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return k
}

// checker follows the feature map through the program in order, matching
// each op against the one lcnet computes at that point.
type checker struct {
	ops    []progOp
	params map[string][]int
	i      int
	cur    string // the value holding the feature map
}

func (c *checker) fail(op *progOp, attr, format string, args ...any) error {
	return &ProgramError{Pos: op.pos, Op: op.typ, Attr: attr, Reason: fmt.Sprintf(format, args...)}
}

// peek returns the next op that computes something, passing over copies
// of the feature map.
func (c *checker) peek() *progOp {
	for c.i < len(c.ops) {
		op := &c.ops[c.i]
		if op.kind == "assign" && len(op.in) > 0 && op.in[0] == c.cur {
			c.cur = op.out
			c.i++
			continue
		}
		return op
	}
	return nil
}

// next consumes the next op, which must be of kind want (one of them) and
// read the feature map; what says where it is, for errors.
func (c *checker) next(what string, want ...string) (*progOp, error) {
	op := c.peek()
	if op == nil {
		return nil, &ProgramError{Pos: len(c.ops), Op: "end", Reason: fmt.Sprintf("the program ends; PP-LCNet has %s (%s) here", kindName(want[0]), what)}
	}
	if !slices.Contains(want, op.kind) {
		if !supportedKinds[op.kind] {
			return nil, c.fail(op, "", "not supported; PP-LCNet uses %s here (%s)", kindName(want[0]), what)
		}
		return nil, c.fail(op, "", "PP-LCNet has %s here (%s)", kindName(want[0]), what)
	}
	if op.kind != "input" && (len(op.in) == 0 || op.in[0] != c.cur) {
		return nil, c.fail(op, "", "reads %v, not the feature map %s (%s)", op.in, c.cur, what)
	}
	c.i++
	c.cur = op.out
	return op, nil
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// float checks an attribute that, when present, must be want.
func (c *checker) float(op *progOp, name string, want, tol float64) error {
	if v, ok := op.attrs.floats[name]; ok && !near(v, want, tol) {
		return c.fail(op, name, "is %g; PP-LCNet computes with %g", v, want)
	}
	return nil
}

// str checks a string attribute that, when present, must be one of want.
func (c *checker) str(op *progOp, name string, want ...string) error {
	if v, ok := op.attrs.strs[name]; ok && !slices.Contains(want, v) {
		return c.fail(op, name, "is %q; PP-LCNet computes with %q", v, want[0])
	}
	return nil
}

// boolean checks a flag that, when present, must be want.
func (c *checker) boolean(op *progOp, name string, want bool) error {
	if v, ok := op.attrs.bools[name]; ok && v != want {
		return c.fail(op, name, "is %t; PP-LCNet computes with %t", v, want)
	}
	return nil
}

// ints checks an integer attribute that, when present, must hold only
// values allowed by ok.
func (c *checker) ints(op *progOp, name string, what string, ok func(i, v int) bool) error {
	vs, present := op.attrs.ints[name]
	if !present {
		return nil
	}
	for i, v := range vs {
		if !ok(i, v) {
			return c.fail(op, name, "is %v; PP-LCNet uses %s", vs, what)
		}
	}
	return nil
}

// conv checks a convolution: kernel k, stride s, padding (k-1)/2, groups g,
// no dilation and no fused activation; with bn, the batch norm after it.
func (c *checker) conv(what string, s arch.Stride, groups int, bn bool) error {
	op, err := c.next(what, "conv")
	if err != nil {
		return err
	}
	w := c.params[op.params["Filter"]]
	if b := op.params["Bias"]; b != "" {
		// Paddle 2 can fuse a bias into conv2d; PP-LCNet adds biases as
		// ops of their own, which is where walk looks for them.
		return c.fail(op, "Bias", "adds %s inside the conv; PP-LCNet has no fused conv bias", b)
	}
	if len(w) != 4 {
		return c.fail(op, "", "weight shape %v is not [out, in, k, k]", w)
	}
	pad := (w[2] - 1) / 2
	want := []int{s.H, s.W}
	if len(op.strides) == 1 {
		want = []int{s.H}
	}
	if s.H != s.W && len(op.strides) == 1 || len(op.strides) > 2 {
		return c.fail(op, "strides", "are %v; PP-LCNet uses stride %s", op.strides, s)
	}
	errs := []error{
		c.ints(op, "strides", fmt.Sprintf("stride %s", s), func(i, v int) bool { return v == want[i] }),
		c.ints(op, "paddings", fmt.Sprintf("padding %d", pad), func(_, v int) bool { return v == pad }),
		c.ints(op, "dilations", "dilation 1", func(_, v int) bool { return v == 1 }),
		c.ints(op, "groups", fmt.Sprintf("%d groups", groups), func(_, v int) bool { return v == groups }),
		c.str(op, "padding_algorithm", "EXPLICIT", ""),
		c.str(op, "data_format", "NCHW", "AnyLayout"),
		c.str(op, "fuse_activation", ""),
		c.boolean(op, "fuse_relu", false),
		c.boolean(op, "fuse_brelu", false),
		c.boolean(op, "fuse_residual_connection", false),
	}
	if len(op.strides) == 0 && (s.H != 1 || s.W != 1) {
		errs = append(errs, c.fail(op, "strides", "are missing; PP-LCNet uses stride %s", s))
	}
	if err := firstErr(errs); err != nil {
		return err
	}
	if !bn {
		return nil
	}
	op, err = c.next(what+" batch norm", "bn")
	if err != nil {
		return err
	}
	if t, ok := op.attrs.bools["is_test"]; ok && !t && !op.attrs.bools["use_global_stats"] {
		return c.fail(op, "is_test", "is false; PP-LCNet normalises with the stored statistics")
	}
	if v, ok := op.attrs.floats["epsilon"]; ok && !near(v, arch.BNEpsilon, 1e-9) {
		return c.fail(op, "epsilon", "is %g; PP-LCNet folds batch norm with %g", v, arch.BNEpsilon)
	}
	return firstErr([]error{c.str(op, "data_layout", "NCHW", "AnyLayout"), c.str(op, "data_format", "NCHW", "AnyLayout")})
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// act checks an activation op of the kind PP-LCNet applies at this point.
func (c *checker) act(what, kind string) error {
	op, err := c.next(what, kind)
	if err != nil {
		return err
	}
	switch kind {
	case "hardswish":
		// x * relu6(x + 3) / 6, as Paddle's defaults; PIR omits them.
		return firstErr([]error{
			c.float(op, "threshold", 6, 1e-6), c.float(op, "scale", 6, 1e-6), c.float(op, "offset", 3, 1e-6),
		})
	case "hardsigmoid":
		// Paddle's slope is 0.1666667, a rounded 1/6; lcnet's kernels use it.
		return firstErr([]error{c.float(op, "slope", 0.1666667, 1e-6), c.float(op, "offset", 0.5, 1e-7)})
	}
	return nil
}

// pool checks an average pool to 1x1.
func (c *checker) pool(what string) error {
	op, err := c.next(what, "pool")
	if err != nil {
		return err
	}
	if t := op.attrs.strs["pooling_type"]; t != "avg" {
		return c.fail(op, "pooling_type", "is %q; PP-LCNet averages (avg) here", t)
	}
	if op.attrs.bools["global_pooling"] {
		return nil
	}
	ksize, ok := op.attrs.ints["ksize"]
	if !ok {
		ksize = op.attrs.ints["input.1"] // PIR passes the size as a value
	}
	if !op.attrs.bools["adaptive"] || len(ksize) != 2 || ksize[0] != 1 || ksize[1] != 1 {
		return c.fail(op, "ksize", "is %v with adaptive %t; PP-LCNet pools globally to 1x1 here", ksize, op.attrs.bools["adaptive"])
	}
	return nil
}

// biasAdd checks the add of a layer's bias, broadcast over channels.
func (c *checker) biasAdd(what string, conv bool) error {
	op, err := c.next(what+" bias", "add")
	if err != nil {
		return err
	}
	if op.params["Y"] == "" {
		return c.fail(op, "", "adds no parameter; PP-LCNet adds the %s bias here", what)
	}
	if !conv {
		return nil
	}
	if axis, ok := op.attrs.ints["axis"]; ok && (len(axis) != 1 || axis[0] != 1) {
		return c.fail(op, "axis", "is %v; a convolution bias is added along the channel axis 1", axis)
	}
	if shape, ok := op.attrs.ints["Y.reshape"]; ok && (len(shape) != 4 || shape[0] != 1 || shape[2] != 1 || shape[3] != 1) {
		return c.fail(op, "", "adds the bias reshaped to %v; PP-LCNet adds it per channel, [1, C, 1, 1]", shape)
	}
	return nil
}

// check proves, op by op and following the data, that the program computes
// what lcnet computes for a, and reads the final activation into
// a.MultiLabel. walk found a from the program's layers; this is what makes
// every op between them count.
func (p *program) check(a *arch.Arch) error {
	c := &checker{ops: p.ops, params: p.params}
	in, err := c.next("the input", "input")
	if err != nil {
		return err
	}
	c.cur = in.out
	if err := c.conv("the stem", a.StrideList[0], 1, true); err != nil {
		return err
	}
	if err := c.act("the stem", "hardswish"); err != nil {
		return err
	}
	for _, b := range a.Blocks {
		name := b.Name()
		if err := c.conv(name+" depthwise conv", b.Stride, b.In, true); err != nil {
			return err
		}
		if err := c.act(name+" depthwise conv", "hardswish"); err != nil {
			return err
		}
		if b.SE {
			if err := c.se(name); err != nil {
				return err
			}
		}
		if err := c.conv(name+" pointwise conv", arch.Square(1), 1, true); err != nil {
			return err
		}
		if err := c.act(name+" pointwise conv", "hardswish"); err != nil {
			return err
		}
	}
	if err := c.pool("the head"); err != nil {
		return err
	}
	if a.UseLastConv {
		if err := c.conv("last_conv", arch.Square(1), 1, false); err != nil {
			return err
		}
		if err := c.act("last_conv", "hardswish"); err != nil {
			return err
		}
		if err := c.dropout(a); err != nil {
			return err
		}
	}
	if op, err := c.next("the head", "flatten", "reshape"); err != nil {
		return err
	} else if err := c.flatten(op); err != nil {
		return err
	}
	op, err := c.next("fc", "matmul")
	if err != nil {
		return err
	}
	if err := firstErr([]error{
		c.boolean(op, "transpose_x", false), c.boolean(op, "trans_x", false),
		c.boolean(op, "transpose_X", false), c.float(op, "alpha", 1, 0),
		c.ints(op, "x_num_col_dims", "1", func(_, v int) bool { return v == 1 }),
		c.ints(op, "y_num_col_dims", "1", func(_, v int) bool { return v == 1 }),
	}); err != nil {
		return err
	}
	if err := c.biasAdd("fc", false); err != nil {
		return err
	}
	a.MultiLabel = false
	if op := c.peek(); op != nil && (op.kind == "softmax" || op.kind == "sigmoid") {
		op, _ := c.next("the final activation", op.kind)
		if op.kind == "softmax" {
			if err := c.ints(op, "axis", "the class axis, -1 or 1", func(_, v int) bool { return v == -1 || v == 1 }); err != nil {
				return err
			}
		}
		a.MultiLabel = op.kind == "sigmoid"
	}
	if op := c.peek(); op != nil && op.kind != "fetch" {
		return c.fail(op, "", "PP-LCNet ends in softmax, sigmoid or nothing after fc")
	}
	if _, err := c.next("the output", "fetch"); err != nil {
		return err
	}
	if op := c.peek(); op != nil {
		return c.fail(op, "", "follows the output; PP-LCNet has one output")
	}
	return nil
}

// se checks a squeeze-excitation: pool, conv+bias, relu, conv+bias,
// hardsigmoid, and the product with the block's feature map.
func (c *checker) se(name string) error {
	x := c.cur
	if err := c.pool(name + " squeeze-excitation"); err != nil {
		return err
	}
	for i, act := range []string{"relu", "hardsigmoid"} {
		what := fmt.Sprintf("%s.se.conv%d", name, i+1)
		if err := c.conv(what, arch.Square(1), 1, false); err != nil {
			return err
		}
		if err := c.biasAdd(what, true); err != nil {
			return err
		}
		if err := c.act(what, act); err != nil {
			return err
		}
	}
	gate := c.cur
	op := c.peek()
	if op == nil || op.kind != "mul" {
		c.cur = x
		_, err := c.next(name+" squeeze-excitation product", "mul")
		if err == nil {
			err = fmt.Errorf("%s: squeeze-excitation has no product", name)
		}
		return err
	}
	if len(op.in) != 2 || (op.in[0] != x || op.in[1] != gate) && (op.in[0] != gate || op.in[1] != x) {
		return c.fail(op, "", "multiplies %v; PP-LCNet multiplies the feature map %s by its excitation %s", op.in, x, gate)
	}
	c.i++
	c.cur = op.out
	return nil
}

// dropout checks the optional dropout after the last conv: at inference it
// is the identity or a multiplication by 1-p, which walk read into a.
func (c *checker) dropout(a *arch.Arch) error {
	op := c.peek()
	if op == nil || (op.kind != "dropout" && op.kind != "scale") {
		if a.DropoutProb != 0 {
			return &ProgramError{Pos: c.i, Op: "dropout", Reason: "is missing"}
		}
		return nil
	}
	op, err := c.next("dropout", op.kind)
	if err != nil {
		return err
	}
	if op.kind == "scale" {
		if b := op.attrs.floats["bias"]; b != 0 {
			return c.fail(op, "bias", "is %g; PP-LCNet's dropout only scales", b)
		}
		return nil
	}
	if v, ok := op.attrs.bools["is_test"]; ok && !v {
		return c.fail(op, "is_test", "is false; a training dropout is random")
	}
	return nil
}

// flatten checks the flatten of [N, C, 1, 1] to [N, C] before fc.
func (c *checker) flatten(op *progOp) error {
	if op.kind == "reshape" {
		shape, ok := op.attrs.ints["shape"]
		if !ok {
			shape = op.attrs.ints["input.1"]
		}
		if len(shape) != 2 || (shape[0] != 0 && shape[0] != -1) || shape[1] == 0 || shape[1] < -1 {
			return c.fail(op, "shape", "is %v; PP-LCNet flattens to [N, C] here", shape)
		}
		return nil
	}
	return firstErr([]error{
		c.ints(op, "start_axis", "1", func(_, v int) bool { return v == 1 }),
		c.ints(op, "stop_axis", "3 or -1", func(_, v int) bool { return v == 3 || v == -1 }),
		c.ints(op, "axis", "1", func(_, v int) bool { return v == 1 }),
	})
}

package arch

import (
	"fmt"
	"slices"
	"strings"
)

// TensorSpec is one tensor the network needs, by PaddleClas structured
// name, with the shape the architecture implies.
type TensorSpec struct {
	Name  string
	Shape []int
}

// BNSuffixes are the four BatchNorm tensors of a PaddleClas ConvBNLayer,
// after "<prefix>.bn.": gamma, beta, running mean and running variance.
var BNSuffixes = [...]string{"weight", "bias", "_mean", "_variance"}

// isBNStat reports whether name is a BatchNorm running statistic: state, not
// a learned parameter, and so not counted by ParamCount.
func isBNStat(name string) bool {
	return strings.HasSuffix(name, "._mean") || strings.HasSuffix(name, "._variance")
}

func convBNSpecs(prefix string, cout, cin, k int) []TensorSpec {
	s := []TensorSpec{{prefix + ".conv.weight", []int{cout, cin, k, k}}}
	for _, suf := range BNSuffixes {
		s = append(s, TensorSpec{prefix + ".bn." + suf, []int{cout}})
	}
	return s
}

// SEMid is the squeeze width of PaddleClas' SEModule (reduction 4).
func SEMid(c int) int { return c / 4 }

// Tensors lists every tensor of a in network order. It is the one place
// the structured names of PP-LCNet are written: readers, the zoo, the
// network and the ONNX writer all check and look up tensors through it.
func (a Arch) Tensors() []TensorSpec {
	s := convBNSpecs("conv1", a.StemOut, 3, 3)
	for _, b := range a.Blocks {
		p := b.Name()
		s = append(s, convBNSpecs(p+".dw_conv", b.In, 1, b.Kernel)...)
		if b.SE {
			mid := SEMid(b.In)
			s = append(s,
				TensorSpec{p + ".se.conv1.weight", []int{mid, b.In, 1, 1}},
				TensorSpec{p + ".se.conv1.bias", []int{mid}},
				TensorSpec{p + ".se.conv2.weight", []int{b.In, mid, 1, 1}},
				TensorSpec{p + ".se.conv2.bias", []int{b.In}},
			)
		}
		s = append(s, convBNSpecs(p+".pw_conv", b.Out, b.In, 1)...)
	}
	in := a.LastChannels()
	if a.UseLastConv {
		s = append(s, TensorSpec{"last_conv.weight", []int{a.ClassExpand, in, 1, 1}})
		in = a.ClassExpand
	}
	return append(s,
		TensorSpec{"fc.weight", []int{in, a.ClassNum}},
		TensorSpec{"fc.bias", []int{a.ClassNum}},
	)
}

// Problem says what is wrong with a tensor.
type Problem int

const (
	// Missing: the architecture needs the tensor and the checkpoint lacks it.
	Missing Problem = iota + 1
	// Misshapen: the shape differs from the architecture's.
	Misshapen
	// BadData: the data does not fill the shape.
	BadData
	// Unexpected: the checkpoint has a tensor the architecture has no place for.
	Unexpected
)

// TensorError is a checkpoint that does not fit its architecture, naming
// the first offending tensor.
type TensorError struct {
	Name    string
	Problem Problem
	// Shape is the tensor's shape, Want the architecture's (Misshapen).
	Shape, Want []int
	// Extra is the number of unexpected tensors (Unexpected).
	Extra int
	// Err is the data error (BadData).
	Err error
}

func (e *TensorError) Error() string {
	switch e.Problem {
	case Missing:
		return fmt.Sprintf("tensor %s is missing (the architecture wants shape %v)", e.Name, e.Want)
	case Misshapen:
		return fmt.Sprintf("tensor %s has shape %v, the architecture needs %v", e.Name, e.Shape, e.Want)
	case BadData:
		return fmt.Sprintf("tensor %s: %v", e.Name, e.Err)
	default:
		return fmt.Sprintf("tensor %s is not part of a PP-LCNet with this architecture (%d unexpected tensors)", e.Name, e.Extra)
	}
}

func (e *TensorError) Unwrap() error { return e.Err }

// Check reports the first tensor, in network order, that is missing,
// misshapen or short of data, then the first unexpected name in sorted
// order, as a *TensorError. An architecture whose SE blocks are too narrow
// to squeeze is an error too.
func (a Arch) Check(tensors map[string]Tensor) error {
	for _, b := range a.Blocks {
		if b.SE && SEMid(b.In) < 1 {
			return fmt.Errorf("%s: squeeze-excitation needs at least 4 channels, has %d", b.Name(), b.In)
		}
	}
	specs := a.Tensors()
	want := make(map[string]bool, len(specs))
	for _, sp := range specs {
		want[sp.Name] = true
		t, ok := tensors[sp.Name]
		if !ok {
			return &TensorError{Name: sp.Name, Problem: Missing, Want: sp.Shape}
		}
		if !slices.Equal(t.Shape, sp.Shape) {
			return &TensorError{Name: sp.Name, Problem: Misshapen, Shape: t.Shape, Want: sp.Shape}
		}
		if err := t.Check(); err != nil {
			return &TensorError{Name: sp.Name, Problem: BadData, Shape: t.Shape, Want: sp.Shape, Err: err}
		}
	}
	var extra []string
	for name := range tensors {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return &TensorError{Name: extra[0], Problem: Unexpected, Extra: len(extra)}
	}
	return nil
}

// ParamCount is the number of learned values in a checkpoint: every tensor
// except the BatchNorm running mean and variance. It is the count papers and
// PaddleClas' summary report.
func ParamCount(tensors map[string]Tensor) int {
	n := 0
	for name, t := range tensors {
		if !isBNStat(name) {
			n += t.NumElements()
		}
	}
	return n
}

// NumElements is the number of values in all of a's tensors, BatchNorm
// statistics included: what a checkpoint of a holds.
func (a Arch) NumElements() int {
	n := 0
	for _, sp := range a.Tensors() {
		n += Tensor{Shape: sp.Shape}.NumElements()
	}
	return n
}

// LargestArch is the released architecture with the most values (the
// largest scale, with the last conv) for classNum classes and a last conv
// of classExpand channels. Readers bound a checkpoint whose architecture
// they do not know yet by its size.
func LargestArch(classNum, classExpand int) Arch {
	a := DefaultArch(releasedScales[len(releasedScales)-1], classNum)
	a.ClassExpand = classExpand
	return a
}

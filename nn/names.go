package nn

import (
	"fmt"
	"slices"
	"strings"
)

// tensorSpec is one tensor the network needs, with the shape the
// architecture implies. The list is in network order, so that a checkpoint
// missing several tensors reports the first one a reader of the model
// would meet.
type tensorSpec struct {
	name  string
	shape []int
}

// bnSuffixes are the four BatchNorm tensors of a PaddleClas ConvBNLayer.
var bnSuffixes = [...]string{"weight", "bias", "_mean", "_variance"}

// isBNStat reports whether name is a BatchNorm running statistic: state, not
// a learned parameter, and so not counted by ParamCount.
func isBNStat(name string) bool {
	return strings.HasSuffix(name, "._mean") || strings.HasSuffix(name, "._variance")
}

func convBNSpecs(prefix string, cout, cin, k int) []tensorSpec {
	s := []tensorSpec{{prefix + ".conv.weight", []int{cout, cin, k, k}}}
	for _, suf := range bnSuffixes {
		s = append(s, tensorSpec{prefix + ".bn." + suf, []int{cout}})
	}
	return s
}

// seMid is the squeeze width of PaddleClas' SEModule (reduction 4).
func seMid(c int) int { return c / 4 }

// specs lists every tensor of a in network order.
func (a Arch) specs() []tensorSpec {
	s := convBNSpecs("conv1", a.StemOut, 3, 3)
	for _, b := range a.Blocks {
		p := b.Name()
		s = append(s, convBNSpecs(p+".dw_conv", b.In, 1, b.Kernel)...)
		if b.SE {
			mid := seMid(b.In)
			s = append(s,
				tensorSpec{p + ".se.conv1.weight", []int{mid, b.In, 1, 1}},
				tensorSpec{p + ".se.conv1.bias", []int{mid}},
				tensorSpec{p + ".se.conv2.weight", []int{b.In, mid, 1, 1}},
				tensorSpec{p + ".se.conv2.bias", []int{b.In}},
			)
		}
		s = append(s, convBNSpecs(p+".pw_conv", b.Out, b.In, 1)...)
	}
	in := a.LastChannels()
	if a.UseLastConv {
		s = append(s, tensorSpec{"last_conv.weight", []int{a.ClassExpand, in, 1, 1}})
		in = a.ClassExpand
	}
	return append(s,
		tensorSpec{"fc.weight", []int{in, a.ClassNum}},
		tensorSpec{"fc.bias", []int{a.ClassNum}},
	)
}

// checkTensors reports the first tensor, in network order, that is missing
// or mis-shaped, then the first unexpected name in sorted order.
func (a Arch) checkTensors(tensors map[string]Tensor) error {
	for _, b := range a.Blocks {
		if b.SE && seMid(b.In) < 1 {
			return fmt.Errorf("%s: squeeze-excitation needs at least 4 channels, has %d", b.Name(), b.In)
		}
	}
	specs := a.specs()
	want := make(map[string]bool, len(specs))
	for _, sp := range specs {
		want[sp.name] = true
		t, ok := tensors[sp.name]
		if !ok {
			return fmt.Errorf("tensor %s: missing (architecture %s wants shape %v)", sp.name, a.ScaleName(), sp.shape)
		}
		if !slices.Equal(t.Shape, sp.shape) {
			return fmt.Errorf("tensor %s: shape %v, the architecture wants %v", sp.name, t.Shape, sp.shape)
		}
		if err := t.Check(); err != nil {
			return fmt.Errorf("tensor %s: %w", sp.name, err)
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
		return fmt.Errorf("tensor %s: unexpected for this architecture (%d unexpected tensors)", extra[0], len(extra))
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

package convert

import (
	"fmt"
	"slices"

	"github.com/lcnet/lcnet/nn"
)

// expectedShapes lists every tensor a PaddleClas PPLCNet with arch a has,
// by structured name, with its Paddle shape.
func expectedShapes(a nn.Arch) map[string][]int {
	m := map[string][]int{}
	convBN := func(prefix string, out, inPerGroup, k int) {
		m[prefix+".conv.weight"] = []int{out, inPerGroup, k, k}
		for _, s := range []string{"weight", "bias", "_mean", "_variance"} {
			m[prefix+".bn."+s] = []int{out}
		}
	}
	convBN("conv1", a.StemOut, 3, 3)
	for _, b := range a.Blocks {
		p := b.Name()
		convBN(p+".dw_conv", b.In, 1, b.Kernel)
		if b.SE {
			r := b.In / 4
			m[p+".se.conv1.weight"] = []int{r, b.In, 1, 1}
			m[p+".se.conv1.bias"] = []int{r}
			m[p+".se.conv2.weight"] = []int{b.In, r, 1, 1}
			m[p+".se.conv2.bias"] = []int{b.In}
		}
		convBN(p+".pw_conv", b.Out, b.In, 1)
	}
	in := a.LastChannels()
	if a.UseLastConv {
		m["last_conv.weight"] = []int{a.ClassExpand, in, 1, 1}
		in = a.ClassExpand
	}
	m["fc.weight"] = []int{in, a.ClassNum}
	m["fc.bias"] = []int{a.ClassNum}
	return m
}

// checkShapes reports missing, extra and misshapen tensors against arch.
func checkShapes(a nn.Arch, ts map[string]nn.Tensor) error {
	want := expectedShapes(a)
	for _, n := range sortedNames(want) {
		t, ok := ts[n]
		if !ok {
			return fmt.Errorf("tensor %s is missing", n)
		}
		if !slices.Equal(t.Shape, want[n]) {
			return fmt.Errorf("tensor %s has shape %v, the architecture needs %v", n, t.Shape, want[n])
		}
		if err := t.Check(); err != nil {
			return fmt.Errorf("tensor %s: %w", n, err)
		}
	}
	for _, n := range sortedNames(ts) {
		if _, ok := want[n]; !ok {
			return fmt.Errorf("tensor %s is not part of a PP-LCNet with this architecture", n)
		}
	}
	return nil
}

package arch

import (
	"fmt"
	"math"
	"strconv"
)

// releasedScales are the scales PaddleClas publishes; InferArch prefers them
// when several scales give the same widths.
var releasedScales = [...]float64{0.25, 0.35, 0.5, 0.75, 1, 1.5, 2, 2.5}

// InferArch reads an architecture from a checkpoint's tensor shapes: the
// stem and block widths, kernel sizes, SE presence and block counts per
// stage, use_last_conv, class_expand and class_num. Scale is the released
// (or else the simplest) scale whose make_divisible widths reproduce the
// block widths; the widths themselves always come from the tensors, so an
// unusual checkpoint still loads. Strides, dropout and the input size are not
// visible in weights: they get PaddleClas' defaults (stride 2 everywhere,
// p=0.2, 224x224) for the caller to override, and when strides change the
// caller must also set the block strides (see FillBlocks and WithStrides).
func InferArch(tensors map[string]Tensor) (Arch, error) {
	shape := func(name string, rank int) ([]int, error) {
		t, ok := tensors[name]
		if !ok {
			return nil, fmt.Errorf("infer architecture: tensor %s: missing", name)
		}
		if len(t.Shape) != rank {
			return nil, fmt.Errorf("infer architecture: tensor %s: shape %v, want rank %d", name, t.Shape, rank)
		}
		return t.Shape, nil
	}
	a := Arch{
		ClassExpand: 1280,
		DropoutProb: 0.2,
		StrideList:  DefaultStrides(),
		InputHeight: 224,
		InputWidth:  224,
	}
	s, err := shape("conv1.conv.weight", 4)
	if err != nil {
		return Arch{}, err
	}
	a.StemOut = s[0]
	for si, st := range netConfig {
		for i := 0; ; i++ {
			b := Block{Stage: st.stage, Index: i, Stride: Square(1)}
			dw, ok := tensors[b.Name()+".dw_conv.conv.weight"]
			if !ok {
				if i == 0 {
					return Arch{}, fmt.Errorf("infer architecture: tensor %s.dw_conv.conv.weight: missing", b.Name())
				}
				break
			}
			if len(dw.Shape) != 4 || dw.Shape[1] != 1 || dw.Shape[2] != dw.Shape[3] {
				return Arch{}, fmt.Errorf("infer architecture: tensor %s.dw_conv.conv.weight: shape %v, want [C 1 k k]", b.Name(), dw.Shape)
			}
			b.In, b.Kernel = dw.Shape[0], dw.Shape[2]
			pw, err := shape(b.Name()+".pw_conv.conv.weight", 4)
			if err != nil {
				return Arch{}, err
			}
			b.Out = pw[0]
			_, b.SE = tensors[b.Name()+".se.conv1.weight"]
			if i == 0 && si >= 1 && si < len(a.StrideList) {
				b.Stride = a.StrideList[si]
			} else if i == 0 && si == 0 {
				b.Stride = Square(1)
			}
			a.Blocks = append(a.Blocks, b)
		}
	}
	last := a.LastChannels()
	in := last
	if lc, ok := tensors["last_conv.weight"]; ok {
		if len(lc.Shape) != 4 {
			return Arch{}, fmt.Errorf("infer architecture: tensor last_conv.weight: shape %v, want [E C 1 1]", lc.Shape)
		}
		a.UseLastConv = true
		a.ClassExpand = lc.Shape[0]
		in = a.ClassExpand
	}
	fc, err := shape("fc.weight", 2)
	if err != nil {
		return Arch{}, err
	}
	if fc[0] != in {
		return Arch{}, fmt.Errorf("infer architecture: tensor fc.weight: shape %v, want %d inputs", fc, in)
	}
	a.ClassNum = fc[1]
	a.Scale = guessScale(a)
	if err := a.Validate(); err != nil {
		return Arch{}, fmt.Errorf("infer architecture: %w", err)
	}
	return a, nil
}

// guessScale finds a scale whose PaddleClas widths equal the widths in a:
// a released scale first, then the simplest decimal (two places, then
// three) nearest last/512. Without a match it returns last/512, which is what
// the widths say even if PaddleClas would not build exactly this network.
func guessScale(a Arch) float64 {
	matches := func(s float64) bool {
		d := DefaultArch(s, 1)
		if d.StemOut != a.StemOut || len(d.Blocks) != len(a.Blocks) {
			return false
		}
		for i, b := range d.Blocks {
			if b.In != a.Blocks[i].In || b.Out != a.Blocks[i].Out {
				return false
			}
		}
		return true
	}
	for _, s := range releasedScales {
		if matches(s) {
			return s
		}
	}
	est := float64(a.LastChannels()) / 512
	for places := 2; places <= 3; places++ {
		step := math.Pow(10, -float64(places))
		for d := 0; d <= 50; d++ {
			for _, s := range []float64{est - float64(d)*step, est + float64(d)*step} {
				// Through decimal text, so 0.6 is 0.6 and not 0.6000000000000001.
				s, _ = strconv.ParseFloat(strconv.FormatFloat(s, 'f', places, 64), 64)
				if s > 0 && matches(s) {
					return s
				}
			}
		}
	}
	return est
}

// WithStrides returns a with stride_list replaced and the block strides
// updated to match, for callers that know the strides (from a program or a
// config) after InferArch guessed the defaults.
func (a Arch) WithStrides(list []Stride) Arch {
	a.StrideList = append([]Stride(nil), list...)
	a.Blocks = append([]Block(nil), a.Blocks...)
	stage := 0
	for i := range a.Blocks {
		if a.Blocks[i].Index != 0 {
			continue
		}
		if stage >= 1 && stage < len(list) {
			a.Blocks[i].Stride = list[stage]
		}
		stage++
	}
	return a
}

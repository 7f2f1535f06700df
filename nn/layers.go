package nn

import (
	"github.com/nlpodyssey/spago/mat"
	spago "github.com/nlpodyssey/spago/nn"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/kernel"
)

// How spago parameters relate to the weights the kernels read:
//
//   - Every layer is a spago module. Tensors the kernels read as they are
//     (biases, the depthwise and stem filters) are *spago.Param over a
//     mat.Dense[float32] built WithBacking over the folded values in the
//     kernels' layout (tap-major, channels padded to 16, see
//     kernel.PackTaps), so the Param's data IS the single copy the kernels
//     read.
//   - Weight matrices (pointwise, SE, last_conv, fc) are read by the GEMM
//     in internal/kernel's packed panel layout, fp32 or fp16. The
//     kernel.Packed is their single resident copy: the layer keeps no
//     row-major float32 Param next to it (W is nil), since that would
//     double fp32 memory and defeat fp16. Folding builds a temporary
//     row-major matrix that Pack copies and the GC then frees.
//
// spago's traversal (spago.ForEachParam) therefore visits the resident
// float32 tensors outside the packed matrices; WeightBytes is their bytes
// plus the packed bytes.

// convLayer is one convolution (or Linear) with its BatchNorm folded in:
// either a packed matrix (w) or, for depthwise, filters in DW.
type convLayer struct {
	spago.Module
	DW *spago.Param // depthwise or stem filters, taps x Stride(C); nil for matrix layers
	B  *spago.Param // folded bias padded to Stride(C), nil when the layer has none

	w    *kernel.Packed // nil for depthwise and the stem
	dw   []float32      // depthwise or stem filters (DW's data)
	bias []float32      // B's data
}

func param(data []float32, shape ...int) *spago.Param {
	// Not spago.NewParam: it clones the value, which would double memory.
	d := mat.NewDense[float32](mat.WithShape(shape...), mat.WithBacking(data))
	return &spago.Param{Matrix: d}
}

// newConvLayer packs the folded weights w (m x k) and wraps bias.
func newConvLayer(w []float32, m, k int, bias []float32, half bool) *convLayer {
	l := &convLayer{w: kernel.Pack(w, m, k, half)}
	if bias != nil {
		l.bias = kernel.PadBias(bias)
		l.B = param(l.bias, len(l.bias))
	}
	return l
}

// newTapLayer lays out c filters of taps weights each (a depthwise or
// stem conv) for the row kernels.
func newTapLayer(w []float32, c, taps int, bias []float32) *convLayer {
	dw := kernel.PackTaps(w, c, taps)
	b := kernel.PadBias(bias)
	return &convLayer{DW: param(dw, taps, kernel.Stride(c)), B: param(b, len(b)), dw: dw, bias: b}
}

func (l *convLayer) sizeBytes() int {
	if l == nil {
		return 0
	}
	n := 4 * (len(l.dw) + len(l.bias))
	if l.w != nil {
		n += l.w.SizeBytes()
	}
	return n
}

// loadConvBN builds the folded layer for the ConvBNLayer at prefix (e.g.
// "blocks5.3.pw_conv").
func loadConvBN(t map[string]arch.Tensor, prefix string, half bool) (*convLayer, error) {
	fw, fb, err := arch.FoldBN(t, prefix)
	if err != nil {
		return nil, err
	}
	cout := len(fb)
	return newConvLayer(fw, cout, len(fw)/cout, fb, half), nil
}

// loadDepthwiseBN builds the folded depthwise layer at prefix; its filters
// stay fp32 in both modes (under 3% of the weights).
func loadDepthwiseBN(t map[string]arch.Tensor, prefix string) (*convLayer, error) {
	fw, fb, err := arch.FoldBN(t, prefix)
	if err != nil {
		return nil, err
	}
	k := t[prefix+".conv.weight"].Shape[2]
	return newTapLayer(fw, len(fb), k*k, fb), nil
}

// loadStemBN builds the folded stem conv: a dense 3x3 conv read by
// kernel.Stem, fp32 in both modes (a few hundred weights).
func loadStemBN(t map[string]arch.Tensor, prefix string) (*convLayer, error) {
	fw, fb, err := arch.FoldBN(t, prefix)
	if err != nil {
		return nil, err
	}
	cout := len(fb)
	return newTapLayer(fw, cout, len(fw)/cout, fb), nil
}

// loadConv builds a plain conv (SE, last_conv) from weight [m, k, 1, 1] and
// an optional bias.
func loadConv(t map[string]arch.Tensor, prefix string, withBias, half bool) *convLayer {
	w := t[prefix+".weight"]
	var bias []float32
	if withBias {
		bias = append([]float32(nil), t[prefix+".bias"].Data...)
	}
	return newConvLayer(append([]float32(nil), w.Data...), w.Shape[0], w.Shape[1], bias, half)
}

// block is one DepthwiseSeparable block.
type block struct {
	spago.Module
	DW  *convLayer // depthwise k*k taps x Stride(C), always fp32 (small)
	SE1 *convLayer // squeeze C -> C/4, nil without SE
	SE2 *convLayer // excite C/4 -> C
	PW  *convLayer // pointwise Out x In

	spec arch.Block
	// fused blocks (all but the SE ones, whose pointwise input needs the
	// global pool of the whole depthwise output) run depthwise and
	// pointwise together, band by band (kernel.DepthwisePointwise). Every
	// thread then reads all of the pointwise weights, but measured on x2.5
	// fusing the 14x14 blocks too (1.6 MB of weights each) was still 3%
	// faster than fusing only the early blocks.
	fused bool
}

// network is PP-LCNet as spago modules, weights folded and ready.
type network struct {
	spago.Module
	Stem     *convLayer // 3x3, 27 taps x Stride(StemOut), always fp32 (small)
	Blocks   []*block
	LastConv *convLayer // nil without use_last_conv
	// FC is the Linear layer transposed to classes x in, with the dropout
	// scale (1-p) folded into its weights: fc((1-p)·x) = ((1-p)·W)·x + b.
	FC *convLayer
}

func buildNetwork(a arch.Arch, t map[string]arch.Tensor, half bool) (*network, error) {
	stem, err := loadStemBN(t, "conv1")
	if err != nil {
		return nil, err
	}
	n := &network{Stem: stem}
	for _, b := range a.Blocks {
		p := b.Name()
		bl := &block{spec: b, fused: !b.SE}
		if bl.DW, err = loadDepthwiseBN(t, p+".dw_conv"); err != nil {
			return nil, err
		}
		if b.SE {
			bl.SE1 = loadConv(t, p+".se.conv1", true, half)
			bl.SE2 = loadConv(t, p+".se.conv2", true, half)
		}
		if bl.PW, err = loadConvBN(t, p+".pw_conv", half); err != nil {
			return nil, err
		}
		n.Blocks = append(n.Blocks, bl)
	}
	in := a.LastChannels()
	scale := 1.0
	if a.UseLastConv {
		n.LastConv = loadConv(t, "last_conv", false, half)
		in = a.ClassExpand
		scale = 1 - a.DropoutProb
	}
	fw := t["fc.weight"].Data // [in][classes]
	wt := make([]float32, len(fw))
	for i := 0; i < in; i++ {
		for c := 0; c < a.ClassNum; c++ {
			wt[c*in+i] = float32(float64(fw[i*a.ClassNum+c]) * scale)
		}
	}
	n.FC = newConvLayer(wt, a.ClassNum, in, append([]float32(nil), t["fc.bias"].Data...), half)
	return n, nil
}

// layers lists every layer in network order.
func (n *network) layers() []*convLayer {
	ls := []*convLayer{n.Stem}
	for _, b := range n.Blocks {
		ls = append(ls, b.DW)
		if b.SE1 != nil {
			ls = append(ls, b.SE1, b.SE2)
		}
		ls = append(ls, b.PW)
	}
	if n.LastConv != nil {
		ls = append(ls, n.LastConv)
	}
	return append(ls, n.FC)
}

func (n *network) sizeBytes() int {
	s := 0
	for _, l := range n.layers() {
		s += l.sizeBytes()
	}
	return s
}

package nn

import (
	"math"

	"github.com/nlpodyssey/spago/mat"
	spago "github.com/nlpodyssey/spago/nn"
)

// bnEpsilon is the epsilon of PaddleClas' BatchNorm layers.
const bnEpsilon = 1e-5

// How spago parameters relate to the weights the compute reads:
//
//   - Every layer is a spago module whose W and B are *spago.Param over a
//     mat.Dense[float32]. The Dense is built WithBacking over the folded
//     weights, so in fp32 mode the Param's data IS the single copy the
//     compute reads (matrix.f32 aliases it); nothing is duplicated.
//   - In fp16 mode the large matrices (pointwise convs, SE convs, last_conv
//     and fc: about 97% of the bytes) are kept only as fp16 bits in
//     matrix.f16 and widened row by row during compute. spago has no fp16
//     dtype, so those layers have W == nil rather than a second, fp32 copy;
//     biases, the stem and the depthwise filters stay fp32 Params.
//
// spago's traversal (spago.ForEachParam) therefore visits exactly the fp32
// weights that are resident.

// conv is one convolution (or Linear) with its BatchNorm folded in.
type convLayer struct {
	spago.Module
	W *spago.Param
	B *spago.Param

	w    matrix
	bias []float32
}

func param(data []float32, shape ...int) *spago.Param {
	// Not spago.NewParam: it clones the value, which would double memory.
	d := mat.NewDense[float32](mat.WithShape(shape...), mat.WithBacking(data))
	return &spago.Param{Matrix: d}
}

// newConvLayer wraps folded weights w (m x k) and bias. half stores w as
// fp16 and drops the float32 slice.
func newConvLayer(w []float32, m, k int, bias []float32, half bool) *convLayer {
	l := &convLayer{w: newMatrix(w, m, k, half), bias: bias}
	if !half {
		l.W = param(w, m, k)
	}
	if bias != nil {
		l.B = param(bias, len(bias))
	}
	return l
}

func (l *convLayer) sizeBytes() int {
	if l == nil {
		return 0
	}
	return l.w.sizeBytes() + 4*len(l.bias)
}

// foldBN folds BatchNorm (gamma, beta, mean, variance) into a conv without
// bias: w'[c] = w[c]*gamma/sqrt(var+eps), b' = beta - mean*gamma/sqrt(var+eps).
// The result is new memory; the checkpoint's tensors are not retained.
func foldBN(w []float32, cout int, gamma, beta, mean, variance []float32) ([]float32, []float32) {
	per := len(w) / cout
	fw := make([]float32, len(w))
	fb := make([]float32, cout)
	for c := 0; c < cout; c++ {
		s := float64(gamma[c]) / math.Sqrt(float64(variance[c])+bnEpsilon)
		for i := c * per; i < (c+1)*per; i++ {
			fw[i] = float32(float64(w[i]) * s)
		}
		fb[c] = float32(float64(beta[c]) - float64(mean[c])*s)
	}
	return fw, fb
}

// loadConvBN builds the folded layer for the ConvBNLayer at prefix (e.g.
// "blocks5.3.pw_conv"). Shapes were checked by Arch.checkTensors.
func loadConvBN(t map[string]Tensor, prefix string, half bool) *convLayer {
	w := t[prefix+".conv.weight"]
	cout := w.Shape[0]
	fw, fb := foldBN(w.Data, cout,
		t[prefix+".bn.weight"].Data, t[prefix+".bn.bias"].Data,
		t[prefix+".bn._mean"].Data, t[prefix+".bn._variance"].Data)
	return newConvLayer(fw, cout, len(fw)/cout, fb, half)
}

// loadConv builds a plain conv (SE, last_conv) from weight [m, k, 1, 1] and
// an optional bias.
func loadConv(t map[string]Tensor, prefix string, withBias, half bool) *convLayer {
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
	DW  *convLayer // depthwise, weights C x k*k, always fp32 (small)
	SE1 *convLayer // squeeze C -> C/4, nil without SE
	SE2 *convLayer // excite C/4 -> C
	PW  *convLayer // pointwise Out x In

	spec Block
}

// network is PP-LCNet as spago modules, weights folded and ready.
type network struct {
	spago.Module
	Stem     *convLayer // 3x3, StemOut x 27, always fp32 (small)
	Blocks   []*block
	LastConv *convLayer // nil without use_last_conv
	// FC is the Linear layer transposed to classes x in, with the dropout
	// scale (1-p) folded into its weights: fc((1-p)·x) = ((1-p)·W)·x + b.
	FC *convLayer
}

func buildNetwork(a Arch, t map[string]Tensor, half bool) *network {
	n := &network{Stem: loadConvBN(t, "conv1", false)}
	for _, b := range a.Blocks {
		p := b.Name()
		bl := &block{spec: b, DW: loadConvBN(t, p+".dw_conv", false)}
		if b.SE {
			bl.SE1 = loadConv(t, p+".se.conv1", true, half)
			bl.SE2 = loadConv(t, p+".se.conv2", true, half)
		}
		bl.PW = loadConvBN(t, p+".pw_conv", half)
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
	return n
}

func (n *network) sizeBytes() int {
	s := n.Stem.sizeBytes() + n.LastConv.sizeBytes() + n.FC.sizeBytes()
	for _, b := range n.Blocks {
		s += b.DW.sizeBytes() + b.SE1.sizeBytes() + b.SE2.sizeBytes() + b.PW.sizeBytes()
	}
	return s
}

package arch

import (
	"fmt"
	"math"
)

// BNEpsilon is the epsilon of PaddleClas' BatchNorm layers.
const BNEpsilon = 1e-5

// FoldBN folds the BatchNorm of the ConvBNLayer at prefix (e.g.
// "blocks5.3.pw_conv") into its bias-free conv:
// w'[c] = w[c]*gamma/sqrt(var+eps), b' = beta - mean*gamma/sqrt(var+eps),
// computed in float64 so folding adds no error beyond the final rounding.
// The result is new memory. tensors must have passed Check; a statistic
// that is NaN or infinite, or a variance that makes var+eps <= 0, is an
// error naming the tensor and channel, since the folded layer would turn
// every input into NaN.
func FoldBN(tensors map[string]Tensor, prefix string) (w, b []float32, err error) {
	conv := tensors[prefix+".conv.weight"]
	cout := conv.Shape[0]
	var bn [4][]float32
	for i, s := range BNSuffixes {
		name := prefix + ".bn." + s
		bn[i] = tensors[name].Data
		for c, v := range bn[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, nil, fmt.Errorf("tensor %s[%d] = %g makes the BatchNorm undefined", name, c, v)
			}
		}
	}
	gamma, beta, mean, variance := bn[0], bn[1], bn[2], bn[3]
	per := len(conv.Data) / cout
	w = make([]float32, len(conv.Data))
	b = make([]float32, cout)
	for c := range cout {
		v := float64(variance[c]) + BNEpsilon
		if !(v > 0) {
			return nil, nil, fmt.Errorf("tensor %s.bn._variance[%d] = %g makes the BatchNorm undefined", prefix, c, variance[c])
		}
		s := float64(gamma[c]) / math.Sqrt(v)
		for i := c * per; i < (c+1)*per; i++ {
			w[i] = float32(float64(conv.Data[i]) * s)
		}
		b[c] = float32(float64(beta[c]) - float64(mean[c])*s)
	}
	return w, b, nil
}

package nn

import "math"

// outSize is the output length of a k-wide conv with padding (k-1)/2.
func outSize(in, k, stride int) int { return (in+2*((k-1)/2)-k)/stride + 1 }

// sigmoid writes the logistic function of each x to p: a multi-label head
// scores every class on its own. NaN stays NaN for the caller to refuse.
func sigmoid(x, p []float32) {
	for i, v := range x {
		p[i] = float32(1 / (1 + math.Exp(-float64(v))))
	}
}

// softmax writes the softmax of x to p, accumulating in float64.
func softmax(x, p []float32) {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v - mx))
		p[i] = float32(e)
		s += e
	}
	for i := range p {
		p[i] = float32(float64(p[i]) / s)
	}
}

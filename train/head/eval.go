package head

import "math"

// Logits returns the n x K logits (row-major) of rows under W (K x D) and B.
// Rows are scored one by one with dot products: a matrix product would need
// the rows transposed first, which costs more than it saves at small K.
func Logits(w, b []float32, classes int, rows [][]float32) []float32 {
	dim := len(w) / classes
	out := make([]float32, len(rows)*classes)
	for i, r := range rows {
		for c := 0; c < classes; c++ {
			out[i*classes+c] = dot(w[c*dim:(c+1)*dim], r) + b[c]
		}
	}
	return out
}

// dot sums in four lanes to break the dependency chain of one accumulator.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Accuracy scores W and B on d: argmax for single-label sets, exact match of
// every label at probability 0.5 (logit 0) for multi-label sets.
func Accuracy(w, b []float32, d Dataset, multiLabel bool) float64 {
	acc, _ := Evaluate(w, b, d, multiLabel)
	return acc
}

// Evaluate returns Accuracy and the mean loss Train minimises (softmax
// cross-entropy, or the mean over labels of binary cross-entropy) of W and
// B on d, the loss computed in float64 from the logits.
func Evaluate(w, b []float32, d Dataset, multiLabel bool) (accuracy, loss float64) {
	if d.Len() == 0 {
		return 0, 0
	}
	k := d.Classes
	z := Logits(w, b, k, d.Rows)
	right := 0
	for i := 0; i < d.Len(); i++ {
		row := z[i*k : (i+1)*k]
		if multiLabel {
			ok := true
			var l float64
			for c, v := range row {
				t := float64(d.Targets[i][c])
				x := float64(v)
				// log(1+e^-|x|) + max(x,0) - x*t: BCE with logits, stable.
				l += math.Log1p(math.Exp(-math.Abs(x))) + math.Max(x, 0) - x*t
				if (v > 0) != (t > 0.5) {
					ok = false
				}
			}
			loss += l / float64(k)
			if ok {
				right++
			}
			continue
		}
		arg := 0
		for c, v := range row {
			if v > row[arg] {
				arg = c
			}
		}
		if arg == d.Labels[i] {
			right++
		}
		top := float64(row[arg])
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - top)
		}
		loss += top + math.Log(sum) - float64(row[d.Labels[i]])
	}
	n := float64(d.Len())
	return float64(right) / n, loss / n
}

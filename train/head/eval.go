package head

import "github.com/nlpodyssey/spago/mat"

// evalRows bounds the rows multiplied at once when scoring a set.
const evalRows = 256

// Logits returns the n x K logits (row-major) of rows under W (K x D) and B.
func Logits(w, b []float32, classes int, rows [][]float32) []float32 {
	dim := len(w) / classes
	wm := mat.NewDense[float32](mat.WithShape(classes, dim), mat.WithBacking(w))
	out := make([]float32, len(rows)*classes)
	xs := make([]float32, min(len(rows), evalRows)*dim)
	for start := 0; start < len(rows); start += evalRows {
		chunk := rows[start:min(start+evalRows, len(rows))]
		n := len(chunk)
		for i, r := range chunk {
			for j, v := range r {
				xs[j*n+i] = v
			}
		}
		x := mat.NewDense[float32](mat.WithShape(dim, n), mat.WithBacking(xs[:dim*n]))
		z := wm.Mul(x).Data().F32() // K x n
		for i := 0; i < n; i++ {
			for c := 0; c < classes; c++ {
				out[(start+i)*classes+c] = z[c*n+i] + b[c]
			}
		}
	}
	return out
}

// Accuracy scores W and B on d: argmax for single-label sets, exact match of
// every label at probability 0.5 (logit 0) for multi-label sets.
func Accuracy(w, b []float32, d Dataset, multiLabel bool) float64 {
	if d.Len() == 0 {
		return 0
	}
	k := d.Classes
	z := Logits(w, b, k, d.Rows)
	right := 0
	for i := 0; i < d.Len(); i++ {
		row := z[i*k : (i+1)*k]
		if multiLabel {
			ok := true
			for c, v := range row {
				if (v > 0) != (d.Targets[i][c] > 0.5) {
					ok = false
					break
				}
			}
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
	}
	return float64(right) / float64(d.Len())
}

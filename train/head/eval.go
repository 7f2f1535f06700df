package head

import "github.com/nlpodyssey/spago/mat"

// evalRows bounds the rows multiplied at once when scoring a set.
const evalRows = 256

// Logits returns the n x K logits (row-major) of rows under W (K x D) and B.
func Logits(w, b []float32, classes int, rows [][]float32) []float32 {
	dim := len(w) / classes
	wt := mat.NewDense[float32](mat.WithShape(classes, dim), mat.WithBacking(w)).T()
	out := make([]float32, 0, len(rows)*classes)
	xs := make([]float32, 0, min(len(rows), evalRows)*dim)
	for start := 0; start < len(rows); start += evalRows {
		chunk := rows[start:min(start+evalRows, len(rows))]
		xs = xs[:0]
		for _, r := range chunk {
			xs = append(xs, r...)
		}
		x := mat.NewDense[float32](mat.WithShape(len(chunk), dim), mat.WithBacking(xs))
		z := x.Mul(wt).Data().F32()
		for i := range chunk {
			for c := 0; c < classes; c++ {
				z[i*classes+c] += b[c]
			}
		}
		out = append(out, z...)
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

package head

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/mat/float"
	"github.com/nlpodyssey/spago/nn"
)

var _ nn.Model = (*Head)(nil)

// Head is a linear layer z = W·x + B as a spago model. A batch is a D x n
// matrix with one sample per column, so that both W·X and the gradient
// dZ·Xᵀ run spago's matrix product along the long axes (n and D) rather
// than along K, which is often 2..10.
type Head struct {
	nn.Module
	W *nn.Param // K x D
	B *nn.Param // K x 1
}

// New returns a K x D head of element type T: W uniform in ±1/sqrt(D) from a
// PCG stream seeded with seed (the PyTorch nn.Linear range), B zero.
func New[T float.DType](classes, dim int, seed uint64) *Head {
	rng := rand.New(rand.NewPCG(seed, 0x6c636e6574))
	bound := 1 / math.Sqrt(float64(dim))
	w := make([]T, classes*dim)
	for i := range w {
		w[i] = T((2*rng.Float64() - 1) * bound)
	}
	return &Head{
		W: nn.NewParam(mat.NewDense[T](mat.WithShape(classes, dim), mat.WithBacking(w))),
		B: nn.NewParam(mat.NewDense[T](mat.WithShape(classes, 1))),
	}
}

// Classes is K.
func (h *Head) Classes() int { return h.W.Shape()[0] }

// Dim is D.
func (h *Head) Dim() int { return h.W.Shape()[1] }

// Forward returns the K x n logits of a D x n batch. W and B each feed one
// operator, so their gradients are accumulated once per backward pass and
// do not depend on goroutine scheduling.
func (h *Head) Forward(x mat.Tensor) mat.Tensor {
	n := x.Value().Shape()[1]
	ones := x.Value().(mat.Matrix).NewMatrix(mat.WithShape(1, n)).OnesLike()
	return ag.Add(ag.Mul(h.W, x), ag.Mul(h.B, ones))
}

// Loss returns the mean loss of logits z (K x n) against targets y (K x n):
// y one-hot per column with softmax cross-entropy, or y in {0,1} with binary
// cross-entropy per label (mean over all n*K terms) when multiLabel.
//
// spago's losses.CrossEntropy takes one sample vector and uses its input in
// three operators (At, ReduceMax, the shifted Exp). Its gradient is then a
// sum of three terms that ag.Backward accumulates from concurrent goroutines
// in whatever order they finish, so its rounding differs run to run. The
// batched form below feeds z into exactly two operators (a sum of two
// floats does not depend on order) and equals the mean of
// losses.CrossEntropy over the columns (see TestLossMatchesSpago). spago has
// no binary cross-entropy; it is built here from ag.SoftPlus and ag.Prod as
// softplus(z) - y*z, the logits form of -y*log(sigmoid z) - (1-y)*log(1-sigmoid z).
func Loss(z mat.Tensor, y mat.Matrix, multiLabel bool) mat.Tensor {
	zv := z.Value().(mat.Matrix)
	shape := zv.Shape()
	k, n := shape[0], shape[1]
	// ag.ReduceSum hands back its gradient as a size x 1 column whatever the
	// input's shape, which a matrix operand refuses; sum matrices through
	// ag.Flatten, whose backward restores the shape.
	picked := ag.ReduceSum(ag.Flatten(ag.Prod(y, z)))
	if multiLabel {
		beta := zv.NewScalar(1)
		threshold := zv.NewScalar(20)
		sp := ag.ReduceSum(ag.Flatten(ag.SoftPlus(z, beta, threshold)))
		return ag.DivScalar(ag.Sub(sp, picked), zv.NewScalar(float64(n*k)))
	}
	// log-sum-exp per column, shifted by the column maximum as a constant:
	// the shift cancels in value and gradient and keeps Exp from overflowing.
	shift := zv.ZerosLike()
	var shiftSum float64
	for c := 0; c < n; c++ {
		m := math.Inf(-1)
		for r := 0; r < k; r++ {
			m = max(m, zv.ScalarAt(r, c).F64())
		}
		for r := 0; r < k; r++ {
			shift.SetScalar(float.Interface(m), r, c)
		}
		shiftSum += m
	}
	onesK := zv.NewMatrix(mat.WithShape(1, k)).OnesLike()
	lse := ag.ReduceSum(ag.Flatten(ag.Log(ag.Mul(onesK, ag.Exp(ag.Sub(z, shift))))))
	total := ag.Sub(ag.Add(lse, zv.NewScalar(shiftSum)), picked)
	return ag.DivScalar(total, zv.NewScalar(float64(n)))
}

// FC returns the head in PaddleClas' fc layout: weight [D, K] row-major (the
// transpose of W) and bias [K], as float32.
func (h *Head) FC() (weight, bias []float32) {
	weight, bias, _ = FC(h.W.Data().F32(), h.B.Data().F32(), h.Classes())
	return weight, bias
}

// FC converts a row-major K x D weight and its bias to PaddleClas' fc layout.
func FC(w, b []float32, classes int) (weight, bias []float32, err error) {
	if classes < 1 || len(b) != classes || len(w)%classes != 0 {
		return nil, nil, fmt.Errorf("head: fc of %d weights and %d biases for %d classes", len(w), len(b), classes)
	}
	d := len(w) / classes
	weight = make([]float32, len(w))
	for i := 0; i < classes; i++ {
		for j := 0; j < d; j++ {
			weight[j*classes+i] = w[i*d+j]
		}
	}
	return weight, append([]float32(nil), b...), nil
}

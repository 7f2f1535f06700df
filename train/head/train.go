package head

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/mat"
	"github.com/nlpodyssey/spago/optimizers/adam"
	"github.com/nlpodyssey/spago/optimizers/sgd"
)

// Errors wrapped by Train.
var (
	ErrData     = errors.New("head: invalid dataset")
	ErrDiverged = errors.New("head: training diverged")
)

// Dataset is a set of feature rows with their labels, held in memory.
// Augmented copies of an image are further rows with the same label: each
// epoch then sees every augmentation once, shuffled with the rest.
type Dataset struct {
	Classes int         // K
	Rows    [][]float32 // N rows of D features each
	// Labels holds the class index of each row (single-label).
	Labels []int
	// Targets holds a K-wide 0/1 vector per row (multi-label).
	Targets [][]float32
}

// Len is the number of rows.
func (d Dataset) Len() int { return len(d.Rows) }

func (d Dataset) validate(name string, dim int, multiLabel bool) error {
	if d.Classes < 1 || (d.Classes < 2 && !multiLabel) {
		return fmt.Errorf("%w: %s set has %d classes, want at least 2 (1 for multi-label)", ErrData, name, d.Classes)
	}
	for i, r := range d.Rows {
		if len(r) != dim {
			return fmt.Errorf("%w: %s row %d has %d features, want %d", ErrData, name, i, len(r), dim)
		}
		for j, v := range r {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%w: %s row %d feature %d is %g", ErrData, name, i, j, v)
			}
		}
	}
	if multiLabel {
		if len(d.Targets) != len(d.Rows) {
			return fmt.Errorf("%w: %s set has %d rows and %d target vectors", ErrData, name, len(d.Rows), len(d.Targets))
		}
		for i, t := range d.Targets {
			if len(t) != d.Classes {
				return fmt.Errorf("%w: %s target %d has %d labels, want %d", ErrData, name, i, len(t), d.Classes)
			}
			for _, v := range t {
				if v != 0 && v != 1 {
					return fmt.Errorf("%w: %s target %d holds %g, want 0 or 1", ErrData, name, i, v)
				}
			}
		}
		return nil
	}
	if len(d.Labels) != len(d.Rows) {
		return fmt.Errorf("%w: %s set has %d rows and %d labels", ErrData, name, len(d.Rows), len(d.Labels))
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return fmt.Errorf("%w: %s label %d is %d, want 0..%d", ErrData, name, i, l, d.Classes-1)
		}
	}
	return nil
}

// EpochStats reports one epoch. Accuracy is measured with the weights at the
// end of the epoch; for multi-label sets it is exact match (a row counts
// when every label's sigmoid is on the right side of 0.5). ValAccuracy and
// ValLoss are -1 without a validation set. TrainLoss is the mean over the
// epoch's mini-batches, as the weights moved.
type EpochStats struct {
	Epoch         int     `json:"epoch"` // 1-based
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	ValAccuracy   float64 `json:"val_accuracy"`
	ValLoss       float64 `json:"val_loss"`
}

// Result is a trained head: the weights of the best epoch (by validation
// accuracy, or training accuracy without a validation set; on a tie the
// lower validation, or training, loss: of two heads that classify the
// held-out images alike, the one more sure of the right answers) and the
// per-epoch history.
type Result struct {
	Classes, Dim int
	W            []float32 // K x D row-major
	B            []float32 // K
	BestEpoch    int
	Best, Final  EpochStats
	History      []EpochStats
}

// FC returns the weights in PaddleClas' fc layout (see FC).
func (r *Result) FC() (weight, bias []float32) {
	weight, bias, _ = FC(r.W, r.B, r.Classes)
	return weight, bias
}

// Train fits a head on train and keeps the epoch that scores best on val
// (which may be empty). progress, if not nil, is called after each epoch.
// Same data, options and seed give bit-identical weights. Cancelling ctx
// stops between mini-batches; the error then wraps ctx.Err().
func Train(ctx context.Context, train, val Dataset, opt Options, progress func(EpochStats)) (*Result, error) {
	opt, err := opt.WithDefaults()
	if err != nil {
		return nil, err
	}
	if train.Len() == 0 {
		return nil, fmt.Errorf("%w: empty training set", ErrData)
	}
	dim := len(train.Rows[0])
	if dim == 0 {
		return nil, fmt.Errorf("%w: training rows have no features", ErrData)
	}
	if err := train.validate("training", dim, opt.MultiLabel); err != nil {
		return nil, err
	}
	if val.Len() > 0 {
		if val.Classes != train.Classes {
			return nil, fmt.Errorf("%w: validation set has %d classes, training set %d", ErrData, val.Classes, train.Classes)
		}
		if err := val.validate("validation", dim, opt.MultiLabel); err != nil {
			return nil, err
		}
	}
	k := train.Classes
	h := New[float32](k, dim, opt.Seed)
	step := newStepper(h, opt)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x73687566))
	order := make([]int, train.Len())
	for i := range order {
		order[i] = i
	}
	res := &Result{Classes: k, Dim: dim, BestEpoch: 0}
	best, bestLoss := -1.0, math.Inf(1)
	for epoch := 1; epoch <= opt.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		for start := 0; start < len(order); start += opt.Batch {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("head: training stopped in epoch %d: %w", epoch, err)
			}
			idx := order[start:min(start+opt.Batch, len(order))]
			x, y := batch(train, idx, dim, opt.MultiLabel)
			z := h.Forward(x)
			// spago's Log backward panics on NaN inside a goroutine, which no
			// recover can catch, so non-finite logits stop training here.
			if !finite(z.Value().Data().F32()) {
				return nil, fmt.Errorf("%w: logits overflowed in epoch %d; lower the learning rate (%g)", ErrDiverged, epoch, opt.LR)
			}
			loss := Loss(z, y, opt.MultiLabel)
			if err := ag.Backward(loss); err != nil {
				return nil, fmt.Errorf("head: backward in epoch %d: %w", epoch, err)
			}
			l := loss.Value().Item().F64()
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return nil, fmt.Errorf("%w: loss %g in epoch %d; lower the learning rate (%g)", ErrDiverged, l, epoch, opt.LR)
			}
			lossSum += l * float64(len(idx))
			if err := step(); err != nil {
				return nil, fmt.Errorf("head: optimizer step in epoch %d: %w", epoch, err)
			}
		}
		w, b := h.W.Data().F32(), h.B.Data().F32()
		st := EpochStats{
			Epoch:         epoch,
			TrainLoss:     lossSum / float64(train.Len()),
			TrainAccuracy: Accuracy(w, b, train, opt.MultiLabel),
			ValAccuracy:   -1,
			ValLoss:       -1,
		}
		score, loss := st.TrainAccuracy, st.TrainLoss
		if val.Len() > 0 {
			st.ValAccuracy, st.ValLoss = Evaluate(w, b, val, opt.MultiLabel)
			score, loss = st.ValAccuracy, st.ValLoss
		}
		res.History = append(res.History, st)
		if score > best || (score == best && loss < bestLoss) {
			best, bestLoss = score, loss
			res.Best, res.BestEpoch = st, epoch
			res.W = append(res.W[:0], w...)
			res.B = append(res.B[:0], b...)
		}
		if progress != nil {
			progress(st)
		}
	}
	res.Final = res.History[len(res.History)-1]
	return res, nil
}

func finite(xs []float32) bool {
	for _, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

// batch gathers rows idx into a D x n matrix and their K x n targets.
func batch(d Dataset, idx []int, dim int, multiLabel bool) (x, y mat.Matrix) {
	k, n := d.Classes, len(idx)
	xs := make([]float32, dim*n)
	ys := make([]float32, k*n)
	// Column by column, so that writes are sequential and the n source
	// rows are read as n sequential streams.
	for j := 0; j < dim; j++ {
		col := xs[j*n : (j+1)*n]
		for i, r := range idx {
			col[i] = d.Rows[r][j]
		}
	}
	for i, r := range idx {
		if multiLabel {
			for c, v := range d.Targets[r] {
				ys[c*n+i] = v
			}
		} else {
			ys[d.Labels[r]*n+i] = 1
		}
	}
	x = mat.NewDense[float32](mat.WithShape(dim, n), mat.WithBacking(xs))
	y = mat.NewDense[float32](mat.WithShape(k, n), mat.WithBacking(ys))
	return x, y
}

// newStepper returns the update of one mini-batch. W and B get their own
// strategy so that weight decay reaches W only.
//
// The strategies are called directly rather than through spago's
// optimizers.Optimizer: its Optimize (v1.1.0) starts one goroutine per
// parameter and returns without waiting for them on success, so the next
// forward pass races with the update (seen with -race, and as weights that
// differ run to run).
func newStepper(h *Head, opt Options) func() error {
	if opt.Optimizer == SGD {
		cfg := sgd.NewConfig(opt.LR, 0.9, false)
		sw, sb := sgd.New[float32](cfg), sgd.New[float32](cfg)
		return func() error {
			if opt.WeightDecay > 0 {
				h.W.Grad().(mat.Matrix).AddInPlace(h.W.ProdScalar(opt.WeightDecay))
			}
			if err := sw.OptimizeParams(h.W); err != nil {
				return err
			}
			return sb.OptimizeParams(h.B)
		}
	}
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	aw := adam.New(adam.NewAdamWConfig(opt.LR, beta1, beta2, eps, opt.WeightDecay))
	ab := adam.New(adam.NewConfig(opt.LR, beta1, beta2, eps))
	return func() error {
		if err := aw.OptimizeParams(h.W); err != nil {
			return err
		}
		if err := ab.OptimizeParams(h.B); err != nil {
			return err
		}
		aw.IncExample()
		ab.IncExample()
		return nil
	}
}

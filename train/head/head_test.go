package head

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nlpodyssey/spago/ag"
	"github.com/nlpodyssey/spago/losses"
	"github.com/nlpodyssey/spago/mat"
)

func lossValue(h *Head, x, y mat.Matrix, multi bool) float64 {
	return Loss(h.Forward(x), y, multi).Value().Item().F64()
}

// TestGradient checks ag's gradients of W and B through Loss against central
// finite differences, in float64.
func TestGradient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		multi bool
	}{{"cross-entropy", false}, {"binary cross-entropy", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const n, k, d = 5, 3, 4
			rng := rand.New(rand.NewPCG(7, 7))
			h := New[float64](k, d, 3)
			b := make([]float64, k) // B starts at zero; give it values too
			for i := range b {
				b[i] = rng.NormFloat64()
			}
			h.B.SetData(mat.NewDense[float64](mat.WithBacking(b)).Data())
			xs, ys := make([]float64, d*n), make([]float64, k*n)
			for i := range xs {
				xs[i] = 2 * rng.NormFloat64()
			}
			for i := 0; i < n; i++ {
				if tc.multi {
					for c := 0; c < k; c++ {
						ys[c*n+i] = float64(rng.IntN(2))
					}
				} else {
					ys[rng.IntN(k)*n+i] = 1
				}
			}
			x := mat.NewDense[float64](mat.WithShape(d, n), mat.WithBacking(xs))
			y := mat.NewDense[float64](mat.WithShape(k, n), mat.WithBacking(ys))
			if err := ag.Backward(Loss(h.Forward(x), y, tc.multi)); err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				name string
				m    mat.Matrix
			}{{"W", h.W}, {"B", h.B}} {
				grad := p.m.Grad().(mat.Matrix).Data().F64()
				vals := p.m.Data().F64()
				const eps = 1e-6
				for i := range vals {
					orig := vals[i]
					set := func(v float64) {
						vals[i] = v
						p.m.SetData(mat.NewDense[float64](mat.WithBacking(vals)).Data())
					}
					set(orig + eps)
					up := lossValue(h, x, y, tc.multi)
					set(orig - eps)
					down := lossValue(h, x, y, tc.multi)
					set(orig)
					num := (up - down) / (2 * eps)
					if math.Abs(num-grad[i]) > 1e-7*max(1, math.Abs(num)) {
						t.Errorf("d loss/d %s[%d] = %.10g by ag, %.10g by finite differences", p.name, i, grad[i], num)
					}
				}
			}
		})
	}
}

// TestLossMatchesSpago compares the batched cross-entropy with the mean of
// spago's per-sample losses.CrossEntropy.
func TestLossMatchesSpago(t *testing.T) {
	const n, k = 6, 5
	rng := rand.New(rand.NewPCG(1, 2))
	zs, ys := make([]float64, n*k), make([]float64, n*k)
	labels := make([]int, n)
	for i := range zs {
		zs[i] = 30 * rng.NormFloat64() // large logits exercise the shift
	}
	for i := range labels {
		labels[i] = rng.IntN(k)
		ys[labels[i]*n+i] = 1
	}
	z := mat.NewDense[float64](mat.WithShape(k, n), mat.WithBacking(zs))
	got := Loss(z, mat.NewDense[float64](mat.WithShape(k, n), mat.WithBacking(ys)), false).Value().Item().F64()
	var want float64
	for i := 0; i < n; i++ {
		col := z.ExtractColumn(i)
		want += losses.CrossEntropy(col, labels[i]).Value().Item().F64()
	}
	want /= n
	if math.Abs(got-want) > 1e-9*math.Abs(want) {
		t.Fatalf("batched cross-entropy %.12g, spago losses.CrossEntropy mean %.12g", got, want)
	}
}

// blobs returns n rows of dim d around k well separated centres; multi-label
// rows carry a label per positive centre coordinate group.
func blobs(seed uint64, n, k, d int, multi bool) Dataset {
	rng := rand.New(rand.NewPCG(seed, 99))
	centres := make([][]float32, k)
	for c := range centres {
		centres[c] = make([]float32, d)
		for j := range centres[c] {
			centres[c][j] = float32(4 * rng.NormFloat64())
		}
	}
	ds := Dataset{Classes: k}
	for i := 0; i < n; i++ {
		row := make([]float32, d)
		if multi {
			// label c is on when the row includes centre c's direction.
			t := make([]float32, k)
			for c := 0; c < k; c++ {
				if rng.IntN(2) == 1 {
					t[c] = 1
					for j := range row {
						row[j] += centres[c][j] / 4
					}
				}
			}
			for j := range row {
				row[j] += float32(0.1 * rng.NormFloat64())
			}
			ds.Targets = append(ds.Targets, t)
		} else {
			c := i % k
			for j := range row {
				row[j] = centres[c][j] + float32(rng.NormFloat64())
			}
			ds.Labels = append(ds.Labels, c)
		}
		ds.Rows = append(ds.Rows, row)
	}
	return ds
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"adam", Options{Epochs: 20, LR: 1e-2}},
		{"adam with decay", Options{Epochs: 20, LR: 1e-2, WeightDecay: 1e-3}},
		{"sgd", Options{Epochs: 20, Optimizer: SGD, WeightDecay: 1e-4}},
		{"multi-label adam", Options{Epochs: 60, LR: 1e-2, MultiLabel: true}},
		{"multi-label sgd", Options{Epochs: 60, LR: 0.1, Optimizer: SGD, MultiLabel: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			train := blobs(1, 200, 4, 16, tc.opt.MultiLabel)
			val := blobs(1, 0, 4, 16, tc.opt.MultiLabel)
			calls := 0
			res, err := Train(context.Background(), train, val, tc.opt, func(EpochStats) { calls++ })
			if err != nil {
				t.Fatal(err)
			}
			if calls != tc.opt.Epochs || len(res.History) != tc.opt.Epochs {
				t.Errorf("%d progress calls, %d history entries, want %d", calls, len(res.History), tc.opt.Epochs)
			}
			if res.Best.TrainAccuracy != 1 {
				t.Errorf("best train accuracy %v, want 1 (history %+v)", res.Best.TrainAccuracy, res.History)
			}
			if got := Accuracy(res.W, res.B, train, tc.opt.MultiLabel); got != res.Best.TrainAccuracy {
				t.Errorf("returned weights score %v, best epoch reported %v", got, res.Best.TrainAccuracy)
			}
			if first, last := res.History[0].TrainLoss, res.Final.TrainLoss; !(last < first) {
				t.Errorf("loss went from %v to %v", first, last)
			}
		})
	}
}

func TestValidationPicksBest(t *testing.T) {
	train := blobs(2, 120, 3, 8, false)
	val := blobs(2, 60, 3, 8, false)
	res, err := Train(context.Background(), train, val, Options{Epochs: 8}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.History {
		if st.ValAccuracy < 0 || st.ValAccuracy > res.Best.ValAccuracy {
			t.Errorf("epoch %d val accuracy %v, best reported %v", st.Epoch, st.ValAccuracy, res.Best.ValAccuracy)
		}
	}
	if got := Accuracy(res.W, res.B, val, false); got != res.Best.ValAccuracy {
		t.Errorf("returned weights score %v on val, best epoch %d reported %v", got, res.BestEpoch, res.Best.ValAccuracy)
	}
}

// TestEvaluateLoss checks Evaluate's loss, which picks between epochs of
// equal accuracy, against the loss Train minimises, on the same rows.
func TestEvaluateLoss(t *testing.T) {
	for _, multi := range []bool{false, true} {
		d := blobs(4, 40, 3, 6, multi)
		h := New[float32](d.Classes, 6, 7)
		idx := make([]int, d.Len())
		for i := range idx {
			idx[i] = i
		}
		x, y := batch(d, idx, 6, multi)
		want := Loss(h.Forward(x), y, multi).Value().Item().F64()
		_, got := Evaluate(h.W.Data().F32(), h.B.Data().F32(), d, multi)
		if math.Abs(got-want) > 1e-5*math.Abs(want) {
			t.Errorf("multi-label %v: Evaluate's loss %.7g, the training loss %.7g", multi, got, want)
		}
	}
}

// TestTieKeepsLowerLoss trains on a set every epoch classifies perfectly:
// the kept epoch is the one with the lowest validation loss, not the first.
func TestTieKeepsLowerLoss(t *testing.T) {
	all := blobs(5, 135, 3, 8, false)
	train := Dataset{Classes: 3, Rows: all.Rows[:90], Labels: all.Labels[:90]}
	val := Dataset{Classes: 3, Rows: all.Rows[90:], Labels: all.Labels[90:]}
	res, err := Train(context.Background(), train, val, Options{Epochs: 20, LR: 0.05}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := res.History[0]
	for _, st := range res.History {
		if st.ValAccuracy > want.ValAccuracy || (st.ValAccuracy == want.ValAccuracy && st.ValLoss < want.ValLoss) {
			want = st
		}
	}
	if res.BestEpoch != want.Epoch {
		t.Errorf("kept epoch %d (val %.3f, loss %.4f), want %d (val %.3f, loss %.4f)", res.BestEpoch,
			res.Best.ValAccuracy, res.Best.ValLoss, want.Epoch, want.ValAccuracy, want.ValLoss)
	}
	// The set is easy: accuracy tops out early and the loss keeps falling,
	// so the earliest best epoch is not the one to keep.
	firstBest := 0
	for _, st := range res.History {
		if st.ValAccuracy == want.ValAccuracy {
			firstBest = st.Epoch
			break
		}
	}
	if firstBest == want.Epoch {
		t.Fatalf("the set does not exercise the tie: epoch %d is both the first at val %.3f and the lowest loss", firstBest, want.ValAccuracy)
	}
	if _, loss := Evaluate(res.W, res.B, val, false); math.Abs(loss-res.Best.ValLoss) > 1e-4 {
		t.Errorf("the returned weights' val loss %.5f, the kept epoch's %.5f", loss, res.Best.ValLoss)
	}
}

func TestDeterminism(t *testing.T) {
	train := blobs(3, 300, 4, 16, false)
	run := func(seed uint64, optimizer string) *Result {
		res, err := Train(context.Background(), train, Dataset{}, Options{Epochs: 5, Seed: seed, Optimizer: optimizer, WeightDecay: 1e-3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	for _, o := range []string{Adam, SGD} {
		a, b, c := run(5, o), run(5, o), run(6, o)
		if !slices.Equal(a.W, b.W) || !slices.Equal(a.B, b.B) || !slices.Equal(a.History, b.History) {
			t.Errorf("%s: two runs with seed 5 differ", o)
		}
		if slices.Equal(a.W, c.W) {
			t.Errorf("%s: seeds 5 and 6 gave identical weights", o)
		}
	}
}

func TestCancel(t *testing.T) {
	train := blobs(4, 4000, 4, 64, false)
	for _, tc := range []struct {
		name  string
		after time.Duration // cancel from another goroutine; 0 cancels from progress
	}{{"after an epoch", 0}, {"mid-epoch", 30 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cancelled time.Time
			progress := func(st EpochStats) {
				if tc.after == 0 && st.Epoch == 1 {
					cancelled = time.Now()
					cancel()
				}
			}
			if tc.after > 0 {
				timer := time.AfterFunc(tc.after, func() { cancelled = time.Now(); cancel() })
				defer timer.Stop()
			}
			epochs := 0
			_, err := Train(ctx, train, Dataset{}, Options{Epochs: 1000, Batch: 4}, func(st EpochStats) {
				epochs = st.Epoch
				progress(st)
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want one wrapping context.Canceled", err)
			}
			if d := time.Since(cancelled); d > time.Second {
				t.Errorf("returned %v after cancellation", d)
			}
			if tc.after > 0 && epochs > 0 {
				t.Logf("cancelled after %d epochs; the timer may fire late on a loaded machine", epochs)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	good := blobs(5, 8, 2, 4, false)
	for _, tc := range []struct {
		name  string
		train Dataset
		opt   Options
		want  error
	}{
		{"optimizer", good, Options{Optimizer: "rmsprop"}, ErrOption},
		{"epochs", good, Options{Epochs: -1}, ErrOption},
		{"batch", good, Options{Batch: 1 << 20}, ErrOption},
		{"lr", good, Options{LR: -0.1}, ErrOption},
		{"lr nan", good, Options{LR: math.NaN()}, ErrOption},
		{"weight decay", good, Options{WeightDecay: 2}, ErrOption},
		{"empty", Dataset{Classes: 2}, Options{}, ErrData},
		{"one class", Dataset{Classes: 1, Rows: [][]float32{{1}}, Labels: []int{0}}, Options{}, ErrData},
		{"label range", Dataset{Classes: 2, Rows: [][]float32{{1}}, Labels: []int{2}}, Options{}, ErrData},
		{"ragged", Dataset{Classes: 2, Rows: [][]float32{{1}, {1, 2}}, Labels: []int{0, 1}}, Options{}, ErrData},
		{"not finite", Dataset{Classes: 2, Rows: [][]float32{{float32(math.Inf(1))}}, Labels: []int{0}}, Options{}, ErrData},
		{"diverges", Dataset{Classes: 2, Rows: [][]float32{{3e38}, {-3e38}}, Labels: []int{1, 0}}, Options{Optimizer: SGD, LR: 10}, ErrDiverged},
		{"targets", Dataset{Classes: 2, Rows: [][]float32{{1}}, Targets: [][]float32{{0.5, 1}}}, Options{MultiLabel: true}, ErrData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Train(context.Background(), tc.train, Dataset{}, tc.opt, nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestFC(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6} // K=2, D=3
	weight, bias, err := FC(w, []float32{7, 8}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 4, 2, 5, 3, 6}; !slices.Equal(weight, want) || !slices.Equal(bias, []float32{7, 8}) {
		t.Fatalf("fc weight %v bias %v, want %v [7 8]", weight, bias, want)
	}
	if _, _, err := FC(w, []float32{1}, 2); err == nil {
		t.Fatal("mismatched bias accepted")
	}
}

package api

import (
	"context"

	"github.com/lcnet/lcnet/nn"
)

// nnRunner runs a loaded nn.Model.
type nnRunner struct{ m *nn.Model }

func (r nnRunner) infer(ctx context.Context, x []float32, n, h, w int) (*output, error) {
	o, err := r.m.Infer(ctx, x, n, h, w)
	if err != nil {
		return nil, err
	}
	return &output{
		N: o.N, Classes: o.Classes, FeatureDim: o.FeatureDim, PooledDim: o.PooledDim,
		Logits: o.Logits, Probabilities: o.Probabilities, Features: o.Features, Pooled: o.Pooled,
	}, nil
}

func (r nnRunner) close() { r.m.Close() }

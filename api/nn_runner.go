package api

import (
	"context"

	"github.com/lcnet/lcnet/nn"
)

// nnRunner runs a loaded nn.Model.
type nnRunner struct{ m *nn.Model }

func (r nnRunner) infer(ctx context.Context, imgs [][]float32, h, w int, serial bool) (*output, error) {
	o := new(nn.Output)
	if err := r.m.InferImages(ctx, imgs, h, w, o, nn.CallOptions{Serial: serial}); err != nil {
		return nil, err
	}
	return &output{
		N: o.N, Classes: o.Classes, FeatureDim: o.FeatureDim, PooledDim: o.PooledDim,
		Logits: o.Logits, Probabilities: o.Probabilities, Features: o.Features, Pooled: o.Pooled,
	}, nil
}

func (r nnRunner) close() { r.m.Close() }

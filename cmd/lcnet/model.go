package main

import (
	"context"
	"fmt"

	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// loadModel resolves NAME[:VERSION] in the store and builds the network.
// The caller closes the model.
func loadModel(ctx context.Context, store, ref string, opts nn.Options) (zoo.Manifest, *nn.Model, error) {
	name, version, err := zoo.ParseRef(ref)
	if err != nil {
		return zoo.Manifest{}, nil, usageError{fmt.Errorf("--model: %w", err)}
	}
	z, err := openZoo(ctx, store)
	if err != nil {
		return zoo.Manifest{}, nil, err
	}
	m, err := z.Resolve(ctx, name, version)
	if err != nil {
		return zoo.Manifest{}, nil, err
	}
	tensors, err := z.Weights(ctx, m)
	if err != nil {
		return zoo.Manifest{}, nil, err
	}
	// An fp16 version runs with fp16 weights in memory, as the server runs it.
	opts.Half = opts.Half || m.DType == zoo.FP16
	model, err := nn.Load(m.Arch, tensors, opts)
	if err != nil {
		return zoo.Manifest{}, nil, fmt.Errorf("loading %s:%s: %w", m.Name, m.Version, err)
	}
	return m, model, nil
}

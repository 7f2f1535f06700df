package main

import (
	"context"
	"fmt"

	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// resolveRef parses NAME[:VERSION], opens the zoo in store and finds the
// version ("" or "latest" is the newest). flag names where ref came from
// in a usage error ("" when it was a positional argument).
func resolveRef(ctx context.Context, store, ref, flag string) (*zoo.Zoo, zoo.Manifest, error) {
	name, version, err := zoo.ParseRef(ref)
	if err != nil {
		if flag != "" {
			err = fmt.Errorf("%s: %w", flag, err)
		}
		return nil, zoo.Manifest{}, usageError{err}
	}
	z, err := openZoo(ctx, store)
	if err != nil {
		return nil, zoo.Manifest{}, err
	}
	m, err := z.Resolve(ctx, name, version)
	if err != nil {
		return nil, zoo.Manifest{}, err
	}
	return z, m, nil
}

// loadModel resolves the --model ref in the store and builds the network.
// The caller closes the model.
func loadModel(ctx context.Context, store, ref string, opts nn.Options) (zoo.Manifest, *nn.Model, error) {
	z, m, err := resolveRef(ctx, store, ref, "--model")
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

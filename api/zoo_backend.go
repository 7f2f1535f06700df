package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// zooBackend is the production backend: models from a zoo, run by nn.
type zooBackend struct {
	z       *zoo.Zoo
	threads int
}

func newZooBackend(z *zoo.Zoo, threads int) backend {
	return &zooBackend{z: z, threads: threads}
}

func (b *zooBackend) models(ctx context.Context) ([]modelVersions, error) {
	ms, err := b.z.Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the zoo: %w", err)
	}
	out := make([]modelVersions, len(ms))
	for i, m := range ms {
		out[i] = modelVersions{Name: m.Name, Versions: m.Versions, Latest: m.Latest}
	}
	return out, nil
}

func (b *zooBackend) resolve(ctx context.Context, name, version string) (zoo.Manifest, error) {
	return b.z.Resolve(ctx, name, version)
}

func (b *zooBackend) load(ctx context.Context, m zoo.Manifest) (runner, error) {
	tensors, err := b.z.Weights(ctx, m)
	if err != nil {
		return nil, err
	}
	model, err := nn.Load(m.Arch, tensors, nn.Options{Threads: b.threads, Half: m.DType == zoo.FP16})
	if err != nil {
		return nil, fmt.Errorf("building the network of %s:%s: %w", m.Name, m.Version, err)
	}
	return nnRunner{model}, nil
}

func (b *zooBackend) remove(ctx context.Context, name, version string) error {
	return b.z.Delete(ctx, name, version)
}

func (b *zooBackend) importFile(ctx context.Context, path string, opts importOptions) (zoo.Manifest, error) {
	ck, err := convert.Read(ctx, path, convert.ReadOptions{})
	if err != nil {
		return zoo.Manifest{}, &httpError{status: http.StatusUnprocessableEntity, detail: "reading the upload: " + err.Error(), err: err}
	}
	m, err := convert.Import(ctx, b.z, ck, convert.ImportOptions{Name: opts.Name, Version: opts.Version, DType: opts.DType, Config: opts.Config})
	if err != nil {
		if errors.Is(err, zoo.ErrVersionExists) || errors.Is(err, zoo.ErrInvalidName) {
			return zoo.Manifest{}, err
		}
		return zoo.Manifest{}, &httpError{status: http.StatusUnprocessableEntity, detail: "importing the upload: " + err.Error(), err: err}
	}
	return m, nil
}

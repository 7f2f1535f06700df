package api

import (
	"context"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/zoo"
)

// backend is what the server needs of the model registry and the network.
// The production one (zooBackend) is the zoo plus nn; keeping the server
// behind this small interface lets the HTTP layer be tested on its own.
type backend interface {
	// models lists every model, versions oldest first.
	models(ctx context.Context) ([]modelVersions, error)
	// resolve finds a version; version "" is the newest. A missing model or
	// version is an error wrapping zoo.ErrNotFound.
	resolve(ctx context.Context, name, version string) (zoo.Manifest, error)
	// load reads and verifies m's weights and builds the network. A
	// checksum failure wraps zoo.ErrChecksum.
	load(ctx context.Context, m zoo.Manifest) (runner, error)
	// remove deletes one version (zoo.ErrNotFound if absent).
	remove(ctx context.Context, name, version string) error
	// importFile converts a checkpoint file (any format convert reads) into
	// a new version.
	importFile(ctx context.Context, path string, opts importOptions) (zoo.Manifest, error)
}

type modelVersions struct {
	Name     string
	Versions []zoo.Manifest
	Latest   string
}

type importOptions struct {
	Name, Version string
	DType         zoo.DType
	// Config is the training config uploaded with a .pdparams.
	Config *convert.Config
}

// runner is a loaded network. infer must be safe for concurrent use.
type runner interface {
	// infer runs the images (3*h*w values each); serial is
	// nn.CallOptions.Serial, set when the server has other work for the
	// cores.
	infer(ctx context.Context, imgs [][]float32, h, w int, serial bool) (*output, error)
	close()
}

// output holds row-major N x dim results of one inference.
type output struct {
	N, Classes, FeatureDim, PooledDim       int
	Logits, Probabilities, Features, Pooled []float32
}

package convert

import (
	"context"
	"fmt"

	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// Import writes a checkpoint into the zoo as a new version. Everything that
// can be wrong with the input (architecture, tensor shapes, label count,
// dtype) is checked first, and the network is built from the tensors
// once, so a checkpoint that cannot serve never reaches the zoo.
func Import(ctx context.Context, z *zoo.Zoo, ck *Checkpoint, opts ImportOptions) (zoo.Manifest, error) {
	m, err := prepare(ck, opts, deps{inferArch: nn.InferArch, imageNetLabels: zoo.ImageNetLabels})
	if err != nil {
		return zoo.Manifest{}, sourceErr(ck, err)
	}
	if err := ctx.Err(); err != nil {
		return zoo.Manifest{}, err
	}
	model, err := nn.Load(m.Arch, ck.Tensors, nn.Options{Threads: 1})
	if err != nil {
		return zoo.Manifest{}, sourceErr(ck, fmt.Errorf("import: building the network: %w", err))
	}
	model.Close()
	out, err := z.Create(ctx, m, ck.Tensors)
	if err != nil {
		return zoo.Manifest{}, fmt.Errorf("import %s: %w", m.Name, err)
	}
	return out, nil
}

func sourceErr(ck *Checkpoint, err error) error {
	if ck != nil && ck.SourceName != "" {
		return fmt.Errorf("%s: %w", ck.SourceName, err)
	}
	return err
}

package convert

import (
	"context"
	"fmt"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/zoo"
)

// Import writes a checkpoint into the zoo as a new version. Everything that
// can be wrong with the input (architecture, tensor shapes, BatchNorm
// statistics, label count, dtype) is checked first, so a checkpoint that
// cannot serve never reaches the zoo.
func Import(ctx context.Context, z *zoo.Zoo, ck *Checkpoint, opts ImportOptions) (zoo.Manifest, error) {
	m, err := prepare(ck, opts, deps{inferArch: arch.InferArch, imageNetLabels: zoo.ImageNetLabels})
	if err != nil {
		return zoo.Manifest{}, sourceErr(ck, err)
	}
	if err := ctx.Err(); err != nil {
		return zoo.Manifest{}, err
	}
	if err := checkBatchNorm(m.Arch, ck.Tensors); err != nil {
		return zoo.Manifest{}, sourceErr(ck, fmt.Errorf("import: %w", err))
	}
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

// checkBatchNorm folds every BatchNorm once, discarding the result, so statistics
// that would make the network compute NaN fail the import, not the first
// load.
func checkBatchNorm(a arch.Arch, tensors map[string]arch.Tensor) error {
	for _, sp := range a.Tensors() {
		if prefix, ok := strings.CutSuffix(sp.Name, ".bn._variance"); ok {
			if _, _, err := arch.FoldBN(tensors, prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

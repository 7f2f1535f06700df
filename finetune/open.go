package finetune

import (
	"context"
	"fmt"

	"github.com/lcnet/lcnet/train/dataset"
)

// OpenArchive extracts the zip, tar or tar.gz at archive into the existing
// directory dst within lim and opens it as a data set (an ImageFolder, a
// PaddleClas list or a labels.csv, see dataset.Open).
func OpenArchive(ctx context.Context, archive, dst string, lim dataset.Limits) (*dataset.Set, dataset.Extracted, error) {
	fsys, rep, err := dataset.ExtractFile(ctx, archive, dst, lim)
	if err != nil {
		return nil, rep, fmt.Errorf("finetune: extracting the data set: %w", err)
	}
	s, err := dataset.Open(fsys)
	if err != nil {
		return nil, rep, fmt.Errorf("finetune: %w", err)
	}
	return s, rep, nil
}

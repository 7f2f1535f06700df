package paddle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/internal/atomicfile"
)

// LabelsFile is the name of the class list beside the weights and config.
const LabelsFile = "labels.txt"

// Files are the paths Write wrote; Labels is empty for a model without
// class names.
type Files struct {
	Params, Config, Labels string
}

// Options tunes Write.
type Options struct {
	// Comment heads the config (for example which zoo version it is).
	Comment string
	// Progress, when set, follows the weights as they are written.
	Progress Progress
}

// Write writes dir/NAME.pdparams, dir/NAME.yaml and, when m has labels,
// dir/labels.txt, creating dir if needed. Everything that can refuse the
// model (the config, the labels) is decided before the weights are
// written, and each file goes through a temp file and a rename, so a
// failed export never leaves a truncated file where a good one was.
func Write(ctx context.Context, dir, name string, m Model, tensors map[string]arch.Tensor, opts Options) (Files, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return Files{}, fmt.Errorf("paddle export: %q is not a file name", name)
	}
	var labels, config bytes.Buffer
	files := Files{
		Params: filepath.Join(dir, name+".pdparams"),
		Config: filepath.Join(dir, name+".yaml"),
	}
	copts := ConfigOptions{Comment: opts.Comment}
	if len(m.Labels) > 0 {
		if len(m.Labels) != m.Arch.ClassNum {
			return Files{}, notExpressible("labels", "%d names for %d classes", len(m.Labels), m.Arch.ClassNum)
		}
		if err := WriteLabels(&labels, m.Labels); err != nil {
			return Files{}, err
		}
		files.Labels = filepath.Join(dir, LabelsFile)
		copts.LabelsFile = LabelsFile
	}
	if err := WriteConfig(&config, m, copts); err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("paddle export: %w", err)
	}
	err := writeFile(files.Params, func(w io.Writer) error {
		return WriteParams(ctx, w, m.Arch, tensors, opts.Progress)
	})
	if err != nil {
		return Files{}, err
	}
	if err := writeFile(files.Config, func(w io.Writer) error { _, err := w.Write(config.Bytes()); return err }); err != nil {
		return Files{}, err
	}
	if files.Labels != "" {
		if err := writeFile(files.Labels, func(w io.Writer) error { _, err := w.Write(labels.Bytes()); return err }); err != nil {
			return Files{}, err
		}
	}
	return files, nil
}

// writeFile writes path through a temp file beside it and a rename.
func writeFile(path string, write func(io.Writer) error) error {
	if err := atomicfile.Write(path, write); err != nil {
		return fmt.Errorf("paddle export: %w", err)
	}
	return nil
}

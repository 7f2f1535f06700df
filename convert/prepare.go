package convert

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/zoo"
)

// ImportOptions says how a checkpoint becomes a zoo version.
type ImportOptions struct {
	// Name of the model; empty derives it from the source name
	// (PPLCNet_x1_0.pdparams -> PPLCNet_x1_0, ..._infer.tar.gz -> ...).
	Name string
	// Version; empty takes the next free integer.
	Version string
	// DType the weights are stored in; empty means fp32.
	DType zoo.DType
	// Labels, when set (e.g. from --labels FILE), win over the
	// checkpoint's own.
	Labels []string
	// Arch, when set, replaces the architecture read from the program or
	// inferred from the tensors, for checkpoints whose shapes cannot tell
	// (a .pdparams of a text-line model with (2,1) strides).
	Arch *arch.Arch
	// StrideList, when set, overrides only the strides of the
	// architecture (PaddleClas' stride_list: stem, then the first block of
	// blocks3..blocks6).
	StrideList []arch.Stride
	// Decode, when set, is stored as the manifest's preprocess decode
	// mode ("exact" or "fast"; see arch.Preprocess.Decode).
	Decode string
}

// deps are the parts of nn and zoo an import uses, passed in so the
// decisions below are testable on their own.
type deps struct {
	inferArch      func(map[string]arch.Tensor) (arch.Arch, error)
	imageNetLabels func() []string
}

// prepare decides the manifest of an import: architecture, labels,
// preprocessing, dtype and provenance, and checks the tensors against the
// architecture. It changes nothing outside.
func prepare(ck *Checkpoint, opts ImportOptions, d deps) (zoo.Manifest, error) {
	if ck == nil || len(ck.Tensors) == 0 {
		return zoo.Manifest{}, errors.New("import: the checkpoint holds no tensors")
	}
	var a arch.Arch
	switch {
	case opts.Arch != nil:
		a = *opts.Arch
	case ck.Arch != nil:
		a = *ck.Arch
	default:
		inferred, err := d.inferArch(ck.Tensors)
		if err != nil {
			return zoo.Manifest{}, fmt.Errorf("import: inferring the architecture from the tensor shapes: %w", err)
		}
		a = inferred
	}
	if len(opts.StrideList) > 0 {
		if err := applyStrides(&a, opts.StrideList); err != nil {
			return zoo.Manifest{}, fmt.Errorf("import: %w", err)
		}
	}
	pre := arch.DefaultPreprocess()
	if ck.Preprocess != nil {
		pre = *ck.Preprocess
	}
	if opts.Decode != "" {
		pre.Decode = opts.Decode
	}
	if a.InputHeight <= 0 || a.InputWidth <= 0 {
		a.InputHeight, a.InputWidth = a.InputSize(pre)
	}
	if err := a.Validate(); err != nil {
		return zoo.Manifest{}, fmt.Errorf("import: %w", err)
	}
	if err := a.Check(ck.Tensors); err != nil {
		return zoo.Manifest{}, fmt.Errorf("import: %w", err)
	}
	labels, err := chooseLabels(a.ClassNum, opts.Labels, ck.Labels, d.imageNetLabels)
	if err != nil {
		return zoo.Manifest{}, fmt.Errorf("import: %w", err)
	}
	dtype := opts.DType
	switch dtype {
	case "":
		dtype = zoo.FP32
	case zoo.FP32, zoo.FP16:
	default:
		return zoo.Manifest{}, fmt.Errorf("import: unknown dtype %q (want fp32 or fp16)", dtype)
	}
	name := opts.Name
	if name == "" {
		name = modelName(ck.SourceName)
	}
	if name == "" {
		return zoo.Manifest{}, errors.New("import: no model name given and none can be derived from the source")
	}
	if err := zoo.ValidateName("model name", name); err != nil {
		return zoo.Manifest{}, fmt.Errorf("import: %w", err)
	}
	if opts.Version != "" {
		if err := zoo.ValidateName("version", opts.Version); err != nil {
			return zoo.Manifest{}, fmt.Errorf("import: %w", err)
		}
	}
	return zoo.Manifest{
		Name:       name,
		Version:    opts.Version,
		Arch:       a,
		Labels:     labels,
		Preprocess: pre,
		DType:      dtype,
		Params:     arch.ParamCount(ck.Tensors),
		Source:     zoo.Source{Format: ck.Format, Name: ck.SourceName, SHA256: ck.SourceSHA256},
	}, nil
}

// chooseLabels picks the labels: given > the checkpoint's > ImageNet's for
// a 1000-class model > none; whichever is chosen must have one per class.
func chooseLabels(classes int, given, own []string, imageNet func() []string) ([]string, error) {
	var labels []string
	var from string
	switch {
	case len(given) > 0:
		labels, from = given, "the labels given"
	case len(own) > 0:
		labels, from = own, "inference.yml's label_list"
	case classes == 1000 && imageNet != nil:
		labels, from = imageNet(), "the ImageNet labels"
	default:
		return nil, nil
	}
	if len(labels) != classes {
		return nil, fmt.Errorf("%s has %d labels, the model has %d classes", from, len(labels), classes)
	}
	return labels, nil
}

// applyStrides sets PaddleClas' stride_list on an architecture whose
// blocks are already filled.
func applyStrides(a *arch.Arch, strides []arch.Stride) error {
	if len(strides) != len(stageSizes) {
		return fmt.Errorf("stride_list has %d entries, want %d (stem, blocks3..blocks6)", len(strides), len(stageSizes))
	}
	*a = a.WithStrides(strides)
	return nil
}

// modelName derives a model name from a file or directory name.
func modelName(source string) string {
	n := source
	for _, ext := range []string{".tar.gz", ".tgz", ".tar", ".pdparams", ".json", ".pdmodel"} {
		n = strings.TrimSuffix(n, ext)
	}
	n = strings.TrimSuffix(n, "_infer")
	return n
}

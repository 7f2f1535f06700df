package convert

import (
	"errors"
	"fmt"
	"slices"
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
	// Config is the training config of a dygraph checkpoint (--config):
	// its architecture replaces the ImageNet defaults a .pdparams would
	// otherwise get, and must fit the tensors. With a program, the
	// program's architecture stays and the config must agree with it.
	Config *Config
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
	a, source, err := chooseArch(ck, opts, d)
	if err != nil {
		return zoo.Manifest{}, err
	}
	if len(opts.StrideList) > 0 {
		if err := applyStrides(&a, opts.StrideList); err != nil {
			return zoo.Manifest{}, fmt.Errorf("import: %w", err)
		}
		source = zoo.ArchGiven
	}
	pre := arch.DefaultPreprocess()
	switch {
	case ck.Preprocess != nil:
		pre = *ck.Preprocess
	case opts.Config != nil && opts.Config.Preprocess != nil:
		pre = *opts.Config.Preprocess
	}
	threshold := ck.Threshold
	if threshold == 0 && opts.Config != nil {
		threshold = opts.Config.Threshold
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
		Threshold:  threshold,
		DType:      dtype,
		Params:     arch.ParamCount(ck.Tensors),
		Source:     zoo.Source{Format: ck.Format, Name: ck.SourceName, SHA256: ck.SourceSHA256, Arch: source},
	}, nil
}

// chooseArch picks the architecture and says where it came from: the
// caller's, else the program's (which a config must agree with), else the
// config's, else the tensor shapes with PaddleClas' ImageNet defaults for
// what shapes cannot show.
func chooseArch(ck *Checkpoint, opts ImportOptions, d deps) (arch.Arch, zoo.ArchSource, error) {
	cfg := opts.Config
	switch {
	case opts.Arch != nil:
		return *opts.Arch, zoo.ArchGiven, nil
	case ck.Arch != nil:
		a := *ck.Arch
		if cfg != nil {
			if err := configAgrees(a, cfg.Arch, ck.Tensors); err != nil {
				return arch.Arch{}, "", fmt.Errorf("import: %w", err)
			}
		}
		return a, zoo.ArchProgram, nil
	case cfg != nil:
		return cfg.Arch, zoo.ArchConfig, nil
	}
	inferred, err := d.inferArch(ck.Tensors)
	if err != nil {
		return arch.Arch{}, "", fmt.Errorf("import: inferring the architecture from the tensor shapes: %w", err)
	}
	return inferred, zoo.ArchDefault, nil
}

// configAgrees checks a training config against the program of an
// inference model: the same tensors and the same strides.
func configAgrees(prog, cfg arch.Arch, tensors map[string]arch.Tensor) error {
	if err := cfg.Check(tensors); err != nil {
		return fmt.Errorf("the config's architecture does not fit the program's weights: %w", err)
	}
	if !slices.Equal(prog.StrideList, cfg.StrideList) {
		return fmt.Errorf("the config's stride_list %v disagrees with the program's %v", cfg.StrideList, prog.StrideList)
	}
	// The program's last op decides what the server computes; a config
	// that says otherwise belongs to another export.
	if prog.MultiLabel != cfg.MultiLabel {
		return fmt.Errorf("the config's Global.use_multilabel is %v but the program's head ends in %s; pass the config this model was exported with", cfg.MultiLabel, headName(prog.MultiLabel))
	}
	return nil
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

func headName(multiLabel bool) string {
	if multiLabel {
		return "a sigmoid"
	}
	return "a softmax"
}

// Package finetune teaches a zoo model new classes: it runs a labelled
// image set through a base version's frozen backbone once per
// augmentation, trains a new linear head on the cached features with
// train/head, and stores the base's backbone with the new head as a new
// zoo version carrying its lineage.
package finetune

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/lcnet/lcnet/arch"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/features"
	"github.com/lcnet/lcnet/train/head"
	"github.com/lcnet/lcnet/zoo"
)

// Layers a head can be trained on.
const (
	// LayerFeatures is the input the served fc sees: hardswish(last_conv)
	// scaled by the dropout's 1-p. The new version keeps last_conv.
	LayerFeatures = "features"
	// LayerPooled is the backbone's global pool. The new version drops
	// last_conv (use_last_conv false), so the served fc reads the pool
	// directly and no dropout scale applies.
	LayerPooled = "pooled"
	// LayerAuto trains a head on each of the two and keeps the one with
	// the better validation accuracy, the pool on a tie (fewer weights).
	// A task model's last_conv (a 2-class orientation model's, say) can
	// serve new classes much worse than its pool, an ImageNet model's
	// better: the held-out images decide. Without validation it is
	// LayerFeatures.
	LayerAuto = "auto"
)

// Augmentations Options.Augment accepts.
const (
	AugFlip = "flip" // horizontal mirror
	AugCrop = "crop" // a seeded crop of 90% of the area, before preprocessing
)

// Errors wrapped by Run, beside those of train/head and train/dataset.
var (
	ErrOption = errors.New("finetune: invalid option")
	// ErrNoData: no image of the set could be decoded.
	ErrNoData = errors.New("finetune: no usable images")
)

// Options configure Run. Zero fields take the defaults listed.
type Options struct {
	// Name of the new model; Version, when set, the version to create
	// (default: the next number).
	Name, Version string
	// Head is passed to head.Train; MultiLabel is taken from the data set.
	Head head.Options
	// ValSplit moves this fraction of the training set to validation when
	// no validation set is given; 0 trains without validation.
	ValSplit float64
	// Augment lists AugFlip and/or AugCrop: each adds one more feature row
	// per training image.
	Augment []string
	// Layer is LayerAuto (default), LayerFeatures or LayerPooled.
	Layer string
	// DType of the new version; default the base's.
	DType zoo.DType
	// Threads run the backbone and the image decoding; 0 means
	// runtime.NumCPU(). A background job uses 1 so that serving keeps the
	// other cores.
	Threads int
	// Yield calls runtime.Gosched between backbone batches, so that a
	// background job gives way to requests waiting for a CPU.
	Yield bool
	// ExtractBatch is the number of images per backbone call; default 16.
	ExtractBatch int
	// CacheDir holds feature rows beyond CacheMemory bytes (default
	// 512 MiB); "" is the system's temporary directory.
	CacheDir    string
	CacheMemory int64
	// Progress, if not nil, is called as images are extracted and after
	// every epoch.
	Progress func(Progress)
}

// Stages of a Progress report.
const (
	StageExtract = "extract"
	StageTrain   = "train"
)

// Progress reports a running Run. In StageExtract, Done of Total images
// have gone through the backbone; in StageTrain, Epoch is the epoch just
// finished of the head on Layer, and Done of Total counts epochs over all
// the layers tried.
type Progress struct {
	Stage       string
	Done, Total int
	Layer       string
	Epoch       head.EpochStats
}

// Result is a finished Run.
type Result struct {
	Manifest zoo.Manifest
	Head     *head.Result
	// Skipped counts images that failed to decode and were left out;
	// SkippedFiles the non-image files the data set reader passed over.
	Skipped, SkippedFiles  int
	TrainImages, ValImages int
	// Rows are the training feature rows (images x augmentations).
	Rows int
	// ExtractTime is DecodeTime (reading, decoding, augmenting and
	// preprocessing) plus BackboneTime (the network, and caching its rows).
	ExtractTime, DecodeTime, BackboneTime, TrainTime time.Duration
	// TrainSet and ValSet are the sets after any split (ValSet nil
	// without validation); TrainFeatures holds, for each decodable item of
	// TrainSet in order, one row per augmentation (the image as is first).
	TrainSet, ValSet           *dataset.Set
	TrainFeatures, ValFeatures head.Dataset
	// Layer is the layer the stored head reads; LayerScores the best
	// validation accuracy of each layer LayerAuto tried.
	Layer       string
	LayerScores map[string]float64
}

// WithDefaults returns o with zero fields replaced by their defaults and
// checked; the error wraps ErrOption or head.ErrOption and names the field.
func (o Options) WithDefaults() (Options, error) {
	if o.Layer == "" {
		o.Layer = LayerAuto
	}
	if o.Layer != LayerAuto && o.Layer != LayerFeatures && o.Layer != LayerPooled {
		return o, fmt.Errorf("%w: layer %q, want %q, %q or %q", ErrOption, o.Layer, LayerAuto, LayerFeatures, LayerPooled)
	}
	if o.Threads <= 0 {
		o.Threads = runtime.NumCPU()
	}
	if o.ExtractBatch <= 0 {
		o.ExtractBatch = 16
	}
	if o.CacheMemory <= 0 {
		o.CacheMemory = 512 << 20
	}
	if !(o.ValSplit >= 0 && o.ValSplit < 1) {
		return o, fmt.Errorf("%w: validation split %g, want in [0, 1)", ErrOption, o.ValSplit)
	}
	seen := map[string]bool{}
	var aug []string
	for _, a := range o.Augment {
		a = strings.TrimSpace(strings.ToLower(a))
		switch {
		case a == "" || a == "none":
			continue
		case a != AugFlip && a != AugCrop:
			return o, fmt.Errorf("%w: augmentation %q, want %q or %q", ErrOption, a, AugFlip, AugCrop)
		case seen[a]:
			continue
		}
		seen[a] = true
		aug = append(aug, a)
	}
	// A fixed order, so that "crop,flip" and "flip,crop" give the same rows.
	slices.Sort(aug)
	o.Augment = aug
	if err := zoo.ValidateName("model name", o.Name); err != nil {
		return o, fmt.Errorf("%w: %w", ErrOption, err)
	}
	h, err := o.Head.WithDefaults()
	if err != nil {
		return o, err
	}
	o.Head = h
	return o, nil
}

// Run trains a new head for base (NAME[:VERSION]) on train, validated on
// val when not nil (aligned to train's classes by name) or on a ValSplit of
// train, and stores it as a new version of opt.Name. Nothing is stored when
// ctx is cancelled or any step fails.
func Run(ctx context.Context, z *zoo.Zoo, base string, train, val *dataset.Set, opt Options) (*Result, error) {
	opt, err := opt.WithDefaults()
	if err != nil {
		return nil, err
	}
	if train == nil {
		return nil, fmt.Errorf("%w: no training set", ErrOption)
	}
	name, version, err := zoo.ParseRef(base)
	if err != nil {
		return nil, fmt.Errorf("%w: base model: %w", ErrOption, err)
	}
	bm, err := z.Resolve(ctx, name, version)
	if err != nil {
		return nil, fmt.Errorf("finetune: base model: %w", err)
	}
	lin := &zoo.Lineage{
		BaseName: bm.Name, BaseVersion: bm.Version, BaseWeightsSHA256: bm.WeightsSHA256,
		Hyper: zoo.Hyperparameters{
			Epochs: opt.Head.Epochs, LR: opt.Head.LR, Batch: opt.Head.Batch, WeightDecay: opt.Head.WeightDecay,
			Seed: opt.Head.Seed, Optimizer: opt.Head.Optimizer, Augment: opt.Augment,
		},
	}
	if lin.DatasetSHA256, err = dataset.Digest(train); err != nil {
		return nil, err
	}
	trainSet, valSet := train, val
	switch {
	case val != nil:
		if lin.ValDatasetSHA256, err = dataset.Digest(val); err != nil {
			return nil, err
		}
		if valSet, err = dataset.Align(train, val); err != nil {
			return nil, err
		}
	case opt.ValSplit > 0:
		lin.Hyper.ValSplit = opt.ValSplit
		if trainSet, valSet, err = dataset.Split(train, opt.ValSplit, opt.Head.Seed); err != nil {
			return nil, err
		}
	}
	opt.Head.MultiLabel = train.MultiLabel

	tensors, err := z.Weights(ctx, bm)
	if err != nil {
		return nil, fmt.Errorf("finetune: base model: %w", err)
	}
	model, err := nn.Load(bm.Arch, tensors, nn.Options{Threads: opt.Threads, Half: bm.DType == zoo.FP16})
	if err != nil {
		return nil, fmt.Errorf("finetune: base model %s:%s: %w", bm.Name, bm.Version, err)
	}
	defer model.Close()
	pp, err := imaging.NewPreprocessor(bm.Preprocess)
	if err != nil {
		return nil, fmt.Errorf("finetune: base model %s:%s: %w", bm.Name, bm.Version, err)
	}
	layers := candidates(opt.Layer, bm.Arch.UseLastConv, valSet != nil && len(valSet.Items) > 0)
	ex := &extractor{model: model, pp: pp, arch: bm.Arch, opt: opt, layers: layers}
	dim := ex.dim()
	cache, err := features.New(dim, opt.CacheMemory, opt.CacheDir)
	if err != nil {
		return nil, err
	}
	defer cache.Close()

	res := &Result{SkippedFiles: train.Skipped, TrainSet: trainSet, ValSet: valSet}
	t0 := time.Now()
	total := len(trainSet.Items)
	if valSet != nil {
		total += len(valSet.Items)
	}
	prog := func(done int) {
		if opt.Progress != nil {
			opt.Progress(Progress{Stage: StageExtract, Done: done, Total: total})
		}
	}
	augs := append([]string{""}, opt.Augment...)
	trOK, err := ex.run(ctx, trainSet, 0, augs, cache, prog)
	if err != nil {
		return nil, err
	}
	var valOK []bool
	if valSet != nil {
		valOK, err = ex.run(ctx, valSet, len(trainSet.Items), []string{""}, cache, prog)
		if err != nil {
			return nil, err
		}
	}
	res.ExtractTime, res.DecodeTime, res.BackboneTime = time.Since(t0), ex.decode, ex.backbone
	res.TrainFeatures, err = rows(cache, trainSet, 0, trOK, len(augs))
	if err != nil {
		return nil, err
	}
	res.TrainImages = count(trOK)
	res.Skipped = len(trOK) - res.TrainImages
	if valSet != nil {
		res.ValFeatures, err = rows(cache, valSet, len(trainSet.Items), valOK, 1)
		if err != nil {
			return nil, err
		}
		res.ValImages = count(valOK)
		res.Skipped += len(valOK) - res.ValImages
	}
	if res.TrainImages == 0 {
		return nil, fmt.Errorf("%w: none of the %d training images could be decoded", ErrNoData, len(trOK))
	}
	res.Rows = res.TrainFeatures.Len()

	t1 := time.Now()
	allTrain, allVal := res.TrainFeatures, res.ValFeatures
	if len(layers) > 1 {
		res.LayerScores = make(map[string]float64, len(layers))
	}
	var hr *head.Result
	for i, layer := range layers {
		from, to := ex.span(layer)
		tr, va := columns(allTrain, from, to), columns(allVal, from, to)
		r, err := head.Train(ctx, tr, va, opt.Head, func(st head.EpochStats) {
			if opt.Progress != nil {
				opt.Progress(Progress{Stage: StageTrain, Layer: layer, Done: i*opt.Head.Epochs + st.Epoch,
					Total: len(layers) * opt.Head.Epochs, Epoch: st})
			}
			if opt.Yield {
				runtime.Gosched()
			}
		})
		if err != nil {
			return nil, err
		}
		if res.LayerScores != nil {
			res.LayerScores[layer] = r.Best.ValAccuracy
		}
		// Candidates come pool first, so a tie keeps the pool.
		if hr == nil || r.Best.ValAccuracy > hr.Best.ValAccuracy {
			hr, res.Layer, res.TrainFeatures, res.ValFeatures = r, layer, tr, va
		}
	}
	opt.Layer, lin.Hyper.Layer, lin.Hyper.LayerScores = res.Layer, res.Layer, res.LayerScores
	res.TrainTime = time.Since(t1)
	res.Head = hr
	lin.TrainImages, lin.ValImages = res.TrainImages, res.ValImages
	lin.TrainAccuracy, lin.ValAccuracy = hr.Best.TrainAccuracy, hr.Best.ValAccuracy
	lin.BestEpoch, lin.Epochs = hr.BestEpoch, len(hr.History)

	m, nt, err := newVersion(bm, tensors, hr, train.Classes, train.MultiLabel, opt)
	if err != nil {
		return nil, err
	}
	m.Lineage = lin
	// The last chance to stop: Create itself undoes a version it could not
	// finish, and a cancellation must not leave a new version behind.
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	if res.Manifest, err = z.Create(ctx, m, nt); err != nil {
		return nil, fmt.Errorf("finetune: %w", err)
	}
	return res, nil
}

func count(ok []bool) int {
	n := 0
	for _, v := range ok {
		if v {
			n++
		}
	}
	return n
}

// rows gathers the cached rows of s's decodable images (image indices
// offset + i), augs rows per image, with their labels.
func rows(c *features.Cache, s *dataset.Set, offset int, ok []bool, augs int) (head.Dataset, error) {
	d := head.Dataset{Classes: len(s.Classes)}
	for i := range s.Items {
		if !ok[i] {
			continue
		}
		for a := range augs {
			r, found, err := c.Get(features.Key{Image: offset + i, Aug: a}, nil)
			if err != nil {
				return d, fmt.Errorf("finetune: reading cached features: %w", err)
			}
			if !found {
				return d, fmt.Errorf("finetune: features of %s (augmentation %d) missing from the cache", s.Items[i].Path, a)
			}
			d.Rows = append(d.Rows, r)
			if s.MultiLabel {
				d.Targets = append(d.Targets, s.Target(i))
			} else {
				d.Labels = append(d.Labels, s.Items[i].Label)
			}
		}
	}
	return d, nil
}

// candidates lists the layers to train a head on for the Layer option
// asked: the pool first, which wins ties.
func candidates(layer string, lastConv, validated bool) []string {
	switch {
	case layer != LayerAuto:
		return []string{layer}
	case !lastConv:
		// Without last_conv the features are the pool.
		return []string{LayerFeatures}
	case !validated:
		return []string{LayerFeatures}
	}
	return []string{LayerPooled, LayerFeatures}
}

// columns returns d with each row cut to columns [from, to) (sharing the
// rows' memory).
func columns(d head.Dataset, from, to int) head.Dataset {
	if len(d.Rows) == 0 || (from == 0 && to == len(d.Rows[0])) {
		return d
	}
	rows := make([][]float32, len(d.Rows))
	for i, r := range d.Rows {
		rows[i] = r[from:to:to]
	}
	d.Rows = rows
	return d
}

// newVersion builds the manifest and tensors of the fine-tuned version:
// the base's backbone, the new fc, the data set's classes.
func newVersion(bm zoo.Manifest, tensors map[string]arch.Tensor, hr *head.Result, classes []string, multiLabel bool, opt Options) (zoo.Manifest, map[string]arch.Tensor, error) {
	a := bm.Arch
	a.Blocks = slices.Clone(a.Blocks)
	a.StrideList = slices.Clone(a.StrideList)
	a.ClassNum = hr.Classes
	a.MultiLabel = multiLabel
	nt := make(map[string]arch.Tensor, len(tensors))
	for k, v := range tensors {
		if k != "fc.weight" && k != "fc.bias" {
			nt[k] = v
		}
	}
	if opt.Layer == LayerPooled && a.UseLastConv {
		a.UseLastConv = false
		delete(nt, "last_conv.weight")
	}
	w, b := hr.FC()
	nt["fc.weight"] = arch.Tensor{Shape: []int{hr.Dim, hr.Classes}, Data: w}
	nt["fc.bias"] = arch.Tensor{Shape: []int{hr.Classes}, Data: b}
	if err := a.Check(nt); err != nil {
		return zoo.Manifest{}, nil, fmt.Errorf("finetune: the new head does not fit the architecture: %w", err)
	}
	dt := opt.DType
	if dt == "" {
		dt = bm.DType
	}
	m := zoo.Manifest{
		Name:       opt.Name,
		Version:    opt.Version,
		Arch:       a,
		Labels:     slices.Clone(classes),
		Preprocess: bm.Preprocess,
		DType:      dt,
		Source:     zoo.Source{Format: "finetune", Name: bm.Name + ":" + bm.Version, SHA256: bm.WeightsSHA256},
	}
	return m, nt, nil
}

package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lcnet/lcnet/finetune"
	"github.com/lcnet/lcnet/train/dataset"
	"github.com/lcnet/lcnet/train/head"
	"github.com/spf13/cobra"
)

type trainFlags struct {
	store, from, data, root, labels, val, name, version string
	valSplit, lr, weightDecay                           float64
	epochs, batch                                       int
	seed                                                uint64
	augment, layer, dtype, optimizer                    string
}

func (a *app) trainCmd() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train --from NAME[:VERSION] --data DIR --name NEW",
		Short: "Teach a zoo model new classes from labelled images",
		Long: `Train fine-tunes a new classifier head on a base model's frozen backbone and
stores the base's backbone with the new head as a new version of NEW.

--data is one of:
  - a directory in ImageFolder layout: one folder per class holding its images
    (class names are the folder names, sorted)
  - a directory holding labels.csv ("path,label1;label2" lines): a multi-label set
  - a PaddleClas list file "relative/path.jpg LABEL" with --root DIR (the
    directory the paths are relative to; default the list's directory) and
    --labels FILE (class names, one per line)
  - a .zip, .tar or .tar.gz archive of one of the above

Every image is decoded, preprocessed as the base model says and run through
the backbone once (once more per --augment), then the head is trained for
--epochs passes with Adam; the epoch with the best validation accuracy (of
equal ones, the lowest validation loss) is kept. Validation images come
from --val DIR, or are split off the training set (--val-split, 0 for
none). Images that do not decode are skipped and counted.

--layer features trains on the 1280-wide embedding the served fc reads;
--layer pooled trains on the backbone's global pool and drops last_conv from
the new model, which suits small bases trained for few classes (such as the
text-line orientation model) better. --layer auto (the default) trains a
head on each and keeps the one with the better validation accuracy (the
pool on a tie); without validation images it is features.

On success it prints NEW:VERSION on the first line and a summary on the
second; progress and one line per epoch go to stderr.`,
		Example: `  # An ImageFolder of photos, 20% held out for validation
  lcnet train --from PPLCNet_x1_0 --data ./flowers --name flowers

  # A PaddleClas list, a separate validation folder, flips and crops
  lcnet train --from PPLCNet_x1_0 --data train_list.txt --root ./images \
      --labels labels.txt --val ./val --augment flip,crop --name parts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.train(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "base model NAME[:VERSION] (required)")
	fl.StringVar(&f.data, "data", "", "training images: a directory, a list file or an archive (required)")
	fl.StringVar(&f.name, "name", "", "name of the new model (required)")
	fl.StringVar(&f.version, "version", "", "version to create (default: the next number)")
	fl.StringVar(&f.root, "root", "", "with a list file: the directory its paths are relative to")
	fl.StringVar(&f.labels, "labels", "", "with a list file: class names, one per line")
	fl.StringVar(&f.val, "val", "", "validation images (same layouts as --data)")
	fl.Float64Var(&f.valSplit, "val-split", 0.2, "fraction of --data held out for validation without --val; 0 for none")
	fl.IntVar(&f.epochs, "epochs", 30, "passes over the training set")
	fl.Float64Var(&f.lr, "lr", 0, "learning rate (default 1e-3 with adam, 1e-2 with sgd)")
	fl.IntVar(&f.batch, "batch", 32, "mini-batch size")
	fl.Float64Var(&f.weightDecay, "weight-decay", 0, "weight decay on the head's weights")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the initialisation, shuffling, split and crops")
	fl.StringVar(&f.augment, "augment", "", "extra training rows per image: flip, crop or flip,crop")
	fl.StringVar(&f.layer, "layer", finetune.LayerAuto, "backbone output to train on: auto (the better on validation), features or pooled")
	fl.StringVar(&f.dtype, "dtype", "", "weight storage of the new model: fp32 or fp16 (default: the base's)")
	fl.StringVar(&f.optimizer, "optimizer", head.Adam, "adam or sgd")
	a.storeFlag(cmd, &f.store)
	return cmd
}

func (a *app) train(cmd *cobra.Command, f trainFlags) error {
	switch {
	case f.from == "":
		return usagef("--from is required: the zoo model to start from (see 'lcnet zoo list')")
	case f.data == "":
		return usagef("--data is required: a folder with one subfolder of images per class")
	case f.name == "":
		return usagef("--name is required: the name of the new model")
	case f.val != "" && cmd.Flags().Changed("val-split"):
		return usagef("--val and --val-split both given: use one way to validate")
	}
	opt := finetune.Options{
		Name: f.name, Version: f.version, Layer: f.layer,
		Head: head.Options{Epochs: f.epochs, LR: f.lr, Batch: f.batch, WeightDecay: f.weightDecay, Seed: f.seed, Optimizer: f.optimizer},
	}
	if f.val == "" {
		opt.ValSplit = f.valSplit
	}
	if f.augment != "" {
		opt.Augment = strings.Split(f.augment, ",")
	}
	if f.dtype != "" {
		dt, err := parseDType(f.dtype)
		if err != nil {
			return err
		}
		opt.DType = dt
	}
	ctx := cmd.Context()
	z, err := openZoo(ctx, f.store)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "lcnet-train-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	opt.CacheDir = tmp
	train, err := openData(cmd, "--data", f.data, f.root, f.labels, filepath.Join(tmp, "data"))
	if err != nil {
		return err
	}
	var val *dataset.Set
	if f.val != "" {
		if val, err = openData(cmd, "--val", f.val, "", f.labels, filepath.Join(tmp, "val")); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stderr, "%d training images in %d classes", len(train.Items), len(train.Classes))
	if train.Skipped > 0 {
		fmt.Fprintf(a.stderr, " (%d other files skipped)", train.Skipped)
	}
	fmt.Fprintln(a.stderr)
	bar := newProgressBar(a.stderr, "extracting features")
	bar.count = "images"
	opt.Progress = func(p finetune.Progress) {
		switch p.Stage {
		case finetune.StageExtract:
			bar.Update(int64(p.Done), int64(p.Total))
		case finetune.StageTrain:
			bar.Done()
			writeEpoch(a.stderr, p.Layer, p.Epoch, opt.Head.Epochs)
		}
	}
	res, err := finetune.Run(ctx, z, f.from, train, val, opt)
	bar.Done()
	if err != nil {
		return trainError(err)
	}
	m := res.Manifest
	lin := m.Lineage
	fmt.Fprintf(a.stdout, "%s:%s\n", m.Name, m.Version)
	fmt.Fprintf(a.stdout, "%d classes from %s:%s, best epoch %d of %d: train accuracy %s, val accuracy %s; %d images (%d skipped), features %v, training %v\n",
		m.Arch.ClassNum, lin.BaseName, lin.BaseVersion, lin.BestEpoch, lin.Epochs, percent(lin.TrainAccuracy), percent(lin.ValAccuracy),
		res.TrainImages+res.ValImages, res.Skipped, res.ExtractTime.Round(time.Millisecond), res.TrainTime.Round(time.Millisecond))
	return nil
}

func writeEpoch(w io.Writer, layer string, st head.EpochStats, total int) {
	val := percent(st.ValAccuracy)
	if st.ValLoss >= 0 {
		val += fmt.Sprintf(" (loss %.4f)", st.ValLoss)
	}
	fmt.Fprintf(w, "%-8s epoch %*d/%d  loss %.4f  train %s  val %s\n", layer, len(fmt.Sprint(total)), st.Epoch, total, st.TrainLoss, percent(st.TrainAccuracy), val)
}

// percent prints an accuracy; a negative one means "not measured".
func percent(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*v)
}

// trainError turns the errors a user causes with the data or the flags
// into usage errors that say what to change.
func trainError(err error) error {
	switch {
	case errors.Is(err, finetune.ErrOption), errors.Is(err, head.ErrOption):
		return usageError{err}
	case errors.Is(err, head.ErrDiverged):
		return fmt.Errorf("%w (try --lr smaller by 10x)", err)
	case errors.Is(err, dataset.ErrSplit):
		return fmt.Errorf("%w (give --val DIR, or --val-split 0 to train without validation)", err)
	}
	return err
}

// openData opens a data set argument: a directory, a list file (with root
// and labels) or an archive, which is extracted into dst.
func openData(cmd *cobra.Command, flag, data, root, labels, dst string) (*dataset.Set, error) {
	st, err := os.Stat(data)
	if err != nil {
		return nil, usagef("%s %s: %v", flag, data, errors.Unwrap(err))
	}
	var s *dataset.Set
	switch {
	case st.IsDir():
		s, err = dataset.Open(os.DirFS(data))
	case strings.EqualFold(filepath.Ext(data), ".txt"):
		s, err = openList(data, root, labels)
	default:
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		s, _, err = finetune.OpenArchive(cmd.Context(), data, dst, dataset.Limits{})
	}
	if err != nil {
		what := "want a folder per class, labels.csv, or a list file with --root"
		if errors.Is(err, dataset.ErrArchive) {
			what = "want a .zip, .tar or .tar.gz"
		}
		return nil, fmt.Errorf("%s %s: %w (%s)", flag, data, err, what)
	}
	return s, nil
}

// The names a list file and its labels take inside the data set's FS.
const (
	listName   = ".lcnet-list"
	labelsName = ".lcnet-labels"
)

// openList reads a PaddleClas list whose paths are relative to root
// (default: the list's directory); list and labels may live anywhere.
func openList(list, root, labels string) (*dataset.Set, error) {
	if root == "" {
		root = filepath.Dir(list)
	}
	extra := map[string]string{listName: list}
	labelsArg := ""
	if labels != "" {
		extra[labelsName] = labels
		labelsArg = labelsName
	}
	return dataset.ReadList(overlay{FS: os.DirFS(root), extra: extra}, listName, labelsArg)
}

// overlay is an FS with a few extra files taken from elsewhere.
type overlay struct {
	fs.FS
	extra map[string]string
}

func (o overlay) Open(name string) (fs.File, error) {
	if p, ok := o.extra[name]; ok {
		return os.Open(p)
	}
	return o.FS.Open(name)
}

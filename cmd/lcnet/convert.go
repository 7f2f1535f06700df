package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/zoo"
)

func (a *app) convertCmd() *cobra.Command {
	var (
		store, name, version, dtype, labelsFile, configFile, decode string
	)
	cmd := &cobra.Command{
		Use:   "convert SOURCE --name NAME [--config TRAIN.yaml]",
		Short: "Convert a PaddlePaddle checkpoint into a new zoo version",
		Long: `Convert reads a PaddlePaddle PP-LCNet checkpoint and stores it in the zoo
as a new immutable version NAME:VERSION.

SOURCE may be:
  - a dygraph checkpoint (model.pdparams, as paddle.save writes it)
  - a Paddle 3 inference model directory (inference.json + inference.pdiparams
    [+ inference.yml]) or its inference.json
  - a Paddle 2 inference model directory (inference.pdmodel + inference.pdiparams)
  - a .tar or .tar.gz of an inference model directory, as PaddleX ships them

An inference model states its architecture (scale, strides, classes, last
conv) in its program. A dygraph .pdparams holds weights only: its widths and
classes show in the tensor shapes, but its strides and input size do not.
Give such a checkpoint the PaddleClas / PaddleX training config it was
trained with (--config, the YAML tools/train.py took with -c): lcnet reads
Arch (name, class_num, stride_list, use_last_conv, class_expand,
dropout_prob), Global.image_shape and use_multilabel, and Infer.transforms,
and refuses a config whose network does not fit the tensors. Without one it
assumes PaddleClas' ImageNet defaults (stride 2 everywhere, 224x224) and
says so.

Labels and preprocessing come from inference.yml (or the config) when
present; --labels overrides the labels: PaddleClas' class_id_map_file form
("0 0_degree", numbers covering 0..K-1) or one class name per line, where a
blank line inside the list is an error. Weights are kept as fp32 unless
--dtype fp16.

On success it prints NAME:VERSION on the first line and a summary on the second.`,
		Example: `  # A PaddleClas dygraph checkpoint, labels from a PaddleClas label list
  lcnet convert PPLCNet_x1_0_pretrained.pdparams --name imagenet --labels imagenet1k_label_list.txt

  # A fine-tuned PULC text-line model: weights plus the config it was trained with
  lcnet convert output/best_model/model.pdparams -c ppcls/configs/PULC/textline_orientation/PPLCNet_x1_0.yaml \
    --name textline --labels ppcls/utils/PULC_label_list/textline_orientation_label_list.txt

  # A PaddleX inference model, stored in half precision as version "2025-01"
  lcnet convert PP-LCNet_x1_0_doc_ori_infer.tar --name doc-ori --version 2025-01 --dtype fp16

  # Into another store
  lcnet convert ./inference --name textline --store /var/lib/lcnet`,
		Args: exactArgs(1, "one SOURCE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return usagef("--name is required")
			}
			dt, err := parseDType(dtype)
			if err != nil {
				return err
			}
			mode, err := parseDecode(decode)
			if err != nil {
				return err
			}
			var labels []string
			if labelsFile != "" {
				if labels, err = readLabels(labelsFile); err != nil {
					return err
				}
			}
			var cfg *convert.Config
			if configFile != "" {
				if cfg, err = readConfig(configFile); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			z, err := openZoo(ctx, store)
			if err != nil {
				return err
			}
			bar := newProgressBar(a.stderr, "reading "+filepath.Base(args[0]))
			ck, err := convert.Read(ctx, args[0], convert.ReadOptions{Progress: bar.Update})
			bar.Done()
			if err != nil {
				return err
			}
			m, err := convert.Import(ctx, z, ck, convert.ImportOptions{Name: name, Version: version, DType: dt, Labels: labels, Config: cfg, Decode: string(mode)})
			if err != nil {
				return err
			}
			if m.Source.Arch == zoo.ArchDefault {
				fmt.Fprintln(a.stderr, noConfigNote)
			}
			if cfg != nil && cfg.ClassIDMapFile != "" && len(m.Labels) == 0 {
				fmt.Fprintf(a.stderr, "no labels: the config names them in %s; convert again with --labels FILE to name the classes\n", cfg.ClassIDMapFile)
			}
			fmt.Fprintf(a.stdout, "%s:%s\n%s\n", m.Name, m.Version, summary(m))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "zoo model name (required)")
	f.StringVar(&version, "version", "", "version to create (default: the next number)")
	f.StringVar(&dtype, "dtype", "fp32", "weight storage type: fp32 or fp16")
	f.StringVar(&labelsFile, "labels", "", `class names: "N name" lines (PaddleClas' class_id_map_file) or one per line`)
	f.StringVarP(&configFile, "config", "c", "", "PaddleClas / PaddleX training config (YAML) of a .pdparams: strides, input size, preprocessing")
	f.StringVar(&decode, "decode", "", "JPEG decoding stored in the manifest: exact (every pixel, as PaddleClas) or fast (1/2-1/8 size when the resize shrinks that much); default: the server's --decode")
	a.storeFlag(cmd, &store)
	return cmd
}

// parseDecode checks a --decode flag.
func parseDecode(s string) (imaging.DecodeMode, error) {
	m, err := imaging.ParseDecodeMode(strings.ToLower(s))
	if err != nil {
		return "", usagef("--decode %q: want exact or fast", s)
	}
	return m, nil
}

func parseDType(s string) (zoo.DType, error) {
	switch strings.ToLower(s) {
	case "fp32", "float32", "":
		return zoo.FP32, nil
	case "fp16", "float16", "half":
		return zoo.FP16, nil
	}
	return "", usagef("--dtype %q: want fp32 or fp16", s)
}

// readLabels reads a --labels file: PaddleClas' "N name" lines or one
// name per line (see convert.ReadLabels).
func readLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	labels, err := convert.ReadLabels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return labels, nil
}

// readConfig reads a --config training config.
func readConfig(path string) (*convert.Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := convert.ReadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// noConfigNote is what convert says when a dygraph checkpoint gets the
// ImageNet defaults, which its weights cannot confirm.
const noConfigNote = "no config: assuming strides 2,2,2,2,2 and 224x224; pass --config to convert a model trained with other strides or input size"

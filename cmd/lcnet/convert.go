package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/convert"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/zoo"
)

func (a *app) convertCmd() *cobra.Command {
	var (
		store, name, version, dtype, labelsFile, decode string
	)
	cmd := &cobra.Command{
		Use:   "convert SOURCE --name NAME",
		Short: "Convert a PaddlePaddle checkpoint into a new zoo version",
		Long: `Convert reads a PaddlePaddle PP-LCNet checkpoint and stores it in the zoo
as a new immutable version NAME:VERSION.

SOURCE may be:
  - a dygraph checkpoint (model.pdparams, as paddle.save writes it)
  - a Paddle 3 inference model directory (inference.json + inference.pdiparams
    [+ inference.yml]) or its inference.json
  - a Paddle 2 inference model directory (inference.pdmodel + inference.pdiparams)
  - a .tar or .tar.gz of an inference model directory, as PaddleX ships them

The architecture (scale, strides, classes, last conv) is read from the
checkpoint; labels and preprocessing come from inference.yml when present,
from --labels otherwise (one class name per line, optionally prefixed with its
index as in PaddleClas label lists). Weights are kept as fp32 unless --dtype fp16.

On success it prints NAME:VERSION on the first line and a summary on the second.`,
		Example: `  # A PaddleClas dygraph checkpoint, labels from a PaddleClas label list
  lcnet convert PPLCNet_x1_0_pretrained.pdparams --name imagenet --labels imagenet1k_label_list.txt

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
			m, err := convert.Import(ctx, z, ck, convert.ImportOptions{Name: name, Version: version, DType: dt, Labels: labels, Decode: string(mode)})
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s:%s\n%s\n", m.Name, m.Version, summary(m))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "zoo model name (required)")
	f.StringVar(&version, "version", "", "version to create (default: the next number)")
	f.StringVar(&dtype, "dtype", "fp32", "weight storage type: fp32 or fp16")
	f.StringVar(&labelsFile, "labels", "", "class names, one per line")
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

// readLabels reads one class name per line. PaddleClas label lists write
// "0 tench, Tinca tinca"; when every line starts with its own index the
// index is dropped.
func readLabels(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("labels %s: no class names", path)
	}
	indexed := true
	for i, l := range lines {
		idx, _, ok := strings.Cut(l, " ")
		if n, err := strconv.Atoi(idx); !ok || err != nil || n != i {
			indexed = false
			break
		}
	}
	if indexed {
		for i, l := range lines {
			_, rest, _ := strings.Cut(l, " ")
			lines[i] = strings.TrimSpace(rest)
		}
	}
	return lines, nil
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/zoo"
)

func (a *app) zooCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "zoo",
		Short: "List, show and remove the models in the store",
		Long: `The zoo holds named models, each with immutable versions (1, 2, ... or
names you chose). NAME alone means the newest version.`,
		Example: `  lcnet zoo list
  lcnet zoo show PPLCNet_x1_0
  lcnet zoo show textline:2 --json
  lcnet zoo rm textline:1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			if err := cmd.Help(); err != nil {
				return err
			}
			return usagef("want a subcommand: list, show or rm")
		},
	}
	cmd.AddCommand(a.zooListCmd(), a.zooShowCmd(), a.zooRmCmd())
	return cmd
}

// modelRow is one line of `zoo list --json`.
type modelRow struct {
	Name     string   `json:"name"`
	Latest   string   `json:"latest"`
	Versions []string `json:"versions"`
	Classes  int      `json:"classes"`
	Input    string   `json:"input"`
	DType    string   `json:"dtype"`
	Params   int      `json:"params"`
	Size     int64    `json:"weights_size"`
	Created  string   `json:"created_at"`
}

func (a *app) zooListCmd() *cobra.Command {
	var store string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the models in the store",
		Long: `List prints one row per model: its newest version, every version, and
the newest version's classes, input size, weight type, parameters and size.`,
		Example: `  lcnet zoo list
  lcnet zoo list --store /var/lib/lcnet --json`,
		Aliases: []string{"ls"},
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			z, err := openZoo(ctx, store)
			if err != nil {
				return err
			}
			models, err := z.Models(ctx)
			if err != nil {
				return err
			}
			rows := make([]modelRow, 0, len(models))
			for _, mi := range models {
				if len(mi.Versions) == 0 {
					continue
				}
				latest := mi.Versions[len(mi.Versions)-1]
				for _, v := range mi.Versions {
					if v.Version == mi.Latest {
						latest = v
					}
				}
				r := modelRow{
					Name: mi.Name, Latest: latest.Version,
					Classes: latest.Arch.ClassNum, Input: inputSize(latest), DType: string(latest.DType),
					Params: latest.Params, Size: latest.WeightsSize, Created: latest.CreatedAt.UTC().Format(time.RFC3339),
				}
				for _, v := range mi.Versions {
					r.Versions = append(r.Versions, v.Version)
				}
				rows = append(rows, r)
			}
			if asJSON {
				return writeJSON(a.stdout, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintf(a.stderr, "The zoo in %s is empty. Add a model with 'lcnet pull PPLCNet_x1_0' or 'lcnet convert FILE --name NAME'.\n", store)
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tLATEST\tVERSIONS\tCLASSES\tINPUT\tDTYPE\tPARAMS\tSIZE\tCREATED")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Latest, strings.Join(r.Versions, ","),
					r.Classes, r.Input, r.DType, humanCount(r.Params), humanBytes(r.Size), r.Created)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	a.storeFlag(cmd, &store)
	return cmd
}

func (a *app) zooShowCmd() *cobra.Command {
	var store string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show NAME[:VERSION]",
		Short: "Show one model version's manifest",
		Example: `  lcnet zoo show PPLCNet_x1_0
  lcnet zoo show textline:2 --json`,
		Args: exactArgs(1, "one NAME[:VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, m, err := resolveRef(cmd.Context(), store, args[0], "")
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, m)
			}
			showManifest(a.stdout, m)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the manifest as JSON")
	a.storeFlag(cmd, &store)
	return cmd
}

func showManifest(w io.Writer, m zoo.Manifest) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ar := m.Arch
	p := m.Preprocess
	fmt.Fprintf(tw, "Model:\t%s:%s\n", m.Name, m.Version)
	fmt.Fprintf(tw, "Created:\t%s\n", m.CreatedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "Source:\t%s %s (sha256 %s)\n", m.Source.Format, m.Source.Name, m.Source.SHA256)
	fmt.Fprintf(tw, "Architecture:\tPP-LCNet x%s, %d blocks, strides %s, last conv %v (%d), dropout %g\n",
		scaleString(ar.Scale), len(ar.Blocks), strides(ar), ar.UseLastConv, ar.ClassExpand, ar.DropoutProb)
	// A default architecture was assumed, not read: say so where the
	// user looks when a model answers oddly.
	switch m.Source.Arch {
	case zoo.ArchDefault:
		fmt.Fprintf(tw, "Arch from:\tImageNet defaults (a checkpoint without --config: strides and input size assumed)\n")
	case "":
	default:
		fmt.Fprintf(tw, "Arch from:\t%s\n", m.Source.Arch)
	}
	if ar.MultiLabel {
		fmt.Fprintf(tw, "Classes:\t%d, multi-label (sigmoid per label, positive at %g)\n", ar.ClassNum, m.DecisionThreshold())
	} else {
		fmt.Fprintf(tw, "Classes:\t%d\n", ar.ClassNum)
	}
	fmt.Fprintf(tw, "Input:\t%s\n", inputSize(m))
	fmt.Fprintf(tw, "Parameters:\t%s (%d)\n", humanCount(m.Params), m.Params)
	fmt.Fprintf(tw, "Weights:\t%s, %s, %s, sha256 %s\n", m.WeightsFile, m.DType, humanBytes(m.WeightsSize), m.WeightsSHA256)
	var pre []string
	if p.ResizeShort > 0 {
		pre = append(pre, fmt.Sprintf("resize short side to %d", p.ResizeShort))
	}
	if p.ResizeWidth > 0 && p.ResizeHeight > 0 {
		pre = append(pre, fmt.Sprintf("resize to %dx%d", p.ResizeHeight, p.ResizeWidth))
	}
	if p.CropWidth > 0 && p.CropHeight > 0 {
		pre = append(pre, fmt.Sprintf("center-crop %dx%d", p.CropHeight, p.CropWidth))
	}
	pre = append(pre, fmt.Sprintf("%s, scale %.6g, mean %v, std %v", p.ChannelOrder, p.Scale, p.Mean, p.Std))
	fmt.Fprintf(tw, "Preprocess:\t%s\n", strings.Join(pre, ", "))
	// Labels are quoted: ImageNet's contain commas themselves.
	quoted := func(ls []string) string {
		q := make([]string, len(ls))
		for i, l := range ls {
			q[i] = fmt.Sprintf("%q", l)
		}
		return strings.Join(q, ", ")
	}
	switch n := len(m.Labels); {
	case n == 0:
		fmt.Fprintf(tw, "Labels:\tnone (classes are reported as \"class N\")\n")
	case n <= 8:
		fmt.Fprintf(tw, "Labels:\t%s\n", quoted(m.Labels))
	default:
		fmt.Fprintf(tw, "Labels:\t%s, ... (%d in all)\n", quoted(m.Labels[:5]), n)
	}
	if l := m.Lineage; l != nil {
		h := l.Hyper
		fmt.Fprintf(tw, "Trained from:\t%s:%s (weights sha256 %s)\n", l.BaseName, l.BaseVersion, l.BaseWeightsSHA256)
		data := fmt.Sprintf("%d training images, %d validation images, sha256 %s", l.TrainImages, l.ValImages, l.DatasetSHA256)
		if l.ValDatasetSHA256 != "" {
			data += ", validation sha256 " + l.ValDatasetSHA256
		} else if h.ValSplit > 0 {
			data += fmt.Sprintf(" (%g split off for validation)", h.ValSplit)
		}
		fmt.Fprintf(tw, "Data:\t%s\n", data)
		aug := strings.Join(h.Augment, ",")
		if aug == "" {
			aug = "none"
		}
		layer := h.Layer
		if len(h.LayerScores) > 0 {
			// Chosen by validation: show what each layer scored.
			var tried []string
			for _, l := range slices.Sorted(maps.Keys(h.LayerScores)) {
				tried = append(tried, fmt.Sprintf("%s %s", l, percent(h.LayerScores[l])))
			}
			layer += " (auto: " + strings.Join(tried, ", ") + ")"
		}
		fmt.Fprintf(tw, "Training:\tlayer %s, %s lr %g, batch %d, weight decay %g, seed %d, augment %s, %d epochs\n",
			layer, h.Optimizer, h.LR, h.Batch, h.WeightDecay, h.Seed, aug, h.Epochs)
		fmt.Fprintf(tw, "Accuracy:\tbest epoch %d of %d: train %s, val %s\n", l.BestEpoch, l.Epochs, percent(l.TrainAccuracy), percent(l.ValAccuracy))
	}
	tw.Flush()
}

func (a *app) zooRmCmd() *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:     "rm NAME:VERSION",
		Short:   "Remove one model version",
		Long:    "Remove deletes one version. The version must be named: there is no \"remove the newest\".",
		Example: "  lcnet zoo rm textline:1",
		Aliases: []string{"delete"},
		Args:    exactArgs(1, "one NAME:VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, version, err := zoo.ParseRef(args[0])
			if err != nil {
				return usageError{err}
			}
			if version == "" || version == "latest" {
				return usagef("%q: name the version to remove, as NAME:VERSION", args[0])
			}
			ctx := cmd.Context()
			z, err := openZoo(ctx, store)
			if err != nil {
				return err
			}
			if err := z.Delete(ctx, name, version); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "removed %s:%s\n", name, version)
			return nil
		},
	}
	a.storeFlag(cmd, &store)
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

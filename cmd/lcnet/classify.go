package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lcnet/lcnet/api/client"
	"github.com/lcnet/lcnet/imaging"
	"github.com/lcnet/lcnet/nn"
	"github.com/lcnet/lcnet/zoo"
)

// prediction and imageResult are classify's --json output, per image.
type prediction struct {
	ClassID int     `json:"class_id"`
	Label   string  `json:"label"`
	Score   float64 `json:"score"`
	// Positive is set on multi-label models: Score >= the threshold.
	Positive *bool `json:"positive,omitempty"`
}

type imageResult struct {
	Image       string       `json:"image"`
	Predictions []prediction `json:"predictions"`
}

type classifyOutput struct {
	Model      string        `json:"model"`
	Version    string        `json:"version"`
	MultiLabel bool          `json:"multi_label,omitempty"`
	Threshold  float64       `json:"threshold,omitempty"`
	Results    []imageResult `json:"results"`
}

// classifyOptions are the flags both paths share; topK 0 and threshold
// below 0 mean the model's default.
type classifyOptions struct {
	topK, threads int
	threshold     float64
	mode          imaging.DecodeMode
}

func (a *app) classifyCmd() *cobra.Command {
	var (
		store, ref, server, apiKey, decode string
		topK, threads                      int
		threshold                          float64
		asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "classify IMAGE... --model NAME[:VERSION]",
		Short: "Classify images with a zoo model, locally or through a server",
		Long: `Classify decodes each image (JPEG, PNG, GIF, BMP, WebP or TIFF, with EXIF
orientation applied), preprocesses it as the model's manifest says, and
prints the top-k classes with their probabilities.

A multi-label model (one whose program ends in a sigmoid) scores every
label on its own: all labels are printed unless --top-k is given, and those
scoring at least the threshold (--threshold, else the model's, else 0.5) are
marked positive.

Without --server the model runs in this process from the local store. With
--server URL the images are sent to a running 'lcnet serve' instead (its
API key from --api-key or $LCNET_API_KEY).`,
		Example: `  lcnet classify cat.jpg dog.png --model PPLCNet_x1_0
  lcnet classify scan.png --model doc-ori:2 --top-k 1 --json
  lcnet classify line.png --model textline --server http://127.0.0.1:8080`,
		Args: minArgs(1, "at least one IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ref == "" {
				return usagef("--model is required")
			}
			if topK < 1 {
				return usagef("--top-k must be at least 1, got %d", topK)
			}
			mode, err := parseDecode(decode)
			if err != nil {
				return err
			}
			opts := classifyOptions{topK: topK, threads: threads, threshold: -1, mode: mode}
			if !cmd.Flags().Changed("top-k") {
				opts.topK = 0
			}
			if cmd.Flags().Changed("threshold") {
				if !(threshold >= 0 && threshold <= 1) {
					return usagef("--threshold must be from 0 to 1, got %g", threshold)
				}
				opts.threshold = threshold
			}
			ctx := cmd.Context()
			var out classifyOutput
			if server != "" {
				out, err = classifyRemote(ctx, server, apiKey, ref, args, opts)
			} else {
				out, err = classifyLocal(ctx, store, ref, args, opts)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.stdout, out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			if out.MultiLabel {
				fmt.Fprintf(tw, "multi-label, positive at score >= %g\n", out.Threshold)
				fmt.Fprintln(tw, "IMAGE\tRANK\tCLASS\tLABEL\tSCORE\tPOSITIVE")
			} else {
				fmt.Fprintln(tw, "IMAGE\tRANK\tCLASS\tLABEL\tSCORE")
			}
			for _, r := range out.Results {
				for i, p := range r.Predictions {
					fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%.4f", r.Image, i+1, p.ClassID, p.Label, p.Score)
					if p.Positive != nil {
						mark := "no"
						if *p.Positive {
							mark = "yes"
						}
						fmt.Fprintf(tw, "\t%s", mark)
					}
					fmt.Fprintln(tw)
				}
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "model", a.getenv("LCNET_DEFAULT_MODEL"), "model as NAME or NAME:VERSION (env LCNET_DEFAULT_MODEL)")
	f.IntVarP(&topK, "top-k", "k", 5, "classes to print per image (every label on a multi-label model)")
	f.Float64Var(&threshold, "threshold", 0.5, "multi-label models: score at which a label is positive (default: the model's)")
	f.StringVar(&server, "server", "", "classify through a running lcnet server at this URL")
	f.StringVar(&apiKey, "api-key", a.getenv("LCNET_API_KEY"), "API key for --server (env LCNET_API_KEY)")
	f.IntVar(&threads, "threads", 0, "worker threads when running locally (default: all cores)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	f.StringVar(&decode, "decode", "", "JPEG decoding: exact or fast (default: the model's manifest, else exact; with --server, the server's)")
	a.storeFlag(cmd, &store)
	return cmd
}

func classifyLocal(ctx context.Context, store, ref string, images []string, opts classifyOptions) (classifyOutput, error) {
	m, model, err := loadModel(ctx, store, ref, nn.Options{Threads: opts.threads})
	if err != nil {
		return classifyOutput{}, err
	}
	defer model.Close()
	pre, err := imaging.NewPreprocessor(m.Preprocess)
	if err != nil {
		return classifyOutput{}, fmt.Errorf("model %s:%s: %w", m.Name, m.Version, err)
	}
	out := classifyOutput{Model: m.Name, Version: m.Version}
	topK := opts.topK
	if m.Arch.MultiLabel {
		out.MultiLabel, out.Threshold = true, opts.threshold
		if out.Threshold < 0 {
			out.Threshold = m.DecisionThreshold()
		}
		if topK == 0 {
			topK = m.Arch.ClassNum
		}
	} else if opts.threshold >= 0 {
		return classifyOutput{}, usagef("--threshold applies to multi-label models; %s:%s scores classes with a softmax", m.Name, m.Version)
	}
	if topK == 0 {
		topK = 5
	}
	var buf []float32
	for _, path := range images {
		data, err := os.ReadFile(path)
		if err != nil {
			return classifyOutput{}, err
		}
		x, h, w, err := pre.PreprocessEncoded(ctx, data, imaging.DecodeOptions{Mode: opts.mode, Parallel: true}, buf)
		if err != nil {
			return classifyOutput{}, fmt.Errorf("%s: %w", path, err)
		}
		buf = x
		res, err := model.Infer(ctx, x, 1, h, w)
		if err != nil {
			return classifyOutput{}, fmt.Errorf("%s: %w", path, err)
		}
		probs := res.Probabilities[:res.Classes]
		if c := slices.IndexFunc(probs, func(p float32) bool { return p != p }); c >= 0 {
			return classifyOutput{}, fmt.Errorf("%s: %s:%s computed NaN for class %d", path, m.Name, m.Version, c)
		}
		ps := topPredictions(probs, m.Labels, topK)
		if out.MultiLabel {
			for i := range ps {
				pos := ps[i].Score >= out.Threshold
				ps[i].Positive = &pos
			}
		}
		out.Results = append(out.Results, imageResult{Image: path, Predictions: ps})
	}
	return out, nil
}

// topPredictions returns the k most probable classes, highest first (ties
// by class id, so output is stable).
func topPredictions(probs []float32, labels []string, k int) []prediction {
	idx := make([]int, len(probs))
	for i := range idx {
		idx[i] = i
	}
	// cmp.Compare is a total order with NaN last.
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(probs[b], probs[a]) })
	k = min(k, len(idx))
	ps := make([]prediction, k)
	for i, c := range idx[:k] {
		ps[i] = prediction{ClassID: c, Label: label(labels, c), Score: float64(probs[c])}
	}
	return ps
}

// classifyRemote sends the images in one request to a running server,
// through api/client (the wire types the server uses).
func classifyRemote(ctx context.Context, server, apiKey, ref string, images []string, opts classifyOptions) (classifyOutput, error) {
	name, version, err := zoo.ParseRef(ref)
	if err != nil {
		return classifyOutput{}, usageError{fmt.Errorf("--model: %w", err)}
	}
	c, err := client.New(server, &http.Client{Timeout: 5 * time.Minute})
	if err != nil {
		return classifyOutput{}, usageError{fmt.Errorf("--server: %w", err)}
	}
	c.APIKey, c.Decode = apiKey, string(opts.mode)
	bodies := make([][]byte, len(images))
	for i, path := range images {
		if bodies[i], err = os.ReadFile(path); err != nil {
			return classifyOutput{}, err
		}
	}
	if version == "latest" {
		version = ""
	}
	co := client.ClassifyOptions{TopK: opts.topK}
	if opts.threshold >= 0 {
		co.Threshold = &opts.threshold
	}
	resp, err := c.ClassifyWith(ctx, name, version, bodies, co)
	if err != nil {
		return classifyOutput{}, fmt.Errorf("%s: %w", server, err)
	}
	if len(resp.Results) != len(images) {
		return classifyOutput{}, fmt.Errorf("%s: %d results for %d images", server, len(resp.Results), len(images))
	}
	out := classifyOutput{Model: resp.Model, Version: resp.Version, MultiLabel: resp.MultiLabel, Threshold: resp.Threshold}
	for i, r := range resp.Results {
		ir := imageResult{Image: images[i]}
		for _, p := range r.Predictions {
			ir.Predictions = append(ir.Predictions, prediction{ClassID: p.ClassID, Label: p.Label, Score: p.Score, Positive: p.Positive})
		}
		out.Results = append(out.Results, ir)
	}
	return out, nil
}
